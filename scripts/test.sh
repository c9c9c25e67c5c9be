#!/usr/bin/env bash
# The whole test suite against a throwaway PostgreSQL and Redis on loopback.
# Installs Debian's postgresql, redis-server, chromium and libfaketime when absent.
# Extra arguments go to pytest (e.g. scripts/test.sh alerts -x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-dev.txt
eval "$(sed -n '/^apt_install()/,/^}/p' scripts/bootstrap.sh)"
command -v chromium >/dev/null || apt_install chromium fonts-dejavu-core
# The SSRF pinning test makes a throwaway TLS certificate with openssl.
command -v openssl >/dev/null || apt_install openssl
# The beat fault test moves the wall clock of real beat and worker processes through a week.
apt_install libfaketime
# Tests trade durability for speed; the fault and benchmark runs do not.
export PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
source scripts/services.sh
export SECRET_KEY="test-secret-key-not-for-production" DEBUG=false SECURE_SSL_REDIRECT=false SECURE_COOKIES=false
export ALLOWED_HOSTS="testserver,127.0.0.1,localhost"
export ARTIFACTS_DIR="${ARTIFACTS_DIR:-$(pwd)/artifacts}"
mkdir -p "$ARTIFACTS_DIR"
.venv/bin/python manage.py collectstatic --noinput -v0
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
exit $status

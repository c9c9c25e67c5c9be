#!/usr/bin/env bash
# The fast lane: the core tests without Chromium, real Celery workers, libfaketime, the fault
# suite or tests marked slow, on two pytest-xdist workers, against a PostgreSQL and Redis on
# loopback. The PostgreSQL cluster is kept in .tmp/services-fast between runs, so the test
# databases are reused and only new migrations are applied (`--create-db` starts them afresh).
# For the edit-test loop; CI runs the whole suite (scripts/test.sh). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-dev.txt
export SERVICES_DIR="${SERVICES_DIR:-$(pwd)/.tmp/services-fast}"
export PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
source scripts/services.sh
export SECRET_KEY="test-secret-key-not-for-production" DEBUG=false SECURE_SSL_REDIRECT=false SECURE_COOKIES=false
export ALLOWED_HOSTS="testserver,127.0.0.1,localhost"
export ARTIFACTS_DIR="${ARTIFACTS_DIR:-$(pwd)/artifacts}"
mkdir -p "$ARTIFACTS_DIR"
.venv/bin/python manage.py collectstatic --noinput -v0
set +e
.venv/bin/python -m pytest -n "${FAST_WORKERS:-2}" -m "not browser and not worker and not faults and not slow" "$@"
status=$?
set -e
exit $status

#!/usr/bin/env bash
# Benchmarks under bench/ against a throwaway PostgreSQL (durable settings) and Redis.
# Usage: scripts/bench.sh              -> every bench/bench_*.py
#        scripts/bench.sh bench/bench_webhooks.py [args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-dev.txt
source scripts/services.sh
export SECRET_KEY="bench-secret-key" DEBUG=false SECURE_SSL_REDIRECT=false SECURE_COOKIES=false
export ALLOWED_HOSTS="testserver,127.0.0.1,localhost" DJANGO_SETTINGS_MODULE=branchberg.settings
"${as_pg[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres branchberg
.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py collectstatic --noinput -v0
if [ $# -gt 0 ]; then
  .venv/bin/python "$@"
else
  for bench in bench/bench_*.py; do echo "==> $bench"; .venv/bin/python "$bench"; done
fi

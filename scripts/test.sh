#!/usr/bin/env bash
# The whole test suite against a throwaway PostgreSQL and Redis on loopback.
# Installs Debian's postgresql, redis-server and chromium when absent. Extra
# arguments go to pytest (e.g. scripts/test.sh revenue -x).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
scripts/bootstrap.sh requirements-dev.txt
source_apt() { sed -n '/^apt_install()/,/^}/p' scripts/bootstrap.sh; }
eval "$(source_apt)"
command -v redis-server >/dev/null || apt_install redis-server
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
command -v chromium >/dev/null || apt_install chromium fonts-dejavu-core
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"

work="$(mktemp -d /tmp/branchberg-test.XXXXXX)"
chmod 755 "$work"
free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pg_port="$(free_port)"; redis_port="$(free_port)"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  chown postgres "$work"
  as_pg=(runuser -u postgres --)
fi
cleanup() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port"
"${as_pg[@]}" "$pg_bin/initdb" -D "$work/pg" -A trust -U postgres --no-sync -E UTF8 >/dev/null
pg_opts="-p $pg_port -k $work -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -o "$pg_opts" -l "$work/pg.log" -w start >/dev/null
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --pidfile "$work/redis.pid" --logfile "$work/redis.log" --dir "$work"

export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/branchberg"
export TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
export TEST_PG_CTL="$pg_bin/pg_ctl" TEST_PG_DATA="$work/pg" TEST_PG_OPTS="$pg_opts" TEST_PG_LOG="$work/pg.log"
export TEST_PG_AS="${as_pg[*]}" TEST_WORK_DIR="$work"
export SECRET_KEY="test-secret-key-not-for-production" DEBUG=false SECURE_SSL_REDIRECT=false
export ALLOWED_HOSTS="testserver,127.0.0.1,localhost"
export ARTIFACTS_DIR="${ARTIFACTS_DIR:-$root/artifacts}"
mkdir -p "$ARTIFACTS_DIR"
.venv/bin/python manage.py collectstatic --noinput -v0
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
exit $status

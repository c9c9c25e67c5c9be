# Sourced by scripts/test.sh and scripts/bench.sh: a throwaway PostgreSQL and Redis on
# loopback (installed from Debian when missing), stopped and deleted on exit.
set -euo pipefail
eval "$(sed -n '/^apt_install()/,/^}/p' scripts/bootstrap.sh)"
command -v redis-server >/dev/null || apt_install redis-server
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"

# SERVICES_DIR keeps the PostgreSQL cluster between runs (the fast lane: pytest --reuse-db then skips
# creating the test databases and applies only new migrations); otherwise a fresh one is deleted on exit.
if [ -n "${SERVICES_DIR:-}" ]; then
  mkdir -p "$SERVICES_DIR"; work="$(cd "$SERVICES_DIR" && pwd)"; keep_work=1
else
  work="$(mktemp -d /tmp/branchberg-svc.XXXXXX)"; keep_work=0
fi
chmod 755 "$work"
free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pg_port="$(free_port)"; redis_port="$(free_port)"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  chown postgres "$work"
  as_pg=(runuser -u postgres --)
fi
services_stop() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  if [ "$keep_work" -eq 0 ]; then rm -rf "$work"; fi
}
trap services_stop EXIT

echo "==> PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port"
if [ ! -f "$work/pg/PG_VERSION" ]; then
  "${as_pg[@]}" "$pg_bin/initdb" -D "$work/pg" -A trust -U postgres --no-sync -E UTF8 >/dev/null
fi
pg_opts="-p $pg_port -k $work -c listen_addresses=127.0.0.1 -c max_connections=200 ${PG_EXTRA_OPTS:-}"
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -o "$pg_opts" -l "$work/pg.log" -w start >/dev/null
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --pidfile "$work/redis.pid" --logfile "$work/redis.log" --dir "$work"

export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/branchberg"
# The owner (postgres) creates the test database and runs migrations; the app role is what web and
# worker connect as in production (README "Database roles"): migrations grant it what it needs.
"$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
  -c "SELECT 1 FROM pg_roles WHERE rolname = 'branchberg_app'" -t | grep -q 1 ||
"$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE branchberg_app LOGIN PASSWORD 'branchberg_app'" >/dev/null
export DATABASE_APP_ROLE="branchberg_app"
export TEST_APP_DATABASE_URL="postgres://branchberg_app:branchberg_app@127.0.0.1:$pg_port/branchberg"
export TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
export TEST_PG_CTL="$pg_bin/pg_ctl" TEST_PG_DATA="$work/pg" TEST_PG_OPTS="$pg_opts" TEST_PG_LOG="$work/pg.log"
export TEST_PG_AS="${as_pg[*]}" TEST_WORK_DIR="$work" TEST_PG_PORT="$pg_port" TEST_REDIS_PORT="$redis_port"

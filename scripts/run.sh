#!/usr/bin/env bash
# Zero-setup run: SQLite, tasks inline, demo data for both entities, an admin login printed
# when the admin is created (later runs keep its password; --reset-admin-password prints a new one).
set -euo pipefail
reset_admin=()
for arg in "$@"; do
  case "$arg" in
    --reset-admin-password) reset_admin=(--reset-password) ;;
    *) echo "usage: scripts/run.sh [--reset-admin-password]" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements.txt
export DEBUG="${DEBUG:-true}"
export PORT="${PORT:-8000}"
py=.venv/bin/python
$py manage.py migrate --noinput
$py manage.py setup_periodic_tasks
$py manage.py seed_demo --if-empty
$py manage.py ensure_demo_admin "${reset_admin[@]}"
# The periodic work (summaries at 06:00 Central, alerts, outbox sweep, exchange rates): Celery beat and a
# worker in one background process, through a folder instead of Redis; the web process runs tasks inline.
broker="$(pwd)/.tmp/broker"
mkdir -p "$broker"
export_broker=(env CELERY_BROKER_URL="filesystem://" CELERY_BROKER_FOLDER="$broker")
"${export_broker[@]}" .venv/bin/celery -A branchberg worker --beat \
  --pool=solo --without-mingle --without-gossip --without-heartbeat --loglevel=WARNING \
  --logfile "$(pwd)/.tmp/periodic.log" &
periodic=$!
trap 'kill $periodic 2>/dev/null || true' EXIT
# Beat's first summaries tick is 15 minutes away: send one now, so yesterday's summary appears at once.
"${export_broker[@]}" .venv/bin/celery -A branchberg call summaries.tick >/dev/null
echo "==> periodic work (beat + worker) running, log in .tmp/periodic.log"
echo "==> Branchberg on http://127.0.0.1:${PORT}/admin/  (dashboard: /dashboard/, API docs: /docs)"
$py manage.py runserver "127.0.0.1:${PORT}" --noreload

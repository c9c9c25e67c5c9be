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
echo "==> Branchberg on http://127.0.0.1:${PORT}/admin/  (dashboard: /dashboard/, API docs: /docs)"
exec $py manage.py runserver "127.0.0.1:${PORT}" --noreload

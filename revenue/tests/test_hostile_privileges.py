"""Issue 15 item 3: the database, not a setting, keeps the ledger append-only.

The suite's DATABASE_URL is the owner (it creates the test database and migrates it);
scripts/services.sh also creates the app role `branchberg_app` and exports its URL as
TEST_APP_DATABASE_URL. Here the app role connects to the migrated test database for real:
through the services in a `manage.py` subprocess (as web and worker would), and with psycopg
for the SQL a hostile session would try.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection
from psycopg import errors

from revenue.db_roles import APPEND_ONLY_TABLES, AUDIT_TABLES
from revenue.models import LedgerAuditEntry, ReconciliationAction, RevenueDailyRollup, RevenueEvent

pytestmark = [pytest.mark.hostile, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
REFUSED = (errors.InsufficientPrivilege,)

# Run as the app role with SAFE_MODE off, so every connection also SETs branchberg.ledger_writable='on'.
APP_SCRIPT = r"""
import json
from datetime import date
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from revenue.entries import LedgerEntry
from revenue.services import ManualEntryData, revenue_event_reverse_by_user, manual_entry_create
from revenue.models import Entity, ExpectedDeposit, LedgerAuditEntry, RevenueEvent
from revenue.reconciliation.services import reconciliation_flag, reconciliation_run
from revenue.services import payout_upsert, revenue_event_record
from datetime import UTC, datetime

out = {}
with connection.cursor() as cursor:
    cursor.execute("SELECT current_user, current_setting('branchberg.ledger_writable', true)")
    out["user"], out["ledger_writable"] = cursor.fetchone()
aplus = Entity.objects.get(slug="aplus-enterprise")
clerk = get_user_model().objects.create_user("clerk", "clerk@example.com", "correct-horse-battery-staple")
entry = manual_entry_create(
    data=ManualEntryData(entity=aplus, reference="PO-77", amount_cents=125000, currency="USD",
                         received_on=date(2026, 6, 1)),
    actor=clerk,
)
reversal = revenue_event_reverse_by_user(event=entry, reason="keyed twice", actor=clerk)
kept = manual_entry_create(
    data=ManualEntryData(entity=aplus, reference="PO-78", amount_cents=99000, currency="USD",
                         received_on=date(2026, 6, 1)),
    actor=clerk,
)
booked = revenue_event_record(entry=LedgerEntry(
    event_id="stripe:pi_privs", provider="stripe", event_type="payment_intent.succeeded", kind="payment",
    amount_cents=4200, currency="USD", occurred_at=datetime(2026, 6, 2, 15, tzinfo=UTC),
)).event
payout, _ = payout_upsert(provider="stripe", payout_id="po_privs", entity=aplus, amount_cents=4200,
                          currency="USD", status="paid", arrival_on=date(2026, 6, 3))
reconciliation_run(entity=aplus)
expected = ExpectedDeposit.objects.get(entity=aplus, payout=payout)
reconciliation_flag(target=expected, reason="not on the statement", user=clerk)
spare = Entity.objects.create(name="Spare Entity LLC", slug="spare")
spare.delete()  # cascades to revenue_daily_rollup: the app role may DELETE there
clerk.delete()  # SET_NULL on both audit trails: the one UPDATE they allow
out["rows"] = sorted(RevenueEvent.objects.values_list("event_id", flat=True))
out["audit_actors"] = list(LedgerAuditEntry.objects.values_list("actor_id", "actor_username"))
try:
    with transaction.atomic():
        RevenueEvent.objects.filter(pk=booked.pk).update(amount_cents=1)
    out["orm_update"] = "allowed"
except DatabaseError as error:
    out["orm_update"] = str(error).splitlines()[0]
print("RESULT " + json.dumps(out))
"""


def _as_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def app_url() -> str:
    url = os.environ.get("TEST_APP_DATABASE_URL")
    if not url:
        pytest.fail("TEST_APP_DATABASE_URL is not set: run the suite with scripts/test.sh (it creates the app role)")
    return _as_database(url, connection.settings_dict["NAME"])


@pytest.fixture
def app_db(app_url):
    with psycopg.connect(app_url, autocommit=True, connect_timeout=5) as conn:
        yield conn


def refused(conn: psycopg.Connection, sql: str, params=None) -> str:
    """Run `sql` as the app role; it must be refused. Returns the database's message."""
    with pytest.raises(REFUSED) as caught, conn.transaction():
        conn.execute(sql, params)
    return str(caught.value)


def _book_through_the_app_role(app_url: str) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": app_url,
        "SAFE_MODE": "false",
        "CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", APP_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, f"the app-role process failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return json.loads(lines[-1].removeprefix("RESULT "))


@pytest.mark.slow  # a manage.py subprocess as the app role
def test_the_app_role_books_through_the_services_but_cannot_rewrite(app_url, app_db):
    result = _book_through_the_app_role(app_url)
    assert result["user"] == "branchberg_app" and result["ledger_writable"] == "on"
    assert len(result["rows"]) == 4 and "stripe:pi_privs" in result["rows"]
    assert any(row.endswith(":reversal") for row in result["rows"])
    # the clerk was deleted: their audit rows stay, with the actor emptied and the name kept
    assert result["audit_actors"] and all(actor is None and name == "clerk" for actor, name in result["audit_actors"])
    # SAFE_MODE=false set branchberg.ledger_writable on that connection, and still no UPDATE
    assert "permission denied" in result["orm_update"]

    # seen by the owner: the rows, their audit trail and the rollup the SECURITY DEFINER triggers kept
    assert RevenueEvent.objects.count() == 4
    assert LedgerAuditEntry.objects.filter(action="reverse").exists()
    assert RevenueDailyRollup.objects.filter(provider="stripe", credit_cents=4200).exists()
    assert ReconciliationAction.objects.filter(action="flag", actor__isnull=True).exists()

    # SELECT works for the app role
    assert app_db.execute("SELECT count(*) FROM revenue_events").fetchone()[0] == 4

    # UPDATE, DELETE, TRUNCATE: refused by the privileges
    assert "permission denied" in refused(app_db, "UPDATE revenue_events SET amount_cents = 1")
    assert "permission denied" in refused(app_db, "DELETE FROM revenue_events")
    assert "permission denied" in refused(app_db, "TRUNCATE revenue_events")
    assert "permission denied" in refused(app_db, "TRUNCATE revenue_events CASCADE")
    assert "permission denied" in refused(app_db, "TRUNCATE revenue_entity CASCADE")

    # the old bypass: the session setting no longer lifts anything for this role
    with app_db.transaction():
        app_db.execute("SET branchberg.ledger_writable = 'on'")
    assert app_db.execute("SHOW branchberg.ledger_writable").fetchone()[0] == "on"
    assert "permission denied" in refused(app_db, "UPDATE revenue_events SET amount_cents = 1")
    assert "permission denied" in refused(app_db, "DELETE FROM revenue_events")

    # the audit trails: no rewrite, no delete, no truncate; actor_id may only be emptied
    for table, column in zip(AUDIT_TABLES, ("at", "created_at"), strict=True):
        assert "permission denied" in refused(app_db, f"UPDATE {table} SET {column} = now()")  # noqa: S608
        assert "permission denied" in refused(app_db, f"DELETE FROM {table}")  # noqa: S608
        assert "permission denied" in refused(app_db, f"TRUNCATE {table}")
        assert "append-only audit trail" in refused(app_db, f"UPDATE {table} SET actor_id = 1")  # noqa: S608

    # the rollup is written by the triggers only
    assert "permission denied" in refused(app_db, "UPDATE revenue_daily_rollup SET credit_cents = 0")
    assert "permission denied" in refused(
        app_db,
        "INSERT INTO revenue_daily_rollup (occurred_on_utc, entity_id, provider, currency, kind, credit_cents,"
        " debit_cents, event_count) SELECT '2026-01-01', id, 'stripe', 'USD', 'payment', 1, 0, 1"
        " FROM revenue_entity LIMIT 1",
    )

    # nor can it take the guards away: triggers and session_replication_role need the owner or a superuser
    assert "must be owner" in refused(app_db, "ALTER TABLE revenue_events DISABLE TRIGGER USER")
    assert "must be owner" in refused(app_db, "DROP TRIGGER revenue_events_append_only ON revenue_events")
    assert "permission denied" in refused(app_db, "SET session_replication_role = replica")
    assert RevenueEvent.objects.count() == 4


def test_the_app_role_owns_nothing_and_holds_only_its_grants(app_db):
    owned = app_db.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = current_user"
        " UNION ALL SELECT p.proname FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner WHERE r.rolname = current_user"
    ).fetchall()
    assert owned == []
    superuser, member_of_owner = app_db.execute(
        "SELECT rolsuper, pg_has_role(current_user, %s, 'MEMBER') FROM pg_roles WHERE rolname = current_user",
        [connection.settings_dict["USER"]],
    ).fetchone()
    assert not superuser and not member_of_owner
    for table in APPEND_ONLY_TABLES:
        privileges = {
            privilege: app_db.execute("SELECT has_table_privilege(%s, %s)", [table, privilege]).fetchone()[0]
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")
        }
        assert privileges == {
            "SELECT": True,
            "INSERT": True,
            "UPDATE": False,
            "DELETE": False,
            "TRUNCATE": False,
            "TRIGGER": False,
            "REFERENCES": False,
        }, table
    # an ordinary table (alerts change state) keeps the usual rights, TRUNCATE excepted
    assert app_db.execute("SELECT has_table_privilege('revenue_alerts', 'UPDATE, DELETE')").fetchone()[0]
    assert not app_db.execute("SELECT has_table_privilege('revenue_alerts', 'TRUNCATE')").fetchone()[0]


def test_truncate_is_refused_to_any_role_but_the_owner_even_when_granted(app_db, entities):
    """The TRUNCATE trigger is the second wall: a role that was granted TRUNCATE by mistake still fails."""
    # on every table: TRUNCATE ... CASCADE also needs it on the tables that reference the ledger
    with connection.cursor() as cursor:
        cursor.execute("GRANT TRUNCATE ON ALL TABLES IN SCHEMA public TO branchberg_app")
    try:
        for table in APPEND_ONLY_TABLES:
            assert "TRUNCATE refused for role branchberg_app" in refused(app_db, f"TRUNCATE {table} CASCADE")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("REVOKE TRUNCATE ON ALL TABLES IN SCHEMA public FROM branchberg_app")
    assert not app_db.execute("SELECT has_table_privilege('revenue_alerts', 'TRUNCATE')").fetchone()[0]


def test_the_owner_needs_the_setting_to_edit_in_place(entities):
    from revenue.services import revenue_event_record
    from revenue.tests.factories import ledger_entry

    event = revenue_event_record(entry=ledger_entry(amount_cents=500)).event
    with pytest.raises(DatabaseError, match="append-only"), connection.cursor() as cursor:
        cursor.execute("UPDATE revenue_events SET amount_cents = 1 WHERE id = %s", [event.pk])


def test_the_owner_migrations_apply_backwards_and_forwards(app_db):
    call_command("migrate", "revenue", "0008", verbosity=0)
    assert app_db.execute("SELECT has_table_privilege('revenue_events', 'SELECT')").fetchone()[0] is False
    # Every app forward again: going back to revenue 0008 also unapplied the apps that depend on a
    # later revenue migration (accounting), which the rest of the run needs.
    call_command("migrate", verbosity=0)
    assert app_db.execute("SELECT has_table_privilege('revenue_events', 'INSERT')").fetchone()[0]
    assert not app_db.execute("SELECT has_table_privilege('revenue_events', 'UPDATE')").fetchone()[0]
    call_command("grant_app_role", verbosity=0)  # idempotent
    assert not app_db.execute("SELECT has_table_privilege('revenue_events', 'DELETE')").fetchone()[0]


@pytest.mark.slow  # a manage.py subprocess as the app role
def test_maintenance_as_the_app_role_is_refused_with_a_sentence(app_url):
    done = subprocess.run(
        [sys.executable, "manage.py", "rebuild_revenue_rollup"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": app_url, "CONN_MAX_AGE": "0"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "run it as the owner of the tables" in done.stderr and "Traceback" not in done.stderr


def test_granting_to_a_missing_or_privileged_role_says_what_to_do(entities):
    with pytest.raises(CommandError, match="no such PostgreSQL role exists: create it first"):
        call_command("grant_app_role", role="no_such_role_here")
    out = io.StringIO()
    call_command("grant_app_role", role=connection.settings_dict["USER"], stdout=out)
    assert "nothing to grant in a single-role set-up" in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE branchberg_too_strong NOLOGIN SUPERUSER")
    try:
        with pytest.raises(CommandError, match="is a superuser or a member of the owner role"):
            call_command("grant_app_role", role="branchberg_too_strong")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP ROLE branchberg_too_strong")


@pytest.mark.slow  # a manage.py subprocess as the app role
def test_the_bulk_csv_import_works_as_the_app_role(app_url, entities):
    """The fast path (COPY into a temp table, INSERT ... ON CONFLICT DO NOTHING) needs no more than INSERT."""
    done = subprocess.run(
        [sys.executable, "manage.py", "import_revenue_csv", "revenue/tests/data/generic_sample.csv", "--no-progress"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": app_url, "CONN_MAX_AGE": "0", "CELERY_BROKER_URL": "", "REDIS_URL": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert RevenueEvent.objects.exists()
    assert LedgerAuditEntry.objects.filter(action="import").exists()

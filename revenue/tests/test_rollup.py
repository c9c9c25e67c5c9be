"""revenue_daily_rollup (kept by triggers) against a direct aggregate of the ledger, and the
totals read from it against a direct query, at many instants around DST and day edges."""

from __future__ import annotations

import importlib
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncDate

from revenue.models import Entity, RevenueDailyRollup, RevenueEvent
from revenue.selectors import revenue_daily_rollup_drift, revenue_totals, revenue_totals_periods
from revenue.selectors.buckets import BUCKET_FIELDS, BUCKETS, kinds_of
from revenue.selectors.totals import _amount_aggregates
from revenue.services import revenue_event_record, revenue_event_reverse
from revenue.tests.factories import ledger_entry

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
CHICAGO = ZoneInfo("America/Chicago")
rollup_migration = importlib.import_module("revenue.migrations.0006_daily_rollup")


def direct_rollup() -> dict[tuple, tuple[int, int, int]]:
    rows = (
        RevenueEvent.objects.annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .values("day", "entity_id", "provider", "currency", "kind")
        .annotate(
            credit=Coalesce(Sum("amount_cents", filter=Q(amount_cents__gt=0)), 0),
            debit=Coalesce(Sum("amount_cents", filter=Q(amount_cents__lt=0)), 0),
            rows=Count("id"),
        )
    )
    return {
        (r["day"], r["entity_id"], r["provider"], r["currency"], r["kind"]): (r["credit"], r["debit"], r["rows"])
        for r in rows
    }


def stored_rollup() -> dict[tuple, tuple[int, int, int]]:
    return {
        (r.occurred_on_utc, r.entity_id, r.provider, r.currency, r.kind): (r.credit_cents, r.debit_cents, r.event_count)
        for r in RevenueDailyRollup.objects.exclude(event_count=0)
    }


def bulk_rows(entity: Entity, *amounts_at: tuple[int, datetime]) -> list[RevenueEvent]:
    return RevenueEvent.objects.bulk_create(
        RevenueEvent(
            event_id=f"bulk:{uuid.uuid4()}",
            provider="manual",
            event_type="sale",
            kind="payment" if amount >= 0 else "fee",
            amount_cents=amount,
            currency="EUR",
            entity=entity,
            occurred_at=at,
        )
        for amount, at in amounts_at
    )


def test_rollup_follows_every_write_path(entities):
    aplus, legacy = entities["aplus-enterprise"], entities["legacy-unchained"]
    midnight = datetime(2026, 6, 2, tzinfo=UTC)

    # the ledger service, on both sides of a UTC midnight, in three currencies
    sale = revenue_event_record(entry=ledger_entry(amount_cents=5000, occurred_at=midnight - timedelta(microseconds=1)))
    revenue_event_record(entry=ledger_entry(kind="refund", amount_cents=-700, occurred_at=midnight))
    revenue_event_record(entry=ledger_entry(amount_cents=900, currency="JPY", occurred_at=midnight), entity=legacy)
    revenue_event_record(entry=ledger_entry(kind="fee", amount_cents=-31, currency="KWD", occurred_at=midnight))
    assert stored_rollup() == direct_rollup() and len(stored_rollup()) == 4

    # a reversal (a correction is a new row), and an idempotent re-record that adds nothing
    revenue_event_reverse(event=sale.event, reason="duplicate charge", occurred_at=midnight + timedelta(hours=3))
    revenue_event_record(entry=ledger_entry(event_id=sale.event.event_id, amount_cents=5000))
    assert stored_rollup() == direct_rollup()

    # the CSV bulk import (COPY into a staging table, one INSERT ... ON CONFLICT DO NOTHING)
    call_command("import_revenue_csv", str(DATA / "generic_sample.csv"), "--format", "generic", "--no-progress")
    call_command("import_revenue_csv", str(DATA / "generic_sample.csv"), "--format", "generic", "--no-progress")
    assert stored_rollup() == direct_rollup()

    # bulk_create, and COPY straight into the table
    rows = bulk_rows(aplus, (1200, midnight), (-15, midnight), (3300, midnight + timedelta(days=40)))
    columns = (
        "id, event_id, provider, event_type, kind, amount_cents, currency, fx_source, metadata, entity_id,"
        " entity_source, occurred_at, created_at, processed_at, source_id, parent_event_id, reference, description"
    )
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY revenue_events ({columns}) FROM STDIN") as copy,
    ):
        for n in range(3):
            at = midnight + timedelta(days=n)
            values = (uuid.uuid4(), f"copy:{n}", "gumroad", "sale", "payment", 100 + n, "USD", "", "{}", aplus.pk)
            copy.write_row((*values, "default", at, at, at, "", "", "", ""))
    assert stored_rollup() == direct_rollup()

    # with SAFE_MODE off the database allows UPDATE and DELETE: the rollup follows both
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL branchberg.ledger_writable = 'on'")
        cursor.execute(
            "UPDATE revenue_events SET amount_cents = amount_cents * 2, occurred_at = occurred_at + interval '1 day'"
            " WHERE id = %s",
            [rows[0].pk],
        )
        cursor.execute("UPDATE revenue_events SET entity_id = %s WHERE id = %s", [legacy.pk, rows[2].pk])
        cursor.execute("DELETE FROM revenue_events WHERE id = %s", [rows[1].pk])
    assert stored_rollup() == direct_rollup() and revenue_daily_rollup_drift() == []
    assert RevenueDailyRollup.objects.filter(event_count=0).exists()  # an emptied key stays at zero

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses a table with pending FK checks
        cursor.execute("TRUNCATE revenue_events CASCADE")
    assert not RevenueDailyRollup.objects.exists()


def test_rebuild_and_check_after_writes_that_bypassed_the_triggers(entities, capsys):
    for n in range(12):
        revenue_event_record(
            entry=ledger_entry(amount_cents=250 * n, occurred_at=datetime(2026, 6, 1 + n % 3, tzinfo=UTC))
        )
    call_command("rebuild_revenue_rollup", "--check")
    with connection.cursor() as cursor:  # as a replica, or a restore with triggers disabled, writes rows
        cursor.execute("SET LOCAL session_replication_role = replica")
        bulk_rows(entities["aplus-enterprise"], (999, datetime(2026, 6, 2, tzinfo=UTC)))
        cursor.execute("SET LOCAL session_replication_role = origin")
    assert len(revenue_daily_rollup_drift()) == 1
    with pytest.raises(CommandError, match="1 rollup key"):
        call_command("rebuild_revenue_rollup", "--check")
    call_command("rebuild_revenue_rollup")
    assert "rebuilt" in capsys.readouterr().out
    assert revenue_daily_rollup_drift() == [] and stored_rollup() == direct_rollup()


def test_the_migration_backfill_agrees_with_the_triggers(entities):
    for n in range(30):
        at = datetime(2026, 6, 1 + n % 5, n % 24, tzinfo=UTC)
        revenue_event_record(entry=ledger_entry(amount_cents=100 * n - 900, kind="adjustment", occurred_at=at))
    kept = stored_rollup()
    with connection.cursor() as cursor:
        cursor.execute(rollup_migration.PG_BACKFILL)
    assert stored_rollup() == kept == direct_rollup()


# ---------------------------------------------------------------------------- totals


KINDS = [("payment", 1), ("refund", -1), ("dispute", -1), ("fee", -1), ("adjustment", 0), ("dispute_reversal", 1)]


@pytest.fixture
def random_ledger(entities):
    """~400 rows from 20 Oct to 30 Nov 2026 (Central time falls back on 1 Nov), many on day edges."""
    rng = random.Random(20261101)
    start = datetime(2026, 10, 20, tzinfo=UTC)
    edges = [
        datetime(2026, 11, 1, 5, tzinfo=UTC),  # Central midnight, CDT
        datetime(2026, 11, 2, 6, tzinfo=UTC),  # Central midnight, CST
        datetime(2026, 11, 1, 0, tzinfo=UTC),  # UTC midnight
        datetime(2026, 11, 1, 7, tzinfo=UTC),  # 01:00 CST: the repeated hour
        datetime(2026, 10, 26, 5, tzinfo=UTC),  # Monday 00:00 CDT
        datetime(2026, 11, 30, 6, tzinfo=UTC),  # Monday 00:00 CST
    ]
    rows = []
    for n in range(400):
        if n % 4 == 0:
            at = rng.choice(edges) + rng.choice([timedelta(0), -timedelta(microseconds=1), timedelta(microseconds=1)])
        else:
            at = start + timedelta(seconds=rng.randint(0, 41 * 86400), microseconds=rng.randint(0, 999999))
        kind, sign = rng.choice(KINDS)
        amount = rng.randint(1, 90000) * (sign or rng.choice([1, -1]))
        rows.append(
            RevenueEvent(
                event_id=f"random:{n}",
                provider=rng.choice(["stripe", "gumroad", "manual"]),
                event_type=kind,
                kind=kind,
                amount_cents=amount,
                currency=rng.choice(["USD", "USD", "EUR", "JPY", "KWD"]),
                entity=rng.choice(list(entities.values())),
                occurred_at=at,
            )
        )
    RevenueEvent.objects.bulk_create(rows)
    return rows


def direct_totals(as_of: datetime, entity: Entity | None) -> dict[str, list[dict]]:
    """The totals by a plain query over the ledger, period by period."""
    result = {}
    for period in revenue_totals_periods(as_of=as_of):
        rows = RevenueEvent.objects.filter(occurred_at__gte=period.start_at, occurred_at__lte=as_of)
        if entity is not None:
            rows = rows.filter(entity=entity)
        grouped = (
            rows.values("entity__slug", "provider", "currency")
            .annotate(**_amount_aggregates())
            .order_by("entity__slug", "provider", "currency")
        )
        buckets = {
            (g["entity__slug"], g["provider"], g["currency"]): g
            for g in rows.values("entity__slug", "provider", "currency")
            .annotate(
                **{
                    f"{name}_cents": Coalesce(Sum("amount_cents", filter=Q(kind__in=kinds_of(name))), 0)
                    for name in BUCKETS
                },
                net_cents=Sum("amount_cents"),
            )
            .order_by()
        }
        result[period.name] = []
        for g in grouped:
            key = (g.pop("entity__slug"), g.pop("provider"), g.pop("currency"))
            by_bucket = buckets[key]
            row = {"entity": key[0], "provider": key[1], "currency": key[2], **g}
            row["buckets"] = {name: by_bucket[name] for name in BUCKET_FIELDS}
            result[period.name].append(row)
    return result


def instants() -> list[datetime]:
    found = [datetime(2026, 10, 21, tzinfo=UTC) + timedelta(hours=7 * n, minutes=13) for n in range(140)]
    for day in range(20, 32):
        for hour in (0, 5, 6, 7):
            found.append(datetime(2026, 10, day, hour, tzinfo=UTC))
    for day in range(1, 31):
        for hour in (0, 5, 6, 7):
            found.append(datetime(2026, 11, day, hour, tzinfo=UTC))
    found += [instant - timedelta(microseconds=1) for instant in found[-40:]]
    found.append(datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=CHICAGO))  # the second 01:30 on the DST day
    return found


@pytest.mark.slow
def test_totals_equal_a_direct_query_at_any_instant(random_ledger, entities):
    checked = 0
    for as_of in instants():
        for entity in (None, entities["legacy-unchained"]):
            totals = revenue_totals(as_of=as_of, entity=entity)
            assert totals.rows == direct_totals(as_of, entity), (as_of, entity)
            checked += 1
    # as_of on an event: a row at exactly as_of counts
    event = random_ledger[17]
    assert revenue_totals(as_of=event.occurred_at).rows == direct_totals(event.occurred_at, None)
    assert checked > 500


def test_totals_read_mostly_from_the_rollup_in_one_query(random_ledger, django_assert_max_num_queries):
    as_of = datetime(2026, 11, 27, 18, tzinfo=UTC)
    with django_assert_max_num_queries(1) as captured:
        revenue_totals(as_of=as_of)
    sql = captured.captured_queries[0]["sql"]
    assert "revenue_daily_rollup" in sql and "UNION ALL" in sql
    # at the start of a month there are no whole days yet: the ledger alone, still one query
    with django_assert_max_num_queries(1):
        revenue_totals(as_of=datetime(2026, 11, 1, 6, tzinfo=UTC))


@pytest.mark.django_db(False)
def test_the_sqlite_triggers_keep_the_same_rollup():
    """The zero-setup run (SQLite): the migration's row triggers, on Django's UTC text datetimes."""
    import sqlite3

    db = sqlite3.connect(":memory:")
    db.executescript(
        """
        CREATE TABLE revenue_events (id integer PRIMARY KEY, entity_id integer, provider text, currency text,
                                     kind text, amount_cents bigint, occurred_at datetime);
        CREATE TABLE revenue_daily_rollup (id integer PRIMARY KEY, occurred_on_utc date, entity_id integer,
            provider text, currency text, kind text, credit_cents bigint, debit_cents bigint, event_count bigint,
            UNIQUE (occurred_on_utc, entity_id, provider, currency, kind));
        INSERT INTO revenue_events VALUES (1, 1, 'stripe', 'USD', 'payment', 500, '2026-06-01 23:59:59.999999');
        """
    )
    for statement in rollup_migration.SQLITE_CREATE + rollup_migration.SQLITE_BACKFILL:
        db.execute(statement)
    db.executemany(
        "INSERT INTO revenue_events VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (2, 1, "stripe", "USD", "payment", 700, "2026-06-02 00:00:00"),
            (3, 1, "stripe", "USD", "refund", -200, "2026-06-02 00:00:00.000001"),
            (4, 2, "gumroad", "JPY", "payment", 900, "2026-06-01 12:00:00"),
            (5, 1, "stripe", "USD", "adjustment", -50, "2026-06-02 08:00:00"),
        ],
    )
    db.execute("UPDATE revenue_events SET amount_cents = 1000, occurred_at = '2026-06-03 01:00:00' WHERE id = 2")
    db.execute("DELETE FROM revenue_events WHERE id = 4")
    direct = db.execute(
        """SELECT date(occurred_at), entity_id, provider, currency, kind, sum(max(amount_cents, 0)),
                  sum(min(amount_cents, 0)), count(*) FROM revenue_events GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"""
    ).fetchall()
    stored = db.execute(
        """SELECT occurred_on_utc, entity_id, provider, currency, kind, credit_cents, debit_cents, event_count
           FROM revenue_daily_rollup WHERE event_count <> 0 ORDER BY 1, 2, 3, 4, 5"""
    ).fetchall()
    assert stored == direct
    assert [row[0] for row in stored] == ["2026-06-01", "2026-06-02", "2026-06-02", "2026-06-03"]

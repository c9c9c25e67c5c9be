"""The possible-duplicate candidate lookup (`revenue.duplicates.duplicate_candidates`) on a large ledger.

Run: scripts/bench.sh bench/explain_duplicates.py [--rows 100000] [--burst 20000] [--batch 200]

Builds a ledger of --rows payments over 60 days (20,000 customers, 8 prices, USD) plus a --burst of
one-day, one-price payments from distinct customers (bench_booking's burst; every 50th customer pays
twice), ANALYZEs it (not with --no-analyze: right after a bulk load), then for the last --batch burst rows times the former query (a hash join over
(amount, currency) with nested loops off) against the index-driven one now in `revenue.duplicates`,
checks they return the same pairs, and prints both plans (EXPLAIN ANALYZE, BUFFERS).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchberg.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402

from revenue import duplicates  # noqa: E402
from revenue.models import Entity  # noqa: E402

# The query `revenue.duplicates` ran before session 7 (hash join over the ledger), for comparison.
FORMER_SQL = """
SELECT n.id, o.id FROM revenue_events n JOIN revenue_events o
  ON o.amount_cents = n.amount_cents AND o.currency = n.currency AND o.id <> n.id
 AND (lower(o.customer_email) = lower(n.customer_email) OR o.customer_id = n.customer_id)
 AND o.occurred_at BETWEEN n.occurred_at - make_interval(secs => %(horizon)s)
                       AND n.occurred_at + make_interval(secs => %(horizon)s)
 AND o.kind = 'payment'
 AND NOT EXISTS (SELECT 1 FROM revenue_events r WHERE r.reverses_id = o.id)
WHERE n.event_id = ANY(%(ids)s) AND n.kind = 'payment'
"""

INSERT_SQL = """
INSERT INTO revenue_events (id, event_id, provider, event_type, kind, amount_cents, currency,
    amount_usd_cents, fx_source, customer_email, customer_id, metadata, entity_id, entity_source,
    occurred_at, created_at, processed_at, source_id, parent_event_id, reference, description)
SELECT gen_random_uuid(), %(prefix)s || g, 'stripe', 'charge.succeeded', 'payment', amount, 'usd',
    amount, 'identity', 'c' || customer || '@example.com', 'cus_' || customer, '{{}}'::jsonb, %(entity)s,
    'default', at, now(), now(), 'ch_' || g, '', '', ''
FROM (SELECT g, {customer} AS customer, {amount} AS amount, {at} AS at
        FROM generate_series(1, %(count)s) g) s
"""


def build(*, rows: int, burst: int, analyze: bool) -> list[str]:
    entity = Entity.objects.order_by("pk").first() or Entity.objects.create(name="Bench", slug="bench")
    background = INSERT_SQL.format(
        customer="(g * 7919) %% 20000",
        amount="(1 + g %% 8) * 1900",
        at="timestamptz '2026-06-01' + (g %% 60) * interval '1 day' + (g * 37 %% 86400) * interval '1 second'",
    )
    one_day = INSERT_SQL.format(
        customer="100000 + CASE WHEN g %% 50 = 0 THEN g - 1 ELSE g END",
        amount="2000",
        at="timestamptz '2026-07-15 12:00'",
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(background, {"prefix": "bench:bg:", "entity": entity.pk, "count": rows})
        cursor.execute(one_day, {"prefix": "bench:burst:", "entity": entity.pk, "count": burst})
    if analyze:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE revenue_events")
    return [f"bench:burst:{g}" for g in range(1, burst + 1)]


def pairs_of(sql: str, ids: list[str], *, nestloop_off: bool) -> set[tuple[str, str]]:
    params = {"horizon": int(duplicates.DUPLICATE_HORIZON.total_seconds()), "ids": ids}
    with transaction.atomic(), connection.cursor() as cursor:
        if nestloop_off:
            cursor.execute("SELECT set_config('enable_nestloop', 'off', true)")
        cursor.execute(sql, params)
        return {(str(a), str(b)) for a, b in cursor.fetchall()}


def plan_of(sql: str, ids: list[str], *, nestloop_off: bool) -> str:
    params = {"horizon": int(duplicates.DUPLICATE_HORIZON.total_seconds()), "ids": ids}
    with transaction.atomic(), connection.cursor() as cursor:
        if nestloop_off:
            cursor.execute("SELECT set_config('enable_nestloop', 'off', true)")
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def timed(sql: str, ids: list[str], *, nestloop_off: bool, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        pairs_of(sql, ids, nestloop_off=nestloop_off)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--burst", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-analyze", action="store_true", help="plan on the statistics of an empty table")
    args = parser.parse_args()
    load = os.getloadavg()
    burst_ids = build(rows=args.rows, burst=args.burst, analyze=not args.no_analyze)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM revenue_events")
        total = cursor.fetchone()[0]
    batch = burst_ids[-args.batch :]
    former = pairs_of(FORMER_SQL, batch, nestloop_off=True)
    current = pairs_of(duplicates._CANDIDATES_SQL, batch, nestloop_off=False)
    print(f"ledger rows: {total:,}; batch of {len(batch)} burst rows; load average {load[0]:.2f} {load[1]:.2f}")
    print(f"candidate pairs: former {len(former)}, index-driven {len(current)}, identical: {former == current}")
    former_ms = timed(FORMER_SQL, batch, nestloop_off=True, repeats=args.repeats)
    current_ms = timed(duplicates._CANDIDATES_SQL, batch, nestloop_off=False, repeats=args.repeats)
    print(f"former hash join:   min {min(former_ms):8.1f} ms  median {statistics.median(former_ms):8.1f} ms")
    print(f"index-driven probe: min {min(current_ms):8.1f} ms  median {statistics.median(current_ms):8.1f} ms")
    print("\n-- former plan --\n" + plan_of(FORMER_SQL, batch, nestloop_off=True))
    print("\n-- index-driven plan --\n" + plan_of(duplicates._CANDIDATES_SQL, batch, nestloop_off=False))
    return 0 if former == current else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: summaries over a 1,000,000-event ledger.

Targets (issue 5): one daily summary (every entity + all entities) in under 1 s;
a full two-year recompute (every daily, weekly and monthly period) in under 30 s.

Run: scripts/bench.sh bench/bench_summaries.py [--events N] [--days D]
The ledger is loaded with PostgreSQL COPY through psycopg (rows that are already
there from an earlier run are kept), then VACUUM ANALYZE, then timed.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchberg.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import Sum  # noqa: E402

from revenue.business_time import day_bounds  # noqa: E402
from revenue.models import Entity, RevenueEvent  # noqa: E402
from summaries.models import RevenueSummary  # noqa: E402
from summaries.selectors import ledger_groups_by_day  # noqa: E402
from summaries.services import summaries_recompute, summary_compute, summary_send_period  # noqa: E402

DAILY_TARGET_S = 1.0
RECOMPUTE_TARGET_S = 30.0
EUR_RATE = "1.0850000000"

COLUMNS = (
    "id",
    "event_id",
    "provider",
    "event_type",
    "kind",
    "amount_cents",
    "currency",
    "amount_usd_cents",
    "fx_rate",
    "fx_source",
    "metadata",
    "entity_id",
    "entity_source",
    "occurred_at",
    "created_at",
    "processed_at",
    "source_id",
    "parent_event_id",
    "reference",
    "description",
)


def _rows(count: int, first_day: date, days: int, entity_ids: list[int]):
    """Time-ordered ledger rows: payments mostly, refunds, fees, disputes; USD, EUR (converted), JPY (half not)."""
    rng = random.Random(20261125)
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    step = days * 86400 / count
    for n in range(count):
        at = start + timedelta(seconds=n * step)
        roll = rng.random()
        if roll < 0.90:
            kind, sign, event_type = "payment", 1, "payment_intent.succeeded"
        elif roll < 0.96:
            kind, sign, event_type = "refund", -1, "refund.created"
        elif roll < 0.98:
            kind, sign, event_type = "fee", -1, "balance_transaction"
        elif roll < 0.99:
            kind, sign, event_type = "dispute", -1, "charge.dispute.created"
        else:
            kind, sign, event_type = "adjustment", 1, "adjustment"
        amount = sign * rng.randint(100, 250_000)
        currency_roll = rng.random()
        if currency_roll < 0.85:
            currency, usd, rate, source = "USD", amount, "1", "identity"
        elif currency_roll < 0.95:
            currency, usd, rate, source = "EUR", amount * 10850 // 10000, EUR_RATE, "rate_table"
        elif currency_roll < 0.975:
            currency, usd, rate, source = "JPY", amount * 67 // 10000, "0.0067000000", "stripe_balance_transaction"
        else:
            currency, usd, rate, source = "JPY", None, None, ""
        provider = ("stripe", "stripe", "stripe", "gumroad", "manual")[n % 5]
        yield (
            uuid.UUID(int=rng.getrandbits(128), version=4),
            f"bench:{n}",
            provider,
            event_type,
            kind,
            amount,
            currency,
            usd,
            rate,
            source,
            "{}",
            entity_ids[n % len(entity_ids)],
            "default",
            at,
            at + timedelta(seconds=5),
            at + timedelta(seconds=5),
            "",
            "",
            "",
            "",
        )


def load(count: int, first_day: date, days: int) -> float:
    existing = RevenueEvent.objects.filter(event_id__startswith="bench:").count()
    if existing >= count:
        print(f"ledger: {existing:,} benchmark rows already loaded")
        return 0.0
    if existing:
        raise SystemExit(f"{existing:,} benchmark rows from a different run; use a fresh database")
    entity_ids = list(Entity.objects.order_by("pk").values_list("pk", flat=True))
    began = time.perf_counter()
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY revenue_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in _rows(count, first_day, days, entity_ids):
                copy.write_row(row)
        cursor.execute("VACUUM ANALYZE revenue_events")
    elapsed = time.perf_counter() - began
    print(f"ledger: loaded {count:,} rows with COPY in {elapsed:.1f} s (+ VACUUM ANALYZE)")
    return elapsed


def timed(function, repeat: int = 1) -> list[float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        function()
        times.append(time.perf_counter() - began)
    return times


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=730, help="Ledger span (two years).")
    parser.add_argument("--profile", action="store_true", help="cProfile the full recompute.")
    args = parser.parse_args()
    last_day = date(2026, 11, 24)
    first_day = last_day - timedelta(days=args.days - 1)

    load(args.events, first_day, args.days)
    total = RevenueEvent.objects.count()
    print(f"ledger: {total:,} rows from {first_day} to {last_day} (America/Chicago days)")

    day = first_day + timedelta(days=args.days // 2)
    daily = timed(lambda: summary_compute(cadence="daily", day=day), repeat=7)
    daily_median = statistics.median(daily)
    digest = RevenueSummary.objects.get(period="daily", start_date=day, entity__isnull=True)
    print(
        f"daily summary {day} ({digest.event_count:,} events, {len(digest.by_currency)} currencies, "
        f"{Entity.objects.count()} entities + all): median {daily_median * 1000:.0f} ms, "
        f"max {max(daily) * 1000:.0f} ms over {len(daily)} runs"
    )

    start, end = day_bounds(first_day, last_day)
    aggregation = timed(lambda: ledger_groups_by_day(start=start, end=end))[0]
    print(f"  (the by-day aggregation alone over the two years: {aggregation:.1f} s)")
    periods = []
    profiler = cProfile.Profile() if args.profile else None

    def recompute_all():
        if profiler:
            profiler.enable()
        periods.append(summaries_recompute(first_day=first_day, last_day=last_day))
        if profiler:
            profiler.disable()

    recompute = timed(recompute_all)[0]
    print(f"full recompute: {periods[0]} periods (daily, weekly, monthly) in {recompute:.1f} s")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)

    # Correctness spot check: the dailies add up to the ledger, per currency.
    ledger = {
        row["currency"]: row["net"]
        for row in RevenueEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        .values("currency")
        .annotate(net=Sum("amount_cents"))
    }
    dailies: dict[str, int] = {}
    for by_currency in RevenueSummary.objects.filter(period="daily", entity__isnull=True).values_list(
        "by_currency", flat=True
    ):
        for currency, money in by_currency.items():
            dailies[currency] = dailies.get(currency, 0) + money["net_cents"]
    consistent = ledger == dailies
    print(f"dailies sum to the ledger per currency: {consistent} ({json.dumps(ledger, sort_keys=True)})")

    send = timed(lambda: summary_send_period(cadence="daily", day=last_day))[0]
    print(f"send the last daily digest (with its 62-day amendment check): {send * 1000:.0f} ms (informational)")

    daily_ok = daily_median < DAILY_TARGET_S
    recompute_ok = recompute < RECOMPUTE_TARGET_S
    print()
    print(f"{'measure':<40}{'target':>12}{'measured':>12}  result")
    print(f"{'daily summary (median)':<40}{'< 1.0 s':>12}{daily_median:>11.3f}s  {verdict(daily_ok)}")
    print(f"{'full two-year recompute':<40}{'< 30 s':>12}{recompute:>11.1f}s  {verdict(recompute_ok)}")
    print(f"{'dailies equal the ledger':<40}{'exact':>12}{consistent!s:>12}  {verdict(consistent)}")
    if args.events != 1_000_000 or args.days != 730:
        print(f"NOTE: scaled run ({args.events:,} events over {args.days} days), not the issue's 1,000,000 / 2 years")
    return 0 if daily_ok and recompute_ok and consistent else 1


if __name__ == "__main__":
    sys.exit(main())

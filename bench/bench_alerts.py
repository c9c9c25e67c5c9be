"""Alert evaluation cost on a realistic ledger.

1. 90 days of demo data (manage.py seed_demo) plus one rule of every kind per entity: what the
   beat raises on ordinary data (should be little: alerts must be rare).
2. A large synthetic ledger (default 100,000 rows over 90 days, bulk-inserted): time of one beat
   pass (`alerts_evaluate`) and of the per-write checks (`alerts_evaluate_event`).

Targets: beat pass < 5 s, per-write check < 50 ms (median). Bounded: finishes well inside 3 minutes.
Usage: scripts/bench.sh bench/bench_alerts.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchberg.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from alerts.models import AlertRule, RevenueAlert  # noqa: E402
from alerts.services import alerts_evaluate, alerts_evaluate_event  # noqa: E402
from revenue.models import Entity, RevenueEvent  # noqa: E402

BEAT_TARGET_S = 5.0
EVENT_TARGET_MS = 50.0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def make_rules() -> None:
    for entity in Entity.objects.all():
        common = {"entity": entity, "severity": "warning"}
        AlertRule.objects.bulk_create(
            [
                AlertRule(
                    name=f"{entity.slug} big day", kind="daily_above", currency="USD", amount_cents=5_000_000, **common
                ),
                AlertRule(
                    name=f"{entity.slug} slow day",
                    kind="daily_below",
                    currency="USD",
                    amount_cents=1_000,
                    weekdays=[0, 1, 2, 3, 4],
                    **common,
                ),
                AlertRule(
                    name=f"{entity.slug} large payment",
                    kind="transaction_above",
                    currency="USD",
                    amount_cents=2_000_000,
                    **common,
                ),
                AlertRule(
                    name=f"{entity.slug} refunds",
                    kind="refund_rate_above",
                    rate_percent=Decimal("20"),
                    minimum_events=30,
                    **common,
                ),
                AlertRule(
                    name=f"{entity.slug} disputes",
                    kind="dispute_rate_above",
                    rate_percent=Decimal("1"),
                    window_days=30,
                    minimum_events=50,
                    **common,
                ),
                AlertRule(name=f"{entity.slug} silence", kind="silence", silence_hours=12, **common),
            ]
        )


def synthetic(rows: int) -> None:
    rng = random.Random(7)
    entities = list(Entity.objects.all())
    now = timezone.now()
    batch = []
    for n in range(rows):
        at = now - timedelta(seconds=rng.randint(0, 90 * 86400))
        refund = rng.random() < 0.05
        amount = rng.choice([2900, 19900, 49900, 75000, 120000])
        batch.append(
            RevenueEvent(
                event_id=f"bench:{n}",
                provider=rng.choice(["stripe", "gumroad"]),
                event_type="refund" if refund else "sale",
                kind="refund" if refund else "payment",
                amount_cents=-amount if refund else amount,
                currency="USD" if rng.random() < 0.9 else "EUR",
                customer_email=f"c{rng.randint(0, rows // 3)}@bench.test",
                entity=rng.choice(entities),
                occurred_at=at,
                created_at=at,
                processed_at=at,
            )
        )
        if len(batch) == 5000:
            RevenueEvent.objects.bulk_create(batch)
            batch = []
    RevenueEvent.objects.bulk_create(batch)


def breakdown(now) -> None:
    """Where a beat pass spends its time: each rule and each built-in detector."""
    from alerts import selectors
    from alerts import services as alert_services

    parts = []
    for rule in selectors.rules_active():
        started = time.perf_counter()
        alert_services._evaluate_rule(rule=rule, now=now, result=alert_services.EvaluationResult())
        parts.append((f"rule {rule.name}", time.perf_counter() - started))
    for step in (
        alert_services._evaluate_anomalies,
        alert_services._evaluate_duplicates,
        alert_services._evaluate_unresolved,
    ):
        started = time.perf_counter()
        step(now=now, result=alert_services.EvaluationResult())
        parts.append((step.__name__, time.perf_counter() - started))
    for name, seconds in sorted(parts, key=lambda part: -part[1])[:6]:
        print(f"     {seconds * 1000:8.1f} ms  {name}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    ok = True

    print("== 1. Demo ledger (seed_demo, 90 days) with 12 rules")
    call_command("seed_demo", verbosity=0)
    make_rules()
    result = alerts_evaluate()
    demo_rows = RevenueEvent.objects.count()
    print(f"   ledger rows: {demo_rows}; alerts raised by one beat pass: {len(result.raised)}")
    for alert in result.raised:
        print(f"   - [{alert.severity}] {alert.alert_type}: {alert.message[:160]}")
    again = alerts_evaluate()
    print(
        f"   second pass: raised {len(again.raised)}, updated {len(again.updated)} (target raised 0: {verdict(not again.raised)})"
    )
    ok &= not again.raised

    print(f"== 2. Synthetic ledger: {args.rows:,} more rows over 90 days")
    started = time.perf_counter()
    synthetic(args.rows)
    print(f"   inserted in {time.perf_counter() - started:.1f} s; ANALYZE")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE revenue_events")
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        alerts_evaluate()
        timings.append(time.perf_counter() - started)
    beat = statistics.median(timings)
    print(
        f"   beat pass (alerts_evaluate), median of 2: {beat:.2f} s  target < {BEAT_TARGET_S} s  {verdict(beat < BEAT_TARGET_S)}"
    )
    ok &= beat < BEAT_TARGET_S

    breakdown(timezone.now())

    ids = list(RevenueEvent.objects.order_by("?").values_list("event_id", flat=True)[:200])
    per_event = []
    for event_id in ids:
        started = time.perf_counter()
        alerts_evaluate_event(event_id=event_id)
        per_event.append((time.perf_counter() - started) * 1000)
    median_ms = statistics.median(per_event)
    p95_ms = sorted(per_event)[int(len(per_event) * 0.95) - 1]
    print(
        f"   per-write check (alerts_evaluate_event), {len(ids)} rows: median {median_ms:.1f} ms, p95 {p95_ms:.1f} ms  "
        f"target median < {EVENT_TARGET_MS} ms  {verdict(median_ms < EVENT_TARGET_MS)}"
    )
    ok &= median_ms < EVENT_TARGET_MS
    print(f"   open alerts now: {RevenueAlert.objects.filter(status='open').count()}")
    print("RESULT:", verdict(ok))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

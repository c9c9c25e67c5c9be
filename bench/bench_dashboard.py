"""Dashboard endpoints on a large ledger: each chart is one GROUP BY and must stay quick.

Loads N ledger rows (default 100,000 over 365 days, 2 entities, 3 providers, 4 currencies,
~6% refunds), then times every dashboard endpoint through Django's test client as a staff
user, widest range (365 days), and reports median / worst latency and query counts.

Run: scripts/bench.sh bench/bench_dashboard.py [--events 100000] [--runs 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from revenue.models import Entity, Payout, RevenueEvent  # noqa: E402

TARGET_MEDIAN_MS = 300
ENDPOINTS = [
    ("page", "/dashboard/"),
    ("summary", "/dashboard/summary.json"),
    ("daily-net", "/dashboard/charts/daily-net.json"),
    ("providers", "/dashboard/charts/providers.json"),
    ("monthly", "/dashboard/charts/monthly.json"),
    ("payouts", "/dashboard/charts/payouts.json"),
]


def seed(events: int) -> None:
    rng = random.Random(7)
    entities = list(Entity.objects.all())
    now = timezone.now()
    rows = []
    for n in range(events):
        currency = rng.choices(["USD", "EUR", "GBP", "JPY"], weights=[85, 7, 5, 3])[0]
        amount = rng.randint(500, 250000) if currency != "JPY" else rng.randint(500, 300000)
        refund = rng.random() < 0.06
        rows.append(
            RevenueEvent(
                id=uuid.uuid4(),
                event_id=f"bench:{n}",
                provider=rng.choice(["stripe", "gumroad", "manual"]),
                event_type="refund" if refund else "payment_intent.succeeded",
                kind="refund" if refund else "payment",
                amount_cents=-amount if refund else amount,
                currency=currency,
                amount_usd_cents=amount if currency == "USD" else None,
                entity=rng.choice(entities),
                occurred_at=now - timedelta(seconds=rng.randint(0, 365 * 86400)),
            )
        )
        if len(rows) == 5000:
            RevenueEvent.objects.bulk_create(rows)
            rows = []
    RevenueEvent.objects.bulk_create(rows)
    Payout.objects.bulk_create(
        Payout(
            provider="stripe",
            payout_id=f"po_bench_{n}",
            entity=rng.choice(entities),
            amount_cents=rng.randint(10000, 5000000),
            currency=rng.choice(["USD", "USD", "EUR"]),
            status=rng.choice(["paid", "paid", "paid", "in_transit", "pending", "failed"]),
            arrival_on=(now - timedelta(days=rng.randint(0, 360))).date(),
        )
        for n in range(2000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE revenue_events")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    seed(args.events)
    print(f"Loaded {RevenueEvent.objects.count():,} ledger rows in {time.perf_counter() - started:.1f} s")

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-password-123")
    client = Client()
    client.force_login(user)
    params = {"range": 365, "currency": "USD"}

    failures = 0
    print(f"\n{'endpoint':<12}{'median ms':>11}{'worst ms':>10}{'queries':>9}   target median < {TARGET_MEDIAN_MS} ms")
    for name, url in ENDPOINTS:
        client.get(url, params)  # warm-up
        timings = []
        for _ in range(args.runs):
            with CaptureQueriesContext(connection) as queries:
                t0 = time.perf_counter()
                response = client.get(url, params)
                timings.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        median = statistics.median(timings)
        ok = median < TARGET_MEDIAN_MS
        failures += not ok
        print(
            f"{name:<12}{median:>11.1f}{max(timings):>10.1f}{len(queries.captured_queries):>9}   {'PASS' if ok else 'FAIL'}"
        )
    print(
        f"\n{'PASS' if not failures else 'FAIL'}: {len(ENDPOINTS) - failures}/{len(ENDPOINTS)} endpoints within target"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

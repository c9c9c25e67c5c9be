"""Benchmark: the revenue forecast (issue 19) on a generated two-year ledger and on the demo ledger.

Generated ledger: two entities, three series (bench-alpha USD and EUR, bench-beta USD), 730 business
days with a weekly season, a trend, US holidays (a holiday does 45% of a usual day), Gaussian noise
(7-9% of the day) and injected anomaly days (about one in 30 days, +40% or -40%), loaded with COPY
(payments and their fee rows; net is what is forecast). Demo ledger: `manage.py seed_demo --days 730`.

Targets (issue 19):
- month-end projection 28 days ahead: MAPE at least 25% lower than seasonal naive;
- daily 80% intervals cover 75-85% of actual days;
- anomaly alerts catch >= 90% of injected anomalies with <= 1 false alert per entity per month
  (a holiday alert is a real drop, counted and shown apart, not as false);
- fitting every entity and currency series over two years: < 10 s; the digest's extra reads: < 50 ms.

Run: scripts/bench.sh bench/bench_forecast.py [--skip-demo]
Writes the backtest text and plots to artifacts/forecasts/. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchberg.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from forecasts.backtest import Backtest, backtest, report_lines  # noqa: E402
from forecasts.management.commands.backtest_forecast import MedianMadRule  # noqa: E402
from forecasts.plot import backtest_plot  # noqa: E402
from forecasts.selectors import daily_histories, forecast_digest_section  # noqa: E402
from forecasts.services import forecasts_fit  # noqa: E402
from revenue.business_time import business_today, day_start  # noqa: E402
from revenue.models import Entity  # noqa: E402

LAST_DAY = date(2026, 11, 30)
DAYS = 730
WEEKLY = (1.0, 1.12, 1.18, 1.1, 1.02, 0.62, 0.5)  # Monday .. Sunday
HOLIDAY_FACTOR = 0.45
ANOMALY_RATE = 1 / 30
FIT_TARGET_S = 10.0
DIGEST_TARGET_MS = 50.0
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", Path(__file__).resolve().parent.parent / "artifacts")) / "forecasts"

# (entity slug, currency, net minor units per usual Monday at the start, yearly growth, noise, seed)
SERIES = [
    ("bench-alpha", "USD", 250_000, 0.30, 0.07, 1),
    ("bench-alpha", "EUR", 140_000, 0.15, 0.08, 2),
    ("bench-beta", "USD", 180_000, 0.50, 0.09, 3),
]


def us_holidays(year: int) -> set[date]:
    def nth(month: int, weekday: int, n: int) -> date:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7, weeks=n - 1)

    def last(month: int, weekday: int) -> date:
        end = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
        return end - timedelta(days=(end.weekday() - weekday) % 7)

    return {
        date(year, 1, 1),
        last(5, 0),
        date(year, 7, 4),
        nth(9, 0, 1),
        nth(11, 3, 4),
        date(year, 12, 24),
        date(year, 12, 25),
    }


HOLIDAYS = set().union(*(us_holidays(y) for y in range(2024, 2028)))


def with_anomalies(values: list[int], *, seed: int) -> tuple[list[int], set[int]]:
    """A copy of a real series with +/-40% days injected at ANOMALY_RATE after the first eight weeks."""
    rng = random.Random(seed)
    changed, injected = list(values), set()
    for n in range(56, len(values)):
        if rng.random() < ANOMALY_RATE:
            changed[n] = round(values[n] * (1.4 if rng.random() < 0.5 else 0.6))
            injected.add(n)
    return changed, injected


def generated_series(first_day: date, base: int, growth: float, noise: float, seed: int) -> tuple[list[int], set[int]]:
    rng = random.Random(seed)
    values, injected = [], set()
    for n in range(DAYS):
        day = first_day + timedelta(days=n)
        value = base * (1 + growth * n / 365) * WEEKLY[day.weekday()] * (1 + rng.gauss(0, noise))
        if day in HOLIDAYS:
            value *= HOLIDAY_FACTOR
        elif n >= 56 and rng.random() < ANOMALY_RATE:
            value *= 1.4 if rng.random() < 0.5 else 0.6
            injected.add(n)
        values.append(round(value))
    return values, injected


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


def ledger_rows(entity_id: int, slug: str, currency: str, first_day: date, values: list[int]):
    """Per day four payments and one fee row whose sum is the day's net (fees are 3% of payments)."""
    rng = random.Random(f"{slug}{currency}")
    rate, source = ("1", "identity") if currency == "USD" else ("1.0850000000", "rate_table")
    for n, net in enumerate(values):
        day = first_day + timedelta(days=n)
        gross = round(net / 0.97)
        parts = [gross // 4] * 3 + [gross - 3 * (gross // 4)]
        amounts = [("payment", part) for part in parts] + [("fee", net - gross)]
        start = day_start(day)
        for k, (kind, amount) in enumerate(amounts):
            at = start + timedelta(hours=8 + 3 * k, minutes=rng.randint(0, 59))
            usd = amount if currency == "USD" else amount * 10850 // 10000
            yield (
                uuid.UUID(int=rng.getrandbits(128), version=4),
                f"benchfc:{slug}:{currency}:{day}:{k}",
                "stripe",
                "payment_intent.succeeded" if kind == "payment" else "balance_transaction",
                kind,
                amount,
                currency,
                usd,
                rate,
                source,
                "{}",
                entity_id,
                "default",
                at,
                at,
                at,
                "",
                "",
                "",
                "",
            )


def load_generated() -> dict[tuple[str, str], tuple[list[int], set[int]]]:
    first_day = LAST_DAY - timedelta(days=DAYS - 1)
    generated = {}
    # The entities first: the connection is busy while COPY runs.
    entity_ids = {
        slug: Entity.objects.get_or_create(slug=slug, defaults={"name": slug.replace("-", " ").title()})[0].pk
        for slug, *_ in SERIES
    }
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY revenue_events ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for slug, currency, base, growth, noise, seed in SERIES:
            values, injected = generated_series(first_day, base, growth, noise, seed)
            generated[(slug, currency)] = (values, injected)
            for row in ledger_rows(entity_ids[slug], slug, currency, first_day, values):
                copy.write_row(row)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE revenue_events")
    return generated


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def pooled_mape(results: list[Backtest], naive: bool) -> float:
    errors = [abs((m.naive if naive else m.projected) - m.actual) / abs(m.actual) for r in results for m in r.months]
    return 100 * statistics.fmean(errors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-demo", action="store_true", help="Only the generated ledger.")
    args = parser.parse_args()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        out.append(line)

    if not args.skip_demo:
        # Before the generated entities exist: seed_demo writes for every entity it finds.
        began = time.perf_counter()
        call_command("seed_demo", days=DAYS, stdout=open(os.devnull, "w"))  # noqa: SIM115
        say(f"demo ledger: seed_demo --days {DAYS} in {time.perf_counter() - began:.0f} s")
    generated = load_generated()
    say(
        f"generated ledger: {len(SERIES)} series x {DAYS} days through {LAST_DAY}, holidays x{HOLIDAY_FACTOR}, "
        f"anomalies +/-40% on {sum(len(i) for _, i in generated.values())} days"
    )

    began = time.perf_counter()
    report = forecasts_fit(last_day=LAST_DAY)
    fit_s = time.perf_counter() - began
    say(
        f"fit every entity and currency series (demo and generated) through {LAST_DAY}: {report.stored} series "
        f"in {fit_s:.2f} s (target < {FIT_TARGET_S:.0f} s)"
    )

    times = []
    for _ in range(21):
        began = time.perf_counter()
        section = forecast_digest_section(day=LAST_DAY)
        times.append(time.perf_counter() - began)
    digest_ms = 1000 * statistics.median(times)
    say(
        f"digest forecast section ({len(section['outlooks'])} series, 3 queries): median {digest_ms:.1f} ms "
        f"(target < {DIGEST_TARGET_MS:.0f} ms)"
    )
    for outlook in section["outlooks"]:
        month = outlook["month"]
        say(
            f"  {outlook['entity']} {outlook['currency']}: month to date {month['actual_cents']}, projected "
            f"{month['projected_cents']} ({month['lower80_cents']}..{month['upper80_cents']})"
        )

    results, scores = [], {}
    first_day = LAST_DAY - timedelta(days=DAYS - 1)
    for (slug, currency), (values, injected) in generated.items():
        rule = MedianMadRule(first_day=first_day, currency=currency)
        began = time.perf_counter()
        result = backtest(
            values,
            first_day=first_day,
            anomaly_floor=rule.floor,
            baseline=rule,
            country=settings.FORECAST_HOLIDAY_COUNTRY,
            interval=settings.ALERTS_ANOMALY_INTERVAL,
        )
        holidays = {i for i in range(DAYS) if first_day + timedelta(days=i) in HOLIDAYS}
        for line in report_lines(result, label=f"{slug} {currency}", injected=injected):
            say(line)
        holiday_alerts = len(result.flagged & holidays)
        say(
            f"  of the forecast's other alerts, {holiday_alerts} fall on holidays ({time.perf_counter() - began:.0f} s)"
        )
        backtest_plot(
            result,
            title=f"generated {slug} {currency}",
            path=ARTIFACTS / f"generated-{slug}-{currency}.png",
            injected=injected,
        )
        results.append(result)
        scores[(slug, currency)] = (result, injected, holidays)

    mape, naive = pooled_mape(results, naive=False), pooled_mape(results, naive=True)
    reduction = 100 * (1 - mape / naive)
    inside = sum(r.daily_inside80 for r in results)
    count = sum(r.daily_count for r in results)
    coverage = 100 * inside / count
    caught = sum(len(r.flagged & i & set(r.one_step)) for r, i, _ in scores.values())
    judged_injected = sum(len(i & set(r.one_step)) for r, i, _ in scores.values())
    caught_pct = 100 * caught / judged_injected
    false_per_entity = {}
    for (slug, _), (result, injected, holidays) in scores.items():
        false = len(result.flagged - injected - holidays)
        months = result.judged_days / 30
        false_per_entity[slug] = false_per_entity.get(slug, 0) + false / months
    worst_false = max(false_per_entity.values())

    checks = [
        (
            f"month-end MAPE {mape:.2f}% vs seasonal naive {naive:.2f}%: {reduction:.0f}% lower (target >= 25%)",
            reduction >= 25,
        ),
        (f"daily 80% interval coverage {coverage:.1f}% (target 75-85%)", 75 <= coverage <= 85),
        (f"anomalies caught {caught}/{judged_injected} = {caught_pct:.1f}% (target >= 90%)", caught_pct >= 90),
        (
            "false alerts per entity per month "
            + ", ".join(f"{slug} {rate:.2f}" for slug, rate in false_per_entity.items())
            + " (target <= 1)",
            worst_false <= 1,
        ),
        (f"fit all series {fit_s:.2f} s (target < {FIT_TARGET_S:.0f} s)", fit_s < FIT_TARGET_S),
        (f"digest section {digest_ms:.1f} ms (target < {DIGEST_TARGET_MS:.0f} ms)", digest_ms < DIGEST_TARGET_MS),
    ]
    say()
    say("generated ledger, pooled over its series:")
    for text, ok in checks:
        say(f"  {verdict(ok)}  {text}")

    demo_ok = True
    if not args.skip_demo:
        say()
        last = business_today() - timedelta(days=1)
        demo, demo_scores = [], {}
        for number, slug in enumerate(("aplus-enterprise", "legacy-unchained")):
            entity = Entity.objects.get(slug=slug)
            [history] = daily_histories(last_day=last, entity=entity, currency="USD")
            rule = MedianMadRule(first_day=history.first_day, currency="USD")
            for injected_run in (False, True):
                values, injected = (
                    with_anomalies(history.values, seed=100 + number) if injected_run else (history.values, set())
                )
                result = backtest(
                    values,
                    first_day=history.first_day,
                    anomaly_floor=rule.floor,
                    baseline=rule,
                    country=settings.FORECAST_HOLIDAY_COUNTRY,
                    interval=settings.ALERTS_ANOMALY_INTERVAL,
                )
                label = f"demo {slug} USD" + (f", {len(injected)} days injected +/-40%" if injected_run else "")
                for line in report_lines(result, label=label, injected=injected if injected_run else None):
                    say(line)
                if injected_run:
                    demo_scores[slug] = result.anomaly_score(result.flagged, injected)
                else:
                    # The demo ledger as seeded has no anomalies: every alert on it is a false one.
                    demo.append(result)
                    backtest_plot(result, title=f"demo {slug} USD", path=ARTIFACTS / f"demo-{slug}-USD.png")
        mape, naive = pooled_mape(demo, naive=False), pooled_mape(demo, naive=True)
        coverage = 100 * sum(r.daily_inside80 for r in demo) / sum(r.daily_count for r in demo)
        alerts_per_month = {
            slug: len(r.flagged) / (r.judged_days / 30)
            for slug, r in zip(("aplus-enterprise", "legacy-unchained"), demo, strict=True)
        }
        caught = sum(score["caught"] for score in demo_scores.values())
        judged_injected = sum(score["injected"] for score in demo_scores.values())
        demo_checks = [
            (
                f"month-end MAPE {mape:.2f}% vs seasonal naive {naive:.2f}%: {100 * (1 - mape / naive):.0f}% lower "
                "(target >= 25%)",
                mape <= 0.75 * naive,
            ),
            (f"daily 80% interval coverage {coverage:.1f}% (target 75-85%)", 75 <= coverage <= 85),
            (
                "alerts on the seeded ledger (all false) per entity per month "
                + ", ".join(f"{slug} {rate:.2f}" for slug, rate in alerts_per_month.items())
                + " (target <= 1)",
                max(alerts_per_month.values()) <= 1,
            ),
        ]
        say("demo ledger, pooled over its USD series:")
        for text, ok in demo_checks:
            say(f"  {verdict(ok)}  {text}")
        # Not a target: the demo's daily net varies about 50% (robust sd / mean) from one day to the
        # next, so a +/-40% day is inside one standard deviation of an ordinary one; no rule catches
        # most of them without alerting on a third of all days. Printed to show the detection limit.
        say(
            f"  INFO  +/-40% days injected into the demo series caught {caught}/{judged_injected} "
            f"= {100 * caught / judged_injected:.1f}% (the demo's day-to-day spread is about 50% of a day)"
        )
        demo_ok = all(ok for _, ok in demo_checks)

    (ARTIFACTS / "bench_forecast.txt").write_text("\n".join(out) + "\n")
    print(f"written: {ARTIFACTS}/bench_forecast.txt and the plots beside it")
    return 0 if all(ok for _, ok in checks) and demo_ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: a 100,000-row generic ledger CSV through `manage.py import_revenue_csv`.

Targets (issue 4): the import finishes in under 20 s with peak memory under 300 MB,
and importing the same file again adds 0 rows. Issue 21: the import takes at most 2x a plain
COPY of the same file into a staging table plus one INSERT ... SELECT doing the conversions
(amount to minor units, entity slug to id, USD identity) into revenue_events with its indexes
and rollup trigger. Both run in the same process tree, in --rounds interleaved rounds (each on a new
file, the order alternating, so neither always meets the smaller table); min and median ratios are
reported, the median is the target. The COPY rows get other event ids and customers, so the
import's duplicate check does not pair them with the imported rows.

    scripts/bench.sh bench/bench_import.py            # 3 rounds of 100,000 rows
    scripts/bench.sh bench/bench_import.py --rows 20000 --rounds 1

Wall time is measured around the command's subprocess; peak RSS is the child's
ru_maxrss (resource.getrusage(RUSAGE_CHILDREN), the largest child so far).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchberg.settings")

import django  # noqa: E402

django.setup()

from revenue.backfill import GENERIC_COLUMNS  # noqa: E402
from revenue.models import OutboxMessage, RevenueEvent  # noqa: E402

TIME_LIMIT_S = 20.0
MEMORY_LIMIT_MB = 300.0
COPY_RATIO_LIMIT = 2.0

_STAGE = "bench_import_copy_stage"
_COPY_INSERT = f"""
INSERT INTO revenue_events (id, event_id, provider, event_type, kind, amount_cents, currency,
    amount_usd_cents, fx_rate, fx_source, customer_email, customer_id, metadata, entity_id, entity_source,
    occurred_at, created_at, processed_at, source_id, parent_event_id, reference, description)
SELECT gen_random_uuid(), 'copy:' || s.event_id, s.provider, 'import', s.kind, c.cents, s.currency,
    CASE WHEN s.currency = 'USD' THEN c.cents END, CASE WHEN s.currency = 'USD' THEN 1 END,
    CASE WHEN s.currency = 'USD' THEN 'identity' ELSE '' END,
    'copy-' || s.customer_email, 'copy-' || s.customer_id, '{{}}'::jsonb, e.id, 'explicit',
    s.occurred_at::timestamptz, now(), now(), '', coalesce(s.parent_event_id, ''),
    coalesce(s.reference, ''), coalesce(s.description, '')
FROM {_STAGE} s JOIN revenue_entity e ON e.slug = s.entity
CROSS JOIN LATERAL (SELECT (replace(s.amount, ',', '')::numeric
    * 10 ^ CASE s.currency WHEN 'JPY' THEN 0 WHEN 'KWD' THEN 3 ELSE 2 END)::bigint AS cents) c
ON CONFLICT (event_id) DO NOTHING
"""


def copy_baseline(path: Path) -> tuple[float, int]:
    """COPY the file into a staging table and INSERT ... SELECT it into the ledger: (seconds, rows)."""
    from django.db import connection, transaction

    columns = ", ".join(f"{name} text" for name in GENERIC_COLUMNS)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE {_STAGE} ({columns}) ON COMMIT DROP")
        with open(path, "rb") as handle, cursor.cursor.copy(f"COPY {_STAGE} FROM STDIN (FORMAT csv, HEADER)") as copy:
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        cursor.execute(_COPY_INSERT)
        inserted = cursor.rowcount
    return time.perf_counter() - started, inserted


def generate(path: Path, rows: int, seed: int = 4) -> None:
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    start = datetime.now(tz=UTC) - timedelta(days=365)
    currencies = [("USD", 2)] * 8 + [("EUR", 2), ("JPY", 0), ("KWD", 3)]
    entities = ["aplus-enterprise", "legacy-unchained"]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(GENERIC_COLUMNS)
        for n in range(rows):
            currency, exponent = rng.choice(currencies)
            minor = rng.randint(100, 500_000)
            amount = f"{minor / 10**exponent:,.{exponent}f}" if exponent else str(minor)
            kind = "refund" if n % 25 == 0 else "payment"
            if kind == "refund":
                amount = "-" + amount
            occurred = start + timedelta(seconds=rng.randint(0, 364 * 86400))
            writer.writerow(
                [
                    f"bench-{run}-{n}",
                    rng.choice(["manual", "stripe", "gumroad"]),
                    kind,
                    amount,
                    currency,
                    occurred.isoformat(timespec="seconds"),
                    rng.choice(entities),
                    f"customer{rng.randint(1, 20_000)}@example.com",
                    f"cus_{rng.randint(1, 20_000)}",
                    "",
                    f"PO-{n}" if n % 10 == 0 else "",
                    "Backfilled from the old ledger",
                    "",
                ]
            )


def run_import(path: Path) -> tuple[float, float, float, str]:
    command = [sys.executable, str(ROOT / "manage.py"), "import_revenue_csv", str(path), "--format", "generic"]
    command.append("--no-progress")
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=170)
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb = usage.ru_maxrss / 1024  # KiB on Linux
    cpu_s = (usage.ru_utime + usage.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    if completed.returncode != 0:
        print(completed.stdout, completed.stderr, sep="\n")
        raise SystemExit(f"FAIL: import exited with {completed.returncode}")
    return elapsed, peak_mb, cpu_s, completed.stdout.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    imports, ratios, peaks, outbox_added, rows_added = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_no in range(1, args.rounds + 1):
            # Each round imports a new file (new event ids) and times COPY of another new file; the
            # order alternates, so neither side always meets the smaller table.
            copy_path, import_path = Path(tmp) / f"copy_{round_no}.csv", Path(tmp) / f"import_{round_no}.csv"
            generate(copy_path, args.rows, seed=round_no)
            generate(import_path, args.rows, seed=100 + round_no)
            before, outbox_before = RevenueEvent.objects.count(), OutboxMessage.objects.count()
            steps = ["copy", "import"] if round_no % 2 else ["import", "copy"]
            for step in steps:
                if step == "copy":
                    copy_s, copied = copy_baseline(copy_path)
                else:
                    import_s, peak_mb, cpu_s, line = run_import(import_path)
            rows_added.append(RevenueEvent.objects.count() - before - copied)
            outbox_added.append(OutboxMessage.objects.count() - outbox_before)
            imports.append(import_s)
            ratios.append(import_s / copy_s)
            peaks.append(peak_mb)
            print(
                f"round {round_no} ({' then '.join(steps)}): COPY + INSERT ... SELECT {copy_s:5.2f} s; "
                f"import {import_s:5.2f} s wall, {cpu_s:5.2f} s CPU, {peak_mb:5.1f} MB; "
                f"ratio {import_s / copy_s:.2f}x; load {os.getloadavg()[0]:.1f}"
            )
            print(f"         {line}")
        last = RevenueEvent.objects.count()
        again_s, again_mb, again_cpu, again_line = run_import(import_path)
        added_again = RevenueEvent.objects.count() - last
        peaks.append(again_mb)
        print(f"re-import of round {args.rounds}'s file: {again_s:5.2f} s wall, {again_cpu:5.2f} s CPU")
        print(f"         {again_line}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")

    def spread(values: list[float], unit: str) -> str:
        return f"{min(values):.2f}{unit} / {statistics.median(values):.2f}{unit}"

    checks = [
        ("rows added per import", f"{args.rows:,}", f"{min(rows_added):,}", min(rows_added) == args.rows),
        ("outbox rows written per import", f"{args.rows:,}", f"{min(outbox_added):,}", min(outbox_added) == args.rows),
        (
            "import wall time (median)",
            f"< {TIME_LIMIT_S:.0f} s",
            f"{statistics.median(imports):.2f} s",
            statistics.median(imports) < TIME_LIMIT_S,
        ),
        (
            "import / (COPY + INSERT ... SELECT) min / median",
            f"<= {COPY_RATIO_LIMIT:.0f}x",
            spread(ratios, "x"),
            statistics.median(ratios) <= COPY_RATIO_LIMIT,
        ),
        ("peak memory", f"< {MEMORY_LIMIT_MB:.0f} MB", f"{max(peaks):.1f} MB", max(peaks) < MEMORY_LIMIT_MB),
        ("rows added by re-import", "0", f"{added_again:,}", added_again == 0),
    ]
    print()
    print(f"{'check':50} {'target':>12} {'measured':>16}  result")
    for name, target, measured, ok in checks:
        print(f"{name:50} {target:>12} {measured:>16}  {'PASS' if ok else 'FAIL'}")
    passed = all(ok for *_, ok in checks)
    print("\nOVERALL:", "PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Where booking spends its time: py-spy profiles of the one-by-one and the batched drain.

Run: scripts/bench.sh bench/profile_booking.py [--deliveries 2000] [--rate 250] [--out artifacts/profiles]

For each path the script stores --deliveries Stripe `charge.succeeded` deliveries (one day, one
entity, USD: bench_booking's burst), starts `py-spy record` on its own process, books them in
process, stops py-spy, and prints where the samples fell: wall time by activity (waiting on
PostgreSQL, JSON, mapping, validation, the ORM, ...) and the top functions by own time. The raw
collapsed stacks (flamegraph input) are kept in --out. Not a pass/fail benchmark: the numbers
explain bench_booking's.
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Activities, matched against a stack's frames from the leaf up (first match wins).
ACTIVITIES = [
    ("waiting on PostgreSQL (psycopg)", ("psycopg/", "psycopg_binary", "psycopg_pool")),
    ("JSON decoding", ("json/decoder.py", "json/__init__.py")),
    ("Decimal parsing", ("_pydecimal", "decimal")),
    ("Stripe/Gumroad mapping", ("integrations/stripe/mapping.py", "integrations/gumroad/mapping.py")),
    ("validation and entity resolution", ("revenue/services/ledger.py", "revenue/services/ledger_batch.py")),
    ("alerts and outbox", ("alerts/", "revenue/outbox.py", "integrations/services/delivery.py")),
    ("Django ORM and SQL compilation", ("django/db/",)),
    ("booking orchestration", ("integrations/services/booking.py", "integrations/services/ingest.py")),
]


def activity(stack: list[str]) -> str:
    for frame in reversed(stack):
        for name, markers in ACTIVITIES:
            if any(marker in frame for marker in markers):
                return name
    return "other Python"


def summarise(raw: Path, top: int = 12) -> str:
    """Collapsed stacks ("frame;frame;... count") -> time per activity and the top own-time functions."""
    by_activity: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        count, stack = int(count_text), stack_text.split(";")
        total += count
        by_activity[activity(stack)] += count
        own[stack[-1]] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples"]
    lines += [f"  {share / total:6.1%}  {name}" for name, share in by_activity.most_common()]
    lines.append("  top functions by own time:")
    lines += [f"  {share / total:6.1%}  {frame[:110]}" for frame, share in own.most_common(top)]
    return "\n".join(lines)


def store(count: int, template: dict) -> None:
    from integrations.services.ingest import NewDelivery, inbound_deliveries_store

    booking = _bench_booking()
    run = uuid.uuid4().hex[:8]
    for start in range(0, count, 500):
        inbound_deliveries_store(
            [
                NewDelivery(
                    "stripe", f"evt_prof_{run}_{n}", "charge.succeeded", booking.stored_body(run, n, template), {}
                )
                for n in range(start, min(count, start + 500))
            ]
        )


def _bench_booking():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_booking", ROOT / "bench" / "bench_booking.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def profile(path: str, *, count: int, rate: int, out: Path) -> str:
    from integrations.services.booking import inbound_deliveries_book
    from integrations.services.ingest import inbound_deliveries_drain

    store(count, _bench_booking().charge_template())
    raw = out / f"booking-{path}.txt"
    spy_args = ["record", "--pid", str(os.getpid()), "--rate", str(rate), "--format", "raw", "--output", str(raw)]
    spy = subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), *spy_args, "--nonblocking", "--idle"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # py-spy attaches
    book = inbound_deliveries_drain if path == "one-by-one" else inbound_deliveries_book
    started = time.perf_counter()
    done = book(max_seconds=900)
    elapsed = time.perf_counter() - started
    spy.send_signal(signal.SIGINT)
    spy.wait(timeout=60)
    head = f"{path}: {done} deliveries in {elapsed:.1f} s = {done / elapsed:.0f}/s"
    return f"{head}\n{summarise(raw)}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "profiles")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchberg.settings")
    django.setup()
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores")
    for path in ("one-by-one", "batched"):
        print(profile(path, count=args.deliveries, rate=args.rate, out=args.out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the web process's access log costs the intake (issue 21, item 6).

Run: scripts/bench.sh bench/bench_access_log.py [--rounds 3] [--burst 5000]

gunicorn with gunicorn.conf.py (uvicorn workers; `post_worker_init` puts the access log behind
`branchberg.log_filters.access_log_off_the_hot_path`), with and without the Procfile's
`--access-logfile -`, in interleaved rounds. stdout is a pipe read line by line, as a platform's
log collector reads it. No worker runs: a burst of --burst signed Stripe deliveries from 16
keep-alive senders measures intake alone (verified and stored). Target (exit 1 on a miss): intake
with the access log >= 90% of intake without it (median of the rounds), and every request logged.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("bench_booking", ROOT / "bench" / "bench_booking.py")
assert _spec is not None and _spec.loader is not None
booking = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(booking)
RATIO_TARGET = 0.9


def burst(port: int, count: int, template: dict) -> tuple[int, float]:
    """(accepted, seconds) for `count` deliveries from 16 keep-alive senders in 2 processes."""
    run = uuid.uuid4().hex[:8]
    context = multiprocessing.get_context("fork")
    queue, ready = context.Queue(), context.Barrier(2)
    senders = [
        context.Process(target=booking.count_sender, args=(port, i * 8, 8, count // 16, run, template, queue, ready))
        for i in range(2)
    ]
    for sender in senders:
        sender.start()
    results = [queue.get(timeout=300) for _ in senders]
    for sender in senders:
        sender.join()
    return sum(r["ok"] for r in results), max(r["finished"] for r in results) - min(r["started"] for r in results)


def intake_round(*, access_log: bool, count: int, template: dict) -> tuple[float, int, int]:
    """(deliveries/s, accepted, access log lines) for one gunicorn started for this round."""
    port = booking.webhooks.free_port()
    command = [str(Path(sys.executable).parent / "gunicorn"), f"--bind=127.0.0.1:{port}"]
    command += ["--access-logfile", "-"] if access_log else []
    env = {**os.environ, "LOG_LEVEL": "WARNING", "WEBHOOK_PROCESSING": "celery"}
    web = subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    lines = 0

    def collect() -> None:
        nonlocal lines
        assert web.stdout is not None
        for _ in web.stdout:
            lines += 1

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()
    try:
        if not booking.webhooks.wait_http(port):
            raise RuntimeError("gunicorn did not start")
        time.sleep(2)
        accepted, seconds = burst(port, count, template)
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=60)
        collector.join(timeout=10)
    return accepted / seconds, accepted, lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burst", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchberg.settings")
    os.environ["STRIPE_WEBHOOK_SECRET"] = booking.SECRET
    os.environ["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    django.setup()
    from django.db import connection

    template = booking.charge_template()
    rates: dict[bool, list[float]] = {True: [], False: []}
    complete = True
    print(f"cores {os.cpu_count()}; load {os.getloadavg()[0]:.1f}")
    for round_no in range(1, args.rounds + 1):
        for access_log in (True, False) if round_no % 2 else (False, True):
            connection.close()  # the senders fork
            rate, accepted, lines = intake_round(access_log=access_log, count=args.burst, template=template)
            rates[access_log].append(rate)
            # every delivery's line (and the readiness probe's): none lost by the writer thread
            complete = complete and (lines >= accepted if access_log else lines == 0)
            print(
                f"round {round_no}, access log {'on ' if access_log else 'off'}: {accepted} accepted at {rate:,.0f}/s, "
                f"{lines} access log lines; load {os.getloadavg()[0]:.1f}"
            )
    ratio = statistics.median(rates[True]) / statistics.median(rates[False])
    print(f"\n{'metric':<52}{'target':>10}{'measured':>12}  result")
    print(
        f"{'intake with the access log / without (median)':<52}{'>= 90%':>10}{ratio:>12.0%}  {'PASS' if ratio >= RATIO_TARGET else 'FAIL'}"
    )
    print(f"{'every request logged':<52}{'yes':>10}{'yes' if complete else 'no':>12}  {'PASS' if complete else 'FAIL'}")
    return 0 if ratio >= RATIO_TARGET and complete else 1


if __name__ == "__main__":
    sys.exit(main())

"""Booking vs intake: stored deliveries reach the ledger as fast as they arrive.

Run: scripts/bench.sh bench/bench_booking.py [--rounds 3] [--deliveries 2000] [--burst 5000]
                                             [--offered-rate 1000] [--offered-seconds 10]

Every burst is the rollup's worst case: Stripe `charge.succeeded` deliveries of one day, one
entity, one currency (USD), so every ledger row lands on the same `revenue_daily_rollup` row.
PostgreSQL is durable (fsync on, synchronous_commit on: scripts/bench.sh).

1. In process, interleaved rounds: store --deliveries, then book them with the one-by-one
   drain (`inbound_deliveries_drain`, what main's worker ran) and with the batched drain
   (`inbound_deliveries_book`); deliveries/s and statements per delivery. Same run, same
   database, alternating, so the ratio survives the noise of a shared machine.
2. Production processes: gunicorn with gunicorn.conf.py (uvicorn workers) and the Procfile's
   worker command (`celery -A branchberg worker --concurrency 4`), both running. Per round a
   burst of --burst deliveries from 16 keep-alive senders: accept time (first send to last 200)
   and drain time (first send to last ledger row); booking rate vs intake rate, each over its own
   span from the server's timestamps (stored: first to last `received_at`; booked: first to last
   `processed_at`, the first batch's deliveries not counted), and how many deliveries were still
   unbooked when the last one was stored. (Until session 8 the "rate" ratio was accept / drain time:
   the reciprocal of drain/accept, which no booking speed can bring to 100%, since the last delivery
   is always booked after it is accepted.)
3. The same processes at a fixed offered rate (--offered-rate for --offered-seconds, paced
   senders): p99 from each 200 to its delivery's `processed_at`.
4. Worker RSS (celery main + pool processes, /proc) after every round; the spread after the first.

Targets (exit 1 on a miss): batched booking >= 100% of the intake rate; drain <= 1.5x accept;
p99 200-to-ledger <= 1 s at the offered rate; worker RSS within +-20 MB across rounds.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("bench_webhooks", ROOT / "bench" / "bench_webhooks.py")
assert _spec is not None and _spec.loader is not None
webhooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(webhooks)
SECRET = webhooks.SECRET
BURST_DAY = 1_780_000_000  # one UTC day for every delivery of a burst


def charge_template() -> dict:
    template = json.loads(
        (ROOT.parent / "shared" / "data" / "stripe" / "charge_ch_fakefakefakefakefake0001.json").read_text()
    )
    template.update(balance_transaction=None, amount_captured=template["amount"], created=BURST_DAY, currency="usd")
    template["metadata"] = {}
    return template


def burst_event(run: str, sender: int, n: int, template: dict) -> str:
    """A distinct buyer per delivery: one customer paying the same amount 1,000 times in a day is
    what the duplicate detector flags pairwise (quadratic work), not a burst of sales."""
    return webhooks.sample_event(run, sender, n, {**template, "customer": f"cus_bench_{run}_{sender}_{n}"})


def stored_body(run: str, n: int, template: dict) -> str:
    return burst_event(run, 0, n, template)


# ---------------------------------------------------------------- 1. in process


def in_process_round(path: str, *, count: int, template: dict) -> tuple[float, float]:
    """Store `count` deliveries, book them with `path`; returns (deliveries/s, statements per delivery)."""
    from django.db import connection

    from integrations.services.booking import inbound_deliveries_book
    from integrations.services.ingest import NewDelivery, inbound_deliveries_drain, inbound_deliveries_store

    run = f"{path[0]}{uuid.uuid4().hex[:8]}"
    for start in range(0, count, 500):
        inbound_deliveries_store(
            [
                NewDelivery("stripe", f"evt_bench_{run}_0_{n}", "charge.succeeded", stored_body(run, n, template), {})
                for n in range(start, min(count, start + 500))
            ]
        )
    book = inbound_deliveries_drain if path == "one-by-one" else inbound_deliveries_book
    trigger = "DISABLE" if path == "no-rollup" else "ENABLE"
    with connection.cursor() as cursor:  # the bench's own database: the owner may switch the trigger
        cursor.execute(f"ALTER TABLE revenue_events {trigger} TRIGGER revenue_daily_rollup_insert")
    statements = 0

    def counted(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        started = time.perf_counter()
        done = book(max_seconds=600)
        elapsed = time.perf_counter() - started
    if done != count:
        raise RuntimeError(f"{path}: booked {done} of {count}")
    return count / elapsed, statements / count


# ---------------------------------------------------------------- 2-4. production processes


def start_processes(port: int) -> list[subprocess.Popen]:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "LOG_LEVEL": "WARNING", "WEBHOOK_PROCESSING": "celery"}
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if ": " in line)
    worker = procfile["worker"].replace("${WORKER_CONCURRENCY:-4}", os.environ.get("WORKER_CONCURRENCY", "4"))
    web = [str(bin_dir / "gunicorn"), f"--bind=127.0.0.1:{port}"]
    web += [arg for arg in procfile["web"].split()[1:] if not arg.startswith(("--bind", "0.0.0.0"))]
    return [
        subprocess.Popen(web, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL),
        subprocess.Popen(
            [str(bin_dir / "celery"), *worker.split()[1:]],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and its children (celery's pool), from /proc."""
    total, pids = 0, [pid]
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            with open(f"/proc/{current}/task/{current}/children") as children:
                pids += [int(child) for child in children.read().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def burst_round(port: int, *, seconds_cap: float, burst: int, template: dict) -> dict:
    """`burst` deliveries as fast as 16 senders go; accept time and time until the last is booked."""
    from django.db import connection

    from integrations.models import InboundDelivery

    run = uuid.uuid4().hex[:8]
    connection.close()
    context = multiprocessing.get_context("fork")
    queue, ready = context.Queue(), context.Barrier(2)
    per_sender = burst // 16
    processes = [
        context.Process(target=count_sender, args=(port, i * 8, 8, per_sender, run, template, queue, ready))
        for i in range(2)
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=seconds_cap) for _ in processes]
    for process in processes:
        process.join()
    started = min(r["started"] for r in results)
    accepted_at = max(r["finished"] for r in results)
    ok = sum(r["ok"] for r in results)
    mine = InboundDelivery.objects.filter(event_id__startswith=f"evt_bench_{run}_")
    while mine.filter(status=InboundDelivery.Status.RECEIVED).exists() and time.time() - started < seconds_cap:
        time.sleep(0.05)
    times = [
        (r.timestamp(), p.timestamp() if p else float("inf"))
        for r, p in mine.values_list("received_at", "processed_at")
    ]
    received = sorted(r for r, _ in times)
    booked = sorted(p for _, p in times)
    # Each side's rate over its own span, from the server's timestamps: stored (received_at, set by the
    # web process) and booked (processed_at, shared by a batch). Booking's span starts at the first
    # batch, so the deliveries of that batch are not counted in it.
    after_first = sum(1 for at in booked if at > booked[0])
    booking_span = booked[-1] - booked[0]
    return {
        "ok": ok,
        "accept": accepted_at - started,
        "drain": booked[-1] - started,
        "waiting": mine.filter(status=InboundDelivery.Status.RECEIVED).count(),
        "intake_rate": (len(received) - 1) / (received[-1] - received[0]),
        "booking_rate": after_first / booking_span if booking_span > 0 else float("inf"),
        # Received but not yet booked when the last delivery was stored: what booking owed at the end.
        "backlog": sum(1 for _, at in times if at > received[-1]),
    }


def count_sender(port: int, first: int, connections: int, per_connection: int, run, template, queue, ready) -> None:
    """`per_connection` requests on each of `connections` keep-alive connections, one in flight each."""
    import selectors
    import socket

    requests = {
        i: [webhooks.signed_request(port, burst_event(run, first + i, n, template)) for n in range(per_connection)]
        for i in range(connections)
    }
    ready.wait()
    selector, socks, ok = selectors.DefaultSelector(), {}, 0
    started = time.time()
    for i in requests:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks[i] = [sock, b""]
        selector.register(sock, selectors.EVENT_READ, i)
        sock.sendall(requests[i].pop())
    while socks:
        for key, _ in selector.select(timeout=5):
            i = key.data
            sock, buffer = socks[i]
            buffer += sock.recv(65536)
            end = buffer.find(b"\r\n\r\n")
            head = buffer[:end].decode("latin-1").lower()
            length = int(head.split("content-length:")[1].split("\r\n")[0]) if "content-length:" in head else 0
            if end < 0 or len(buffer) < end + 4 + length:
                socks[i][1] = buffer
                continue
            ok += buffer.startswith(b"HTTP/1.1 200")
            socks[i][1] = b""
            if requests[i]:
                sock.sendall(requests[i].pop())
            else:
                selector.unregister(sock)
                sock.close()
                del socks[i]
    queue.put({"ok": ok, "started": started, "finished": time.time()})


def paced_sender(port: int, index: int, rate: float, seconds: float, run: str, template: dict, queue, ready) -> None:
    """One keep-alive connection sending at `rate`/s (an open-loop schedule); (event id, 200 time) each."""
    import http.client

    bodies = [burst_event(run, index, n, template) for n in range(int(rate * seconds))]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    answered = []
    ready.wait()
    t0 = time.time()
    for n, body in enumerate(bodies):
        delay = t0 + n / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        from integrations.stripe.signature import stripe_signature_header

        header = stripe_signature_header(payload=body, secret=SECRET, timestamp=int(time.time()))
        conn.request("POST", "/webhooks/stripe", body, {"Content-Type": "application/json", "Stripe-Signature": header})
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            answered.append((json.loads(body)["id"], time.time()))
    queue.put(answered)


def offered_rate_round(port: int, *, rate: float, seconds: float, senders: int, template: dict) -> dict:
    from django.db import connection

    from integrations.models import InboundDelivery

    run = uuid.uuid4().hex[:8]
    connection.close()
    context = multiprocessing.get_context("fork")
    queue, ready = context.Queue(), context.Barrier(senders)
    processes = [
        context.Process(target=paced_sender, args=(port, i, rate / senders, seconds, run, template, queue, ready))
        for i in range(senders)
    ]
    for process in processes:
        process.start()
    answered = dict(pair for _ in processes for pair in queue.get(timeout=seconds + 120))
    for process in processes:
        process.join()
    mine = InboundDelivery.objects.filter(event_id__in=list(answered))
    deadline = time.time() + 120
    while mine.filter(status=InboundDelivery.Status.RECEIVED).exists() and time.time() < deadline:
        time.sleep(0.1)
    rows = list(mine.values_list("event_id", "received_at", "processed_at"))
    lags = [  # a delivery still waiting counts as never booked
        (processed.timestamp() if processed else float("inf")) - answered[event_id] for event_id, _, processed in rows
    ]
    # Where the lag goes: a batch's deliveries share one processed_at, so their count and size show
    # whether the backlog was booked in many small passes (hand-off bound) or few full ones (booking bound).
    batches = {processed for _, _, processed in rows if processed is not None}
    in_store = [(processed - received).total_seconds() for _, received, processed in rows if processed is not None]
    return {
        "sent": len(answered),
        "achieved": len(answered) / seconds,
        "p50": webhooks.percentile(lags, 50),
        "p99": webhooks.percentile(lags, 99),
        "max": max(lags),
        "batches": len(batches),
        "stored_p99": webhooks.percentile(in_store, 99) if in_store else float("inf"),
    }


def summary(values: list[float]) -> str:
    return f"min {min(values):,.2f} median {statistics.median(values):,.2f}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--deliveries", type=int, default=2000, help="in-process round size")
    parser.add_argument("--burst", type=int, default=5000, help="deliveries per production burst")
    parser.add_argument("--offered-rate", type=float, default=1000.0)
    parser.add_argument("--offered-seconds", type=float, default=10.0)
    parser.add_argument("--paced-senders", type=int, default=8)
    parser.add_argument("--skip-processes", action="store_true", help="only the in-process comparison")
    parser.add_argument("--skip-in-process", action="store_true", help="only the production processes (e.g. on main)")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchberg.settings")
    os.environ["STRIPE_WEBHOOK_SECRET"] = SECRET
    if not os.environ.get("TEST_REDIS_URL"):
        print("TEST_REDIS_URL is not set: run through scripts/bench.sh")
        return 1
    os.environ["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    django.setup()
    from django.conf import settings
    from django.db import connection

    # In-process rounds hand outbox messages to Redis as a worker does (nobody consumes them there).
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = os.environ["TEST_REDIS_URL"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW fsync")
        fsync = cursor.fetchone()[0]
        cursor.execute("SHOW synchronous_commit")
        sync = cursor.fetchone()[0]
    print(f"PostgreSQL fsync={fsync} synchronous_commit={sync}; cores {os.cpu_count()}; load {os.getloadavg()}")
    template = charge_template()

    if not args.skip_in_process:
        in_process(args, template)
    if args.skip_processes:
        return 0
    return 1 if production(args, template) else 0


def in_process(args, template: dict) -> None:
    print(f"\n1. In process, {args.deliveries} stored deliveries per round, {args.rounds} interleaved rounds")
    paths = ["one-by-one", "batched", "no-rollup"]  # no-rollup: batched with the rollup trigger off
    rates: dict[str, list[float]] = {path: [] for path in paths}
    statements: dict[str, list[float]] = {path: [] for path in paths}
    for round_no in range(args.rounds):
        for path in paths if round_no % 2 == 0 else paths[::-1]:
            rate, per = in_process_round(path, count=args.deliveries, template=template)
            rates[path].append(rate)
            statements[path].append(per)
            print(f"   round {round_no + 1} {path:<10} {rate:8,.0f} deliveries/s  {per:5.2f} statements/delivery")
    for path in rates:
        print(f"   {path:<10} deliveries/s {summary(rates[path])}; statements/delivery {summary(statements[path])}")
    ratios = [b / o for b, o in zip(rates["batched"], rates["one-by-one"], strict=True)]
    print(f"   batched / one-by-one: {summary(ratios)}")
    without = [n / b for n, b in zip(rates["no-rollup"], rates["batched"], strict=True)]
    print(f"   batched without the rollup trigger / with it: {summary(without)}")
    from revenue.services import revenue_daily_rollup_rebuild

    revenue_daily_rollup_rebuild()  # the rows booked with the trigger off


def production(args, template: dict) -> bool:
    """Sections 2-4; returns True when a target is missed."""
    from django.db import connection

    failed = False
    import redis

    redis.Redis.from_url(os.environ["TEST_REDIS_URL"]).flushdb()  # the in-process rounds' unconsumed messages
    port = webhooks.free_port()
    connection.close()
    children = start_processes(port)
    try:
        if not webhooks.wait_http(port):
            raise RuntimeError("gunicorn did not start")
        time.sleep(3)  # the worker's pool
        print(f"\n2. Production processes (Procfile web + worker), burst of {args.burst}, {args.rounds} rounds")
        rss, bursts = [], []
        for round_no in range(args.rounds):
            outcome = burst_round(port, seconds_cap=600, burst=args.burst, template=template)
            rss.append(tree_rss_mb(children[1].pid))
            bursts.append(outcome)
            print(
                f"   round {round_no + 1}: {outcome['ok']} accepted in {outcome['accept']:.2f} s "
                f"({outcome['ok'] / outcome['accept']:,.0f}/s); last booked at {outcome['drain']:.2f} s "
                f"(drain/accept {outcome['drain'] / outcome['accept']:.2f}); stored {outcome['intake_rate']:,.0f}/s, "
                f"booked {outcome['booking_rate']:,.0f}/s; {outcome['backlog']} not yet booked when the last was "
                f"stored; waiting {outcome['waiting']}; worker RSS {rss[-1]:.0f} MB; load {os.getloadavg()[0]:.1f}"
            )
        drain_ratio = [b["drain"] / b["accept"] for b in bursts]
        booking_vs_intake = [b["booking_rate"] / b["intake_rate"] for b in bursts]
        print(f"   drain/accept {summary(drain_ratio)}; booking rate / intake rate {summary(booking_vs_intake)}")
        print(f"\n3. Offered {args.offered_rate:.0f}/s for {args.offered_seconds:.0f} s, {args.rounds} rounds")
        p99s = []
        for round_no in range(args.rounds):
            outcome = offered_rate_round(
                port,
                rate=args.offered_rate,
                seconds=args.offered_seconds,
                senders=args.paced_senders,
                template=template,
            )
            p99s.append(outcome["p99"])
            print(
                f"   round {round_no + 1}: {outcome['sent']} answered ({outcome['achieved']:,.0f}/s achieved); "
                f"200 -> ledger p50 {outcome['p50'] * 1000:.0f} ms p99 {outcome['p99'] * 1000:.0f} ms "
                f"max {outcome['max'] * 1000:.0f} ms; {outcome['batches']} batches "
                f"({outcome['sent'] / max(outcome['batches'], 1):.0f} per batch); stored -> booked p99 "
                f"{outcome['stored_p99'] * 1000:.0f} ms; load {os.getloadavg()[0]:.1f}"
            )
        rss.append(tree_rss_mb(children[1].pid))
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()

    print(f"\n{'metric':<52}{'target':>10}{'measured (median)':>20}  result")

    def row(label: str, target: str, measured: str, ok: bool) -> None:
        nonlocal failed
        failed = failed or not ok
        print(f"{label:<52}{target:>10}{measured:>20}  {'PASS' if ok else 'FAIL'}")

    median_ratio = statistics.median(booking_vs_intake)
    row("booking rate / intake rate (burst, one day/entity/USD)", ">= 100%", f"{median_ratio:.0%}", median_ratio >= 1)
    median_drain = statistics.median(drain_ratio)
    row("burst drained / accepted (time)", "<= 1.5x", f"{median_drain:.2f}x", median_drain <= 1.5)
    median_p99 = statistics.median(p99s)
    row(f"p99 200 -> ledger at {args.offered_rate:.0f}/s offered", "<= 1 s", f"{median_p99:.2f} s", median_p99 <= 1)
    growth = max(rss[1:]) - min(rss[1:])  # after the first (warm-up: imports, pool start, caches)
    row("worker RSS spread after the first round", "<= 20 MB", f"{growth:.1f} MB", growth <= 20)
    print(f"load average after: {os.getloadavg()}; finished {datetime.now(UTC):%H:%M:%S} UTC")
    return failed


if __name__ == "__main__":
    sys.exit(main())

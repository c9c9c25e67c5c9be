"""Two beats for a simulated week: one summary and one Slack post per period.

Two real `celery beat` processes (DatabaseScheduler, the production schedule that
`setup_periodic_tasks` writes) and one real worker run against the test PostgreSQL and
Redis while their wall clocks move through Thu 2026-02-26 05:00 to Thu 2026-03-05 06:45
America/Chicago: eight daily digests, the week Feb 23 - Mar 1 (due Monday Mar 2) and
February (due Sunday Mar 1), after a catch-up of the days the beat was down. Summaries
reach Slack the product's way (outbox -> Celery -> slack channel) at a local HTTP server.

The clock. Debian's libfaketime fakes the wall clock of the beats and the worker (the
tick decides in the worker what is due, from its own clock). Its speed factor
(FAKETIME="@... x10000") was tried and rejected: libfaketime divides every poll/select/socket
timeout by the speed, so at the ~10 000x a week in a minute needs, the broker's 5 s socket
timeout becomes 0.5 ms; and each process's fake clock starts when that process starts.
Instead every faked process reads one clock file (FAKETIME_TIMESTAMP_FILE, re-read on each
call with FAKETIME_NO_CACHE=1) holding an instant, and this test moves that instant forward
in small steps at SPEED x real time: all clocks agree exactly, while sleeps, timeouts and
the monotonic clock stay real (FAKETIME_DONT_FAKE_MONOTONIC=1). Python 3.11 sleeps with
clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), which libfaketime 0.9.10 (bookworm) turns
into EINVAL when the monotonic clock is left real (wolfcw/libfaketime#426), so a
sitecustomize in the faked processes makes time.sleep wait on the real monotonic clock.
Nothing of ours is patched. Beat's --max-interval takes whole seconds only (10 000 fake
ones here), so its float setting is given as configuration on the command line.

Not crossed: the DST change of Mar 8 (four more fake days, ~35 s more); the tick across it
is tested with a frozen clock in summaries/tests/test_schedule.py.

Durations the product measures on the wall clock shrink SPEED times in real time. Two matter
for exactly-once: the delivery lease, which the product sizes to outlast one send (twice the
HTTP timeout plus 30 s) while the HTTP timeout stays real here, so the test scales it back
(`LEASE_SECONDS`); and kombu's one-hour visibility timeout (0.36 s real), after which an
unacknowledged message is handed out again - harmless, since a tick, a dispatch and a send
are idempotent, and not configurable from the environment.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from integrations.models import Delivery
from revenue.models import OutboxMessage
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry
from summaries.models import RevenueSummary
from summaries.tasks import summaries_tick

from .conftest import Process, celery_worker_command, spawn, stack_env, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

CHICAGO = ZoneInfo("America/Chicago")
# The beat last ran on Sunday morning, then was down until Thursday 05:00.
LAST_TICK_BEFORE = datetime(2026, 2, 22, 6, 30, tzinfo=CHICAGO)
START = datetime(2026, 2, 26, 5, 0, tzinfo=CHICAGO)
END = datetime(2026, 3, 5, 6, 45, tzinfo=CHICAGO)
# Fake seconds per real second: the week takes about a minute.
SPEED = 10_000
STEP_REAL_SECONDS = 0.005  # the clock file moves 50 fake seconds at a time
BEAT_MAX_INTERVAL = "0.05"  # beat looks at the clock 20 times a real second (every ~8 fake minutes)
# The product's default lease (2 x 5 s + 30 s), in fake seconds, so that it still outlasts a send
# that takes real seconds. With the default (40 fake s = 4 ms real) the week also passed with
# every delivery sent at its first attempt, but only because nothing handed a send out twice.
LEASE_SECONDS = (2 * 5 + 30) * SPEED
# A tick every 15 minutes, seen by beat every ~8 fake minutes plus what a loop costs in real
# time (milliseconds are fake minutes): "at 06:00" means within this here.
LATE = timedelta(hours=2)

# Sent by the first ticks at START: what fell due while the beat was down.
CATCH_UP = [("daily", date(2026, 2, 22)), ("daily", date(2026, 2, 23)), ("daily", date(2026, 2, 24))]
CATCH_UP += [("weekly", date(2026, 2, 16))]
# Due at 06:00 Chicago during the week.
IN_WINDOW = [("daily", date(2026, 2, 25) + timedelta(days=n)) for n in range(8)]  # Feb 25 .. Mar 4
IN_WINDOW += [("weekly", date(2026, 2, 23)), ("monthly", date(2026, 2, 1))]
LABELS = {
    ("weekly", date(2026, 2, 16)): "2026-02-16 to 2026-02-22",
    ("weekly", date(2026, 2, 23)): "2026-02-23 to 2026-03-01",
    ("monthly", date(2026, 2, 1)): "February 2026",
}
PERIOD_DAYS = {"daily": 1, "weekly": 7}


def _title(kind: str, start: date) -> str:
    label = LABELS.get((kind, start), start.isoformat())
    return f"💰 {kind.title()} Revenue Summary ({label})"


def _due_at(kind: str, start: date) -> datetime:
    if kind == "monthly":
        end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    else:
        end = start + timedelta(days=PERIOD_DAYS[kind])
    return datetime(end.year, end.month, end.day, 6, 0, tzinfo=CHICAGO)


def _period_days(kind: str, start: date) -> list[date]:
    days, day = [], start
    while day < _due_at(kind, start).date():
        days.append(day)
        day += timedelta(days=1)
    return days


# --- the clock ------------------------------------------------------------------------------

LIBFAKETIME = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))), None)

# libfaketime 0.9.10 with FAKETIME_DONT_FAKE_MONOTONIC=1 gives Python 3.11's time.sleep a
# negative deadline (EINVAL, wolfcw/libfaketime#426): sleep on a real monotonic wait instead.
SITECUSTOMIZE = '''"""Written by test_beat_faults.py for its libfaketime processes only."""
import threading
import time


def _sleep(seconds):
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    threading.Event().wait(seconds)


time.sleep = _sleep
'''


class SimulatedClock:
    """The instant every faked process reads, moved forward at `speed` x real time by a thread."""

    def __init__(self, directory: Path, start: datetime, speed: float):
        self.path = directory / "faketime"
        self.start = start.astimezone(UTC)
        self.speed = speed
        self.current = self.start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._write(self.start)

    def _write(self, instant: datetime) -> None:
        # Written aside and renamed: a reader never sees a half-written file (it would fall back to real time).
        temporary = self.path.with_suffix(".new")
        temporary.write_text(instant.strftime("%Y-%m-%d %H:%M:%S"))
        os.replace(temporary, self.path)
        self.current = instant

    def run_until(self, end: datetime) -> None:
        end = end.astimezone(UTC)

        def advance():
            began = time.monotonic()
            while not self._stop.is_set():
                instant = self.start + timedelta(seconds=int((time.monotonic() - began) * self.speed))
                self._write(min(instant, end))
                if instant >= end:
                    return
                self._stop.wait(STEP_REAL_SECONDS)

        self._thread = threading.Thread(target=advance, name="simulated-clock", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def env(self, shim: Path) -> dict[str, str]:
        return {
            "LD_PRELOAD": str(LIBFAKETIME),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "TZ": "UTC",  # the clock file is read in the process's local zone
            "PYTHONPATH": os.pathsep.join(filter(None, [str(shim), os.environ.get("PYTHONPATH", "")])),
        }


# --- the stack --------------------------------------------------------------------------------


def _start_beat(name: str, env: dict[str, str], tmp_path: Path) -> Process:
    return spawn(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "branchberg",
            "beat",
            "--loglevel",
            "INFO",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "--pidfile",
            str(tmp_path / f"beat-{name}.pid"),
            # Configuration from the command line: --max-interval takes whole seconds only.
            f"beat_max_loop_interval={BEAT_MAX_INTERVAL}",
        ],
        env=env,
        log_path=tmp_path / f"beat-{name}.log",
    )


def _start_worker(env: dict[str, str], tmp_path: Path) -> Process:
    # Two processes, so two ticks at once really race for the same period.
    return spawn(celery_worker_command(name="beatweek", concurrency=2), env=env, log_path=tmp_path / "worker.log")


TICK_SENT = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+: INFO/MainProcess\] Scheduler: Sending due task .*\(summaries\.tick\)$",
    re.MULTILINE,
)


def _ticks_sent(beat: Process) -> list[datetime]:
    """Fake instants at which this beat sent summaries.tick (its log is stamped by its fake clock, UTC)."""
    return [datetime.fromisoformat(stamp).replace(tzinfo=UTC) for stamp in TICK_SENT.findall(beat.log())]


def _redis_idle() -> bool:
    import redis

    client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
    return client.llen("celery") == 0 and client.hlen("unacked") == 0


# --- the data -----------------------------------------------------------------------------------


def _seed_ledger(entities) -> dict[date, int]:
    """Two payments a business day from Feb 16 to Mar 5, one near midnight; returns net cents per day."""
    per_day: dict[date, int] = {}
    day = date(2026, 2, 16)
    while day <= date(2026, 3, 5):
        n = (day - date(2026, 2, 16)).days
        rows = [
            ("aplus-enterprise", "stripe", 10_000 + 100 * n, datetime(day.year, day.month, day.day, 9, 30)),
            # 23:45 Chicago is the next UTC day: it must count for this business day.
            ("legacy-unchained", "gumroad", 5_000 + n, datetime(day.year, day.month, day.day, 23, 45)),
        ]
        for slug, provider, amount, local in rows:
            entry = ledger_entry(amount_cents=amount, occurred_at=local.replace(tzinfo=CHICAGO), provider=provider)
            revenue_event_record(entry=entry, entity=entities[slug])
        per_day[day] = sum(amount for _, _, amount, _ in rows)
        day += timedelta(days=1)
    return per_day


class SlackInbox:
    def __init__(self, httpserver):
        self.posts: list[dict] = []
        self._lock = threading.Lock()
        httpserver.expect_request("/services/T000/B000/beatweek", method="POST").respond_with_handler(self)
        self.url = httpserver.url_for("/services/T000/B000/beatweek")

    def __call__(self, request):
        from werkzeug import Response

        with self._lock:
            self.posts.append(request.get_json())
        return Response("ok", status=200)

    def titles(self) -> Counter:
        with self._lock:
            return Counter(post["text"].split("\n", 1)[0] for post in self.posts)


# --- the test -----------------------------------------------------------------------------------


def test_two_beats_for_a_simulated_week_send_each_period_once(httpserver, seeded_entities, settings, tmp_path):
    if LIBFAKETIME is None:
        pytest.fail("libfaketime is not installed: run the suite with scripts/test.sh (it installs it)")
    settings.SLACK_WEBHOOK_URL = ""  # what this process sends (the history below) goes nowhere
    per_day = _seed_ledger(seeded_entities)

    # The production schedule. Only the summaries tick runs: the 60 s outbox and inbound sweeps
    # (~10 000 runs each in a fake week) and the alert passes add load and Slack posts, nothing
    # to what is measured. The beat last ticked on Sunday morning, when it had sent Saturday.
    call_command("setup_periodic_tasks", stdout=io.StringIO())
    PeriodicTask.objects.exclude(task="summaries.tick").update(enabled=False)
    PeriodicTask.objects.filter(task="summaries.tick").update(last_run_at=LAST_TICK_BEFORE)
    with time_machine.travel(LAST_TICK_BEFORE, tick=False):
        summaries_tick.apply()
    history = set(
        RevenueSummary.objects.filter(entity__isnull=True, sent_at__isnull=False).values_list("period", "start_date")
    )
    assert history == {("daily", date(2026, 2, 21)), ("weekly", date(2026, 2, 9)), ("monthly", date(2026, 1, 1))}

    slack = SlackInbox(httpserver)
    shim = tmp_path / "faketime-shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
    clock = SimulatedClock(tmp_path, START, SPEED)
    env = stack_env(
        **clock.env(shim),
        SLACK_WEBHOOK_URL=slack.url,
        NOTION_API_KEY="",
        OPENAI_API_KEY="",
        CONN_MAX_AGE="60",  # the production default; Django measures it on the (real) monotonic clock
        OUTBOUND_HTTP_TIMEOUT_SECONDS="5",
        DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    processes: list[Process] = []
    try:
        # The tick is overdue at START: a beat that reads the schedule before the other one has
        # written its first run sends it too, and the worker's two processes run both at once.
        beats = [_start_beat(name, env, tmp_path) for name in ("a", "b")]
        processes += beats
        for beat in beats:
            wait_until(
                lambda beat=beat: "beat: Starting..." in beat.log() or beat.popen.poll() is not None,
                timeout=60,
                what="beat to start",
            )
            assert beat.popen.poll() is None, beat.log()[-3000:]
        wait_until(lambda: any(_ticks_sent(beat) for beat in beats), timeout=30, what="the first tick")
        time.sleep(1)  # the other beat has read the schedule by now, and sent the tick or not
        print("ticks sent at START:", sum(len(_ticks_sent(beat)) for beat in beats))
        worker = _start_worker(env, tmp_path)
        processes.append(worker)
        wait_until(lambda: "ready." in worker.log(), timeout=60, what="the worker to be ready")
        wait_until(_redis_idle, timeout=60, what="the catch-up ticks to run")

        began = time.monotonic()
        clock.run_until(END)
        while clock.current < END.astimezone(UTC):
            for process in processes:
                assert process.popen.poll() is None, process.log()[-3000:]
            time.sleep(0.5)
        week_seconds = time.monotonic() - began
        for beat in beats:
            beat.stop()
        expected = CATCH_UP + IN_WINDOW
        wait_until(
            lambda: _redis_idle()
            and sum(slack.titles().values()) >= len(expected)
            and not Delivery.objects.exclude(status=Delivery.Status.SENT).exists(),
            timeout=60,
            what="the worker to finish the week",
        )
        time.sleep(1)  # a late duplicate would show up here
        worker.stop()
    finally:
        clock.stop()
        for process in processes:
            process.stop()
    print(f"simulated week: {week_seconds:.1f} s real at {SPEED}x")

    # Both beats ran all week and each sent the tick after every 06:00 that had something due.
    ticks = {beat.log_path.name: _ticks_sent(beat) for beat in beats}
    together = sum(
        any(abs(at - other) < timedelta(minutes=5) for other in ticks["beat-b.log"]) for at in ticks["beat-a.log"]
    )
    print(
        "ticks sent:",
        {name: len(sent) for name, sent in ticks.items()},
        f"within 5 fake minutes of each other: {together}",
    )
    for name, sent in ticks.items():
        assert len(sent) >= 7 * 24, (name, len(sent))  # at least one an hour, all week
        for kind, start in IN_WINDOW:
            due = _due_at(kind, start)
            assert any(due <= at < due + LATE for at in sent), (name, kind, start)
    received = len(re.findall(r"Task summaries\.tick\[[0-9a-f-]+\] received", worker.log()))
    assert received >= sum(len(sent) for sent in ticks.values())
    assert not re.search(r"ERROR|Traceback", worker.log()), worker.log()[-5000:]

    # Exactly the expected periods were sent, each once: one digest row flipped, one outbox
    # message, one Slack delivery, one post.
    titles = slack.titles()
    assert titles == Counter({_title(kind, start): 1 for kind, start in expected}), titles
    digests = {
        (row.period, row.start_date): row
        for row in RevenueSummary.objects.filter(entity__isnull=True, sent_at__isnull=False)
    }
    assert set(digests) == history | set(expected)
    messages = Counter(
        (message.topic.removeprefix("summary."), date.fromisoformat(message.payload["start_date"]))
        for message in OutboxMessage.objects.filter(topic__startswith="summary.")
    )
    assert messages == Counter(history | set(expected))
    deliveries = Delivery.objects.filter(channel="slack", message__topic__startswith="summary.")
    assert deliveries.count() == len(expected)
    assert set(deliveries.values_list("status", flat=True)) == {Delivery.Status.SENT}
    print("delivery attempts:", Counter(deliveries.values_list("attempts", flat=True)))

    # Catch-up went out with the first ticks, the rest at (or just after) 06:00 Chicago, with the
    # figures; every row of a period carries the one sent_at of the one transaction that sent it.
    lateness = []
    for kind, start in expected:
        digest = digests[(kind, start)]
        sent_at = digest.sent_at.astimezone(CHICAGO)
        if (kind, start) in CATCH_UP:
            assert sent_at == START, (kind, start, sent_at)  # the clock stood still until they were done
        else:
            due = _due_at(kind, start)
            assert due <= sent_at < due + LATE, (kind, start, sent_at)
            lateness.append(sent_at - due)
        rows = RevenueSummary.objects.filter(period=kind, start_date=start)
        assert rows.count() == 1 + len(seeded_entities)
        assert set(rows.values_list("sent_at", flat=True)) == {digest.sent_at}
        total = sum(per_day.get(day, 0) for day in _period_days(kind, start))
        assert digest.total_amount_cents == total, (kind, start)
        [post] = [post for post in slack.posts if post["text"].startswith(_title(kind, start))]
        assert f"Total: ${Decimal(total) / 100:,.2f}" in post["text"]
    print("sent after 06:00 by at most", max(lateness))

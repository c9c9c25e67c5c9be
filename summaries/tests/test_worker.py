"""A real Celery worker, started as a process against the test Redis, runs `summaries.tick`."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from integrations.models import Delivery
from integrations.tasks import outbox_sweep
from revenue.business_time import business_zone
from revenue.models import OutboxMessage
from revenue.periods import Cadence
from summaries.models import RevenueSummary
from summaries.periods import latest_due
from summaries.tasks import summaries_tick

from .conftest import local

TIMEOUT_SECONDS = 120


def _database_url() -> str:
    """The test database, as the app role when scripts/services.sh created one (as workers run in production)."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    if os.environ.get("TEST_APP_DATABASE_URL"):
        app = urlsplit(os.environ["TEST_APP_DATABASE_URL"])
        auth = f"{app.username}:{app.password}" if app.password else str(app.username)
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _wait_for(condition, what: str, worker: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.poll() is not None:
            pytest.fail(f"the worker exited with {worker.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{log.read_text()[-3000:]}")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_due_summary_once(seeded_entities, record, httpserver, tmp_path, settings):
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.fail("TEST_REDIS_URL is not set: run the suite with scripts/test.sh")
    target = latest_due(Cadence.DAILY, timezone.now())
    day = target.first_day
    record(4200, local(day.year, day.month, day.day, 12))
    record(1800, local(day.year, day.month, day.day, 23, 59), entity="legacy-unchained", provider="gumroad")
    httpserver.expect_request("/services/worker/hook", method="POST").respond_with_data("ok")

    env = {
        **os.environ,
        "CELERY_BROKER_URL": redis_url,
        "DATABASE_URL": _database_url(),
        "SLACK_WEBHOOK_URL": httpserver.url_for("/services/worker/hook"),
        "NOTION_API_KEY": "",
        "OPENAI_API_KEY": "",
        "REVENUE_TIME_ZONE": str(business_zone()),
    }
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "branchberg",
                "worker",
                "--pool=solo",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "--loglevel=INFO",
                f"--hostname=summaries-test-{os.getpid()}@%h",
            ],
            cwd=django_settings.BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    from branchberg.celery import app

    try:
        # The app reads Django settings under the CELERY_ namespace: namespaced keys are what count.
        settings.CELERY_TASK_ALWAYS_EAGER = False  # Celery reads Django settings lazily
        app.conf.CELERY_BROKER_URL = redis_url
        _wait_for(lambda: " ready." in log.read_text(), "the worker to start", worker, log)
        with app.connection_for_write(redis_url) as broker:
            summaries_tick.apply_async(connection=broker)

        def digest_posted() -> bool:
            return Delivery.objects.filter(
                channel="slack", message__topic="summary.daily", status=Delivery.Status.SENT
            ).exists()

        _wait_for(digest_posted, "the daily digest to reach Slack", worker, log)
        digest = RevenueSummary.objects.get(period="daily", start_date=day, entity__isnull=True)
        assert digest.sent_at is not None
        assert (digest.total_amount_cents, digest.event_count) == (6000, 2)
        assert RevenueSummary.objects.filter(period="daily", start_date=day).count() == 1 + len(seeded_entities)
        daily_posts = [
            request
            for request, _ in httpserver.log
            if f"Daily Revenue Summary ({day.isoformat()})" in request.get_data(as_text=True)
        ]
        assert len(daily_posts) == 1
        assert "Total: $60.00" in daily_posts[0].get_data(as_text=True)

        # The job again, through the worker: nothing more is posted.
        with app.connection_for_write(redis_url) as broker:
            summaries_tick.apply_async(connection=broker)
            # The solo pool runs tasks one at a time, in order: once the sweep sent after it has
            # dispatched this old pending outbox row, the second tick has finished.
            sentinel = OutboxMessage.objects.create(
                topic="test.worker.sentinel", payload={}, created_at=timezone.now() - timedelta(minutes=5)
            )
            outbox_sweep.apply_async(connection=broker)

        def sentinel_dispatched() -> bool:
            return OutboxMessage.objects.filter(pk=sentinel.pk, dispatched_at__isnull=False).exists()

        _wait_for(sentinel_dispatched, "the second tick and the sweep after it", worker, log)
        posted = [r for r, _ in httpserver.log if "Daily Revenue Summary" in r.get_data(as_text=True)]
        assert len(posted) == 1
    finally:
        app.conf.CELERY_BROKER_URL = django_settings.CELERY_BROKER_URL
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)

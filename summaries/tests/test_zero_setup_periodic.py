"""scripts/run.sh's periodic work: Celery beat and a worker in one process, messages through kombu's
filesystem transport (no Redis), the schedule from setup_periodic_tasks. A summary appears on its own."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from revenue.periods import Cadence
from summaries.models import RevenueSummary
from summaries.periods import latest_due

from .conftest import local


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_beat_and_worker_without_redis_compute_the_due_summary(seeded_entities, record, real_celery_worker, tmp_path):
    day = latest_due(Cadence.DAILY, timezone.now()).first_day
    record(4200, local(day.year, day.month, day.day, 12))
    call_command("setup_periodic_tasks")
    (tmp_path / "broker").mkdir()
    worker = real_celery_worker(
        "--beat",
        CELERY_BROKER_URL="filesystem://",
        CELERY_BROKER_FOLDER=str(tmp_path / "broker"),
        SLACK_WEBHOOK_URL="",
        NOTION_API_KEY="",
        OPENAI_API_KEY="",
        ECB_RATES_URL="http://127.0.0.1:9/unreachable",
    )
    # What scripts/run.sh does next: one summaries tick sent through the same folder, not Redis.
    subprocess.run(
        [str(Path(sys.executable).parent / "celery"), "-A", "branchberg", "call", "summaries.tick"],
        env={**os.environ, "CELERY_BROKER_URL": "filesystem://", "CELERY_BROKER_FOLDER": str(tmp_path / "broker")},
        check=True,
        capture_output=True,
        timeout=60,
    )
    summary = worker.wait_for(
        lambda: RevenueSummary.objects.filter(period="daily", start_date=day, entity__isnull=True).first(),
        "the worker to compute the daily summary",
        timeout=120,
    )
    assert summary.total_amount_cents == 4200
    # and beat schedules the periodic work by itself (the outbox sweep runs every minute)
    worker.wait_for(lambda: "Sending due task" in worker.log.read_text(), "beat to send a due task", timeout=150)

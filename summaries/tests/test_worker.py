"""A real Celery worker, started as a process against the test Redis, runs `summaries.tick`."""

import os
from datetime import timedelta

import pytest
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


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_due_summary_once(seeded_entities, record, httpserver, real_celery_worker):
    target = latest_due(Cadence.DAILY, timezone.now())
    day = target.first_day
    record(4200, local(day.year, day.month, day.day, 12))
    record(1800, local(day.year, day.month, day.day, 23, 59), entity="legacy-unchained", provider="gumroad")
    httpserver.expect_request("/services/worker/hook", method="POST").respond_with_data("ok")

    worker = real_celery_worker(
        SLACK_WEBHOOK_URL=httpserver.url_for("/services/worker/hook"),
        NOTION_API_KEY="",
        OPENAI_API_KEY="",
        REVENUE_TIME_ZONE=str(business_zone()),
    )
    from branchberg.celery import app

    redis_url = os.environ["TEST_REDIS_URL"]
    with app.connection_for_write(redis_url) as broker:
        summaries_tick.apply_async(connection=broker)

    def digest_posted() -> bool:
        return Delivery.objects.filter(
            channel="slack", message__topic="summary.daily", status=Delivery.Status.SENT
        ).exists()

    worker.wait_for(digest_posted, "the daily digest to reach Slack")
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

    worker.wait_for(sentinel_dispatched, "the second tick and the sweep after it")
    posted = [r for r, _ in httpserver.log if "Daily Revenue Summary" in r.get_data(as_text=True)]
    assert len(posted) == 1

"""Nothing lost when PostgreSQL or Redis fails under a stream of Stripe deliveries (real gunicorn)."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from integrations.models import InboundDelivery
from integrations.tasks import inbound_drain, outbox_sweep
from integrations.tests.webhook_helpers import STRIPE_SECRET, event, payment_intent, signed
from revenue.models import OutboxMessage, RevenueEvent

from .conftest import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def _delivery(n: int, prefix: str) -> str:
    pi = f"pi_{prefix}{n:04d}"
    return json.dumps(
        event("payment_intent.succeeded", payment_intent(pi=pi, ch=f"ch_{prefix}{n:04d}", amount=1000 + n))
    )


def _post_timed(base_url: str, body: str) -> tuple[int, float]:
    started = time.monotonic()
    status = _post(base_url, body)
    return status, time.monotonic() - started


def _post(base_url: str, body: str) -> int:
    response = requests.post(
        f"{base_url}/webhooks/stripe",
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": signed(body, secret=STRIPE_SECRET)},
        timeout=30,
    )
    return response.status_code


def test_postgres_down_answers_503_and_retries_book_each_payment_once(
    start_gunicorn, start_worker, enqueue, postgres_control
):
    base_url = start_gunicorn(workers=2, STRIPE_WEBHOOK_SECRET=STRIPE_SECRET)
    start_worker(name="booker")  # intake stores; a worker books (WEBHOOK_PROCESSING=celery)
    bodies = [_delivery(n, "pgdown") for n in range(30)]
    assert [_post(base_url, body) for body in bodies[:10]] == [200] * 10

    postgres_control.stop()
    try:
        while_down = [_post(base_url, body) for body in bodies[10:20]]
    finally:
        postgres_control.start()
    assert while_down == [503] * 10  # never 2xx (not stored), never 4xx (the provider would drop it)

    # The provider retries everything it did not get a 2xx for, and some it did (at-least-once).
    with ThreadPoolExecutor(max_workers=8) as pool:
        retried = list(pool.map(lambda body: _post(base_url, body), bodies))
    assert set(retried) == {200}
    enqueue(inbound_drain)
    keys = [f"stripe:pi_pgdown{n:04d}" for n in range(30)]
    rows = RevenueEvent.objects.filter(event_id__in=keys)
    wait_until(lambda: rows.count() >= 30, timeout=90, what="the worker to book every stored delivery")
    assert rows.count() == 30
    assert InboundDelivery.objects.filter(provider="stripe").count() == 30  # 40 posts, 30 distinct events
    assert sorted(rows.values_list("amount_cents", flat=True)) == [1000 + n for n in range(30)]


def test_redis_down_loses_nothing_and_the_sweeper_delivers_each_message_once(
    start_gunicorn, start_worker, enqueue, redis_control
):
    base_url = start_gunicorn(workers=2, STRIPE_WEBHOOK_SECRET=STRIPE_SECRET)
    bodies = [_delivery(n, "redisdown") for n in range(100)]
    redis_control.stop()
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda body: _post(base_url, body), bodies))
    finally:
        elapsed = time.monotonic() - started
        redis_control.start()
    assert statuses == [200] * 100, statuses
    print(f"100 deliveries with Redis down took {elapsed:.1f}s")
    assert InboundDelivery.objects.filter(status="received").count() == 100  # stored, waiting for a worker

    start_worker(name="after-outage")
    enqueue(inbound_drain)  # what the beat's inbound sweep does for hand-offs lost in the outage
    keys = [f"stripe:pi_redisdown{n:04d}" for n in range(100)]
    booked = RevenueEvent.objects.filter(event_id__in=keys)
    wait_until(lambda: booked.count() >= 100, timeout=120, what="every stored delivery to be booked")
    assert booked.count() == 100
    messages = OutboxMessage.objects.filter(payload__event_id__in=keys)
    enqueue(outbox_sweep, 0)
    wait_until(
        lambda: not messages.filter(dispatched_at__isnull=True).exists(),
        timeout=60,
        what="every outbox message to be dispatched",
    )
    assert messages.count() == 100
    assert set(messages.values_list("attempts", flat=True)) == {1}, "each message dispatched exactly once"

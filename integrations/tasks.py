"""Thin Celery wrappers: take ids, call one service, own only retries."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from revenue.models import OutboxMessage

from .consumers import outbox_message_consume, outbox_messages_consume
from .models import Delivery
from .services.booking import inbound_deliveries_book
from .services.delivery import delivery_attempt, outbox_message_fan_out, outbox_messages_fan_out
from .services.ingest import INFRASTRUCTURE_ERRORS, inbound_deliveries_stuck_process

logger = logging.getLogger(__name__)

SWEEP_GRACE = timedelta(seconds=30)


@shared_task(name="integrations.outbox_dispatch", acks_late=True)
def outbox_dispatch(message_id: int) -> None:
    outbox_message_consume(message_id)
    for delivery_id in outbox_message_fan_out(message_id=message_id):
        delivery_send.delay(delivery_id)


@shared_task(name="integrations.delivery_send", acks_late=True, bind=True, max_retries=None)
def delivery_send(self, delivery_id: int) -> None:
    delay = delivery_attempt(delivery_id=delivery_id)
    if delay is not None:
        if self.request.is_eager:  # inline mode: leave it for the sweeper instead of blocking a request
            return
        delivery_send.apply_async((delivery_id,), countdown=delay)


@shared_task(name="integrations.outbox_sweep")
def outbox_sweep(grace_seconds: float = SWEEP_GRACE.total_seconds()) -> int:
    """Re-enqueue what a broker outage or a lost worker left behind (older than the grace period)."""
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    count = 0
    for message_id in OutboxMessage.objects.filter(dispatched_at__isnull=True, created_at__lt=cutoff).values_list(
        "pk", flat=True
    )[:1000]:
        outbox_dispatch.delay(message_id)
        count += 1
    due = (
        Delivery.objects.filter(status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING], updated_at__lt=cutoff)
        .exclude(next_attempt_at__gt=timezone.now())
        .exclude(leased_until__gt=timezone.now())
    )
    for delivery_id in due.values_list("pk", flat=True)[:1000]:
        delivery_send.delay(delivery_id)
        count += 1
    return count


@shared_task(name="integrations.outbox_dispatch_batch", acks_late=True)
def outbox_dispatch_batch(message_ids: list[int]) -> None:
    """The messages one transaction wrote (a booked batch of deliveries): one broker message for all."""
    outbox_messages_consume(message_ids)
    for delivery_id in outbox_messages_fan_out(message_ids=message_ids):
        delivery_send.delay(delivery_id)


def outbox_dispatch_enqueue(message_id: int) -> None:
    """Called by revenue.outbox after commit."""
    outbox_dispatch.delay(message_id)


def outbox_dispatch_enqueue_many(message_ids: list[int]) -> None:
    """Called by revenue.outbox after a commit that wrote many messages at once."""
    outbox_dispatch_batch.delay(message_ids)


@shared_task(
    name="integrations.inbound_drain",
    acks_late=True,
    autoretry_for=INFRASTRUCTURE_ERRORS,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=None,
)
def inbound_drain() -> int:
    return inbound_deliveries_book()


_kick_lock = threading.Lock()
_last_kick = 0.0
_trailing_until = 0.0  # a trailing kick is scheduled for this moment (monotonic clock)
KICK_INTERVAL_SECONDS = 0.2


def _timer(delay: float) -> None:
    timer = threading.Timer(delay, inbound_drain_trailing_kick)
    timer.daemon = True
    timer.start()


def inbound_drain_kick_due(*, trailing: Callable[[float], object] = _timer) -> bool:
    """Whether this process should ask a worker to book what is stored now: at most once per interval.

    Intake then costs one INSERT, not an INSERT plus a broker round trip. A delivery stored
    within the interval after a kick schedules one trailing kick at the end of the interval
    (`trailing(delay)` must call `inbound_drain_trailing_kick` then: a timer thread, or the event
    loop's `call_later`), so every stored delivery is followed by a drain pass that starts within
    the interval; a pass books until a claim finds nothing. The beat sweep is a safety net only.
    """
    global _last_kick, _trailing_until
    now = time.monotonic()
    with _kick_lock:
        if now - _last_kick >= KICK_INTERVAL_SECONDS:
            _last_kick = now
            return True
        if now < _trailing_until:  # already scheduled (a lost one expires with its deadline)
            return False
        delay = KICK_INTERVAL_SECONDS - (now - _last_kick)
        _trailing_until = now + delay
    trailing(delay)
    return False


def inbound_drain_trailing_kick() -> None:
    """The kick at the end of an interval in which deliveries were stored without one."""
    global _last_kick
    with _kick_lock:
        _last_kick = time.monotonic()
    inbound_drain_send()


def inbound_drain_send() -> None:
    """Queue one drain pass; a broker failure is logged, not raised (the stored rows wait for the sweep)."""
    try:
        inbound_drain.delay()
    except Exception:
        logger.warning("could not hand stored deliveries to a worker; the sweep will book them", exc_info=True)


def inbound_drain_kick() -> None:
    """Queue a drain pass if one is due (blocking: the broker round trip happens in this thread)."""
    if inbound_drain_kick_due():
        inbound_drain_send()


@shared_task(name="integrations.inbound_sweep")
def inbound_sweep() -> int:
    """Book stored deliveries whose hand-off was lost (broker down, worker killed)."""
    return inbound_deliveries_stuck_process(older_than=SWEEP_GRACE)

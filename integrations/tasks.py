"""Thin Celery wrappers: take ids, call one service, own only retries."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from revenue.models import OutboxMessage

from .consumers import outbox_message_consume
from .models import Delivery
from .services.delivery import delivery_attempt, outbox_message_fan_out
from .services.ingest import (
    INFRASTRUCTURE_ERRORS,
    inbound_deliveries_drain,
    inbound_deliveries_stuck_process,
)

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


def outbox_dispatch_enqueue(message_id: int) -> None:
    """Called by revenue.outbox after commit."""
    outbox_dispatch.delay(message_id)


@shared_task(
    name="integrations.inbound_drain",
    acks_late=True,
    autoretry_for=INFRASTRUCTURE_ERRORS,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=None,
)
def inbound_drain() -> int:
    return inbound_deliveries_drain()


_kick_lock = threading.Lock()
_last_kick = 0.0
KICK_INTERVAL_SECONDS = 0.5


def inbound_drain_kick_due() -> bool:
    """Whether this process should ask a worker to book what is stored now: at most once per interval.

    Intake then costs one INSERT, not an INSERT plus a broker round trip; a
    drain pass picks up everything stored up to the moment it runs, and the
    beat sweep catches a delivery stored just after the last pass.
    """
    global _last_kick
    now = time.monotonic()
    with _kick_lock:
        if now - _last_kick < KICK_INTERVAL_SECONDS:
            return False
        _last_kick = now
        return True


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

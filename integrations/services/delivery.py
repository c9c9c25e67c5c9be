"""Fan outbox messages out to channels and record each attempt in the Delivery log."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from revenue.models import OutboxMessage

from ..channels import (
    PermanentDeliveryError,
    RetryableDeliveryError,
    TargetGoneError,
    channel_get,
    channels_all,
)
from ..models import Delivery

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 3600


def backoff_seconds(attempt: int, *, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a receiver's Retry-After wins when longer."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempt - 1, 0))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


@transaction.atomic
def outbox_message_fan_out(*, message_id: int) -> list[int]:
    """Create one Delivery per (channel, target) that wants the message; idempotent.

    Returns the ids of deliveries still to be sent.
    """
    message = OutboxMessage.objects.select_for_update(skip_locked=True).filter(pk=message_id).first()
    if message is None:  # another worker holds it, or it does not exist
        return []
    for channel in channels_all():
        for target in channel.targets(message):
            Delivery.objects.get_or_create(message=message, channel=channel.name, target=target)
    if message.dispatched_at is None:
        message.dispatched_at = timezone.now()
        message.attempts += 1
        message.save(update_fields=["dispatched_at", "attempts"])
    return list(
        message.deliveries.filter(status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING]).values_list(
            "pk", flat=True
        )
    )


def delivery_attempt(*, delivery_id: int) -> float | None:
    """Make one attempt. Returns seconds to wait before retrying, or None when finished.

    The row is locked for the attempt so two workers never send the same delivery at once.
    """
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True)
            .select_related("message")
            .filter(pk=delivery_id, status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING])
            .first()
        )
        if delivery is None:
            return None
        channel = channel_get(delivery.channel)
        delivery.attempts += 1
        try:
            external_id = channel.send(delivery)
        except TargetGoneError as exc:
            _finish(delivery, Delivery.Status.DISABLED, exc)
            if channel.on_gone:
                channel.on_gone(delivery)
            return None
        except PermanentDeliveryError as exc:
            _finish(delivery, Delivery.Status.FAILED, exc)
            return None
        except RetryableDeliveryError as exc:
            if delivery.attempts >= MAX_ATTEMPTS:
                _finish(delivery, Delivery.Status.FAILED, exc)
                return None
            delay = backoff_seconds(delivery.attempts, retry_after=exc.retry_after)
            delivery.status = Delivery.Status.RETRYING
            delivery.error = str(exc)
            delivery.last_status_code = exc.status_code
            delivery.response_body = exc.response_body[:2000]
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay)
            delivery.save()
            return delay
        delivery.status = Delivery.Status.SENT
        delivery.sent_at = timezone.now()
        delivery.error = ""
        delivery.next_attempt_at = None
        if external_id:
            delivery.external_id = external_id
        delivery.save()
        return None


def _finish(delivery: Delivery, status: str, exc: Exception) -> None:
    delivery.status = status
    delivery.error = str(exc)
    delivery.last_status_code = getattr(exc, "status_code", None)
    delivery.response_body = (getattr(exc, "response_body", "") or "")[:2000]
    delivery.next_attempt_at = None
    delivery.save()


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """Put a finished delivery back in the queue (admin "redeliver")."""
    delivery.status = Delivery.Status.PENDING
    delivery.next_attempt_at = None
    delivery.save(update_fields=["status", "next_attempt_at", "updated_at"])
    return delivery

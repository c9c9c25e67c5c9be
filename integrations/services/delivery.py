"""Fan outbox messages out to channels and record each attempt in the Delivery log."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts.models import RevenueAlert
from alerts.services import alert_raise
from revenue.models import OutboxMessage

from ..channels import (
    PermanentDeliveryError,
    RetryableDeliveryError,
    TargetGoneError,
    channel_get,
    channel_targets_many,
    channels_all,
)
from ..models import Delivery

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


@transaction.atomic
def outbox_messages_fan_out(*, message_ids: list[int]) -> list[int]:
    """`outbox_message_fan_out` for the messages of one batch: each channel's targets looked up
    once for all of them, one UPDATE marking them dispatched. Returns the deliveries to send."""
    messages = list(OutboxMessage.objects.select_for_update(skip_locked=True).filter(pk__in=message_ids).order_by("pk"))
    if not messages:  # other workers hold them, or they do not exist
        return []
    wanted = [
        Delivery(message_id=message_id, channel=channel.name, target=target)
        for channel in channels_all()
        for message_id, targets in channel_targets_many(channel, messages).items()
        for target in targets
    ]
    Delivery.objects.bulk_create(wanted, ignore_conflicts=True)  # one per (message, channel, target), once
    undispatched = [message.pk for message in messages if message.dispatched_at is None]
    if undispatched:  # one UPDATE, not bulk_update's CASE WHEN per row (py-spy: most of fan-out's time)
        OutboxMessage.objects.filter(pk__in=undispatched).update(
            dispatched_at=timezone.now(), attempts=F("attempts") + 1
        )
    pending = Delivery.objects.filter(
        message__in=messages, status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING]
    )
    return list(pending.values_list("pk", flat=True))


def _lease_seconds() -> float:
    """How long a claimed delivery is left alone: longer than one send can take."""
    seconds: float = settings.DELIVERY_LEASE_SECONDS or 2 * settings.OUTBOUND_HTTP_TIMEOUT_SECONDS + 30
    return seconds


@transaction.atomic
def _delivery_claim(*, delivery_id: int) -> Delivery | None:
    """Count the attempt and take a lease on the delivery, committed BEFORE sending.

    Because the count is committed first, an attempt that kills its worker
    (SIGKILL, OOM, a hard time limit) still counts: a poison delivery stops
    after DELIVERY_MAX_ATTEMPTS instead of looping. The lease keeps a second worker
    (a redelivered message, the sweeper) from sending while one is in flight.
    """
    now = timezone.now()
    delivery = (
        Delivery.objects.select_for_update(skip_locked=True)
        .select_related("message")
        .filter(pk=delivery_id, status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING])
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .first()
    )
    if delivery is None:
        return None
    if delivery.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
        # Earlier attempts never came back to record a result: the message is poison.
        _finish(
            delivery,
            Delivery.Status.FAILED,
            RetryableDeliveryError(f"{delivery.attempts} attempts never completed (the worker died each time)"),
            gave_up=True,
            poison=True,
        )
        return None
    delivery.attempts += 1
    delivery.leased_until = now + timedelta(seconds=_lease_seconds())
    delivery.save(update_fields=["attempts", "leased_until", "updated_at"])
    return delivery


def delivery_attempt(*, delivery_id: int) -> float | None:
    """Make one attempt. Returns seconds to wait before retrying, or None when finished.

    Claim (committed) -> send with no database lock held (a hanging receiver
    blocks nothing but this worker) -> record the outcome.
    """
    delivery = _delivery_claim(delivery_id=delivery_id)
    if delivery is None:
        return None
    channel = channel_get(delivery.channel)
    try:
        external_id = channel.send(delivery)
    except TargetGoneError as exc:
        with transaction.atomic():
            _finish(delivery, Delivery.Status.DISABLED, exc)
            if channel.on_gone:
                channel.on_gone(delivery)
        return None
    except PermanentDeliveryError as exc:
        with transaction.atomic():
            _finish(delivery, Delivery.Status.FAILED, exc)
        return None
    except RetryableDeliveryError as exc:
        if delivery.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
            with transaction.atomic():
                _finish(delivery, Delivery.Status.FAILED, exc, gave_up=True)
            return None
        delay = backoff_seconds(delivery.attempts, retry_after=exc.retry_after)
        delivery.status = Delivery.Status.RETRYING
        delivery.error = str(exc)
        delivery.last_status_code = exc.status_code
        delivery.response_body = exc.response_body[:2000]
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        delivery.leased_until = None
        delivery.save()
        return delay
    delivery.status = Delivery.Status.SENT
    delivery.sent_at = timezone.now()
    delivery.error = ""
    delivery.next_attempt_at = None
    delivery.leased_until = None
    if external_id:
        delivery.external_id = external_id
    delivery.save()
    return None


def _finish(delivery: Delivery, status: str, exc: Exception, *, gave_up: bool = False, poison: bool = False) -> None:
    delivery.status = status
    delivery.leased_until = None
    delivery.error = str(exc)
    delivery.last_status_code = getattr(exc, "status_code", None)
    delivery.response_body = (getattr(exc, "response_body", "") or "")[:2000]
    delivery.next_attempt_at = None
    delivery.save()
    delivery_failure_alert(delivery=delivery, gave_up=gave_up, poison=poison)


def target_label(target: str) -> str:
    """A target fit to show: a webhook URL is a secret, so only its host and a digest of it are kept."""
    parts = urlsplit(target)
    if parts.scheme in ("http", "https") and parts.netloc:
        digest = hashlib.sha256(target.encode()).hexdigest()[:12]
        return f"{parts.scheme}://{parts.hostname}/…{digest}"
    return target


def delivery_failure_alert(*, delivery: Delivery, gave_up: bool = False, poison: bool = False) -> RevenueAlert:
    """Raise (or bump) the alert for a delivery that ended FAILED or DISABLED.

    One alert per channel and target (fingerprint), critical when the target is gone (410)
    or the delivery is poison (its attempts kept killing the worker).
    """
    label = target_label(delivery.target)
    gone = delivery.status == Delivery.Status.DISABLED
    if gone:
        what = "stopped: the target answered 410 Gone and is disabled; fix the configuration, then redeliver"
    elif gave_up:
        what = f"gave up after {delivery.attempts} attempts: {delivery.error}"
    else:
        what = f"was refused: {delivery.error}"
    alert, _ = alert_raise(
        alert_type=RevenueAlert.AlertType.DELIVERY,
        severity=RevenueAlert.Severity.CRITICAL if gone or poison else RevenueAlert.Severity.WARNING,
        message=f"{delivery.get_channel_display()} delivery of {delivery.message.topic} to {label} {what}",
        fingerprint=f"delivery:{delivery.channel}:{label}",
        metadata={
            "delivery_id": delivery.pk,
            "message_id": delivery.message_id,
            "topic": delivery.message.topic,
            "channel": delivery.channel,
            "target": label,
            "status": delivery.status,
            "status_code": delivery.last_status_code,
            "attempts": delivery.attempts,
        },
    )
    return alert


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """Put a delivery back in the queue (admin "redeliver"), with a fresh set of attempts.

    A Notion page is updated, not duplicated; Slack and Atlas receive the message again.
    """
    delivery.status = Delivery.Status.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = None
    delivery.leased_until = None
    delivery.save(update_fields=["status", "attempts", "next_attempt_at", "leased_until", "updated_at"])
    return delivery

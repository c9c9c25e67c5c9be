"""What the integrations app feeds back into alerts.

Outbox topics it reacts to itself (besides delivering them), and the delivery-failure
detector it registers with the alert beat.

`outbox_dispatch` calls `outbox_message_consume` first for every message; a
recorded ledger row queues the cheap per-write alert checks. Enqueueing is
idempotent in effect: the checks deduplicate by fingerprint, so a message
dispatched twice (sweeper) does no harm.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.db.models import Count, Max, Min

from alerts.detectors import Condition, local_time
from alerts.models import RevenueAlert
from alerts.tasks import evaluate_event, evaluate_events
from revenue.models import OutboxMessage

from .models import Delivery

logger = logging.getLogger(__name__)

FAILURE_LOOKBACK = timedelta(days=1)

TOPIC_EVENT_RECORDED = "revenue.event.recorded"


def outbox_message_consume(message_id: int) -> None:
    message = OutboxMessage.objects.filter(pk=message_id).only("topic", "payload").first()
    if message is None or message.topic != TOPIC_EVENT_RECORDED:
        return
    event_id = (message.payload or {}).get("event_id")
    if not event_id:
        return
    try:
        evaluate_event.delay(event_id)
    except Exception:  # the beat's pass catches what a lost enqueue misses; delivery must go on
        logger.warning("could not queue alert checks for %s", event_id, exc_info=True)


def outbox_messages_consume(message_ids: list[int]) -> None:
    """`outbox_message_consume` for a batch: the recorded rows' alert checks as one task."""
    payloads = OutboxMessage.objects.filter(pk__in=message_ids, topic=TOPIC_EVENT_RECORDED).values_list(
        "payload", flat=True
    )
    event_ids = [payload["event_id"] for payload in payloads if (payload or {}).get("event_id")]
    if not event_ids:
        return
    try:
        evaluate_events.delay(event_ids)
    except Exception:  # the beat's pass catches what a lost enqueue misses; delivery must go on
        logger.warning("could not queue alert checks for %d rows", len(event_ids), exc_info=True)


def delivery_failures_detect(now: datetime) -> list[Condition]:
    """Outbound deliveries that gave up (or whose target answered 410), per channel and target.

    Registered with the alert beat (`alert_detector_register` in apps.py). One alert per target
    while it keeps failing; after someone closes it, only failures after the close raise a new one.
    Targets can hold secrets (a Slack webhook URL), so messages show only the host.
    """
    since_floor = now - FAILURE_LOOKBACK
    failed = Delivery.objects.filter(
        status__in=[Delivery.Status.FAILED, Delivery.Status.DISABLED], updated_at__gt=since_floor, updated_at__lte=now
    )
    groups = failed.values("channel", "target").annotate(count=Count("pk"), first=Min("updated_at")).order_by()
    conditions = []
    for group in groups[:50]:
        digest = hashlib.sha256(group["target"].encode()).hexdigest()[:16]
        fingerprint = f"delivery:{group['channel']}:{digest}"
        closed_at = (
            RevenueAlert.objects.filter(fingerprint=fingerprint)
            .exclude(status__in=RevenueAlert.ACTIVE_STATUSES)
            .aggregate(last=Max("resolved_at"))["last"]
        )
        rows = failed.filter(channel=group["channel"], target=group["target"])
        if closed_at is not None:
            rows = rows.filter(updated_at__gt=closed_at)
        latest = rows.select_related("message").order_by("-updated_at", "-pk").first()
        if latest is None:
            continue
        count = rows.count()
        topics = sorted(set(rows.values_list("message__topic", flat=True)))
        target = urlsplit(group["target"]).hostname or group["target"][:60]
        channel = Delivery.Channel(group["channel"]).label
        gone = latest.status == Delivery.Status.DISABLED
        message = (
            f"{count} {channel} deliver{'y' if count == 1 else 'ies'} to {target} "
            f"{'were refused for good' if not gone else 'hit a revoked target (410): it is disabled'} "
            f"since {local_time(rows.order_by('updated_at').first().updated_at)} "
            f"(topics: {', '.join(topics)}; last error: {latest.error[:200] or 'none recorded'}"
            f"{f', HTTP {latest.last_status_code}' if latest.last_status_code else ''}). "
            f"Fix the target, then use 'redeliver' in Admin > Integrations > Deliveries (status = failed)."
        )
        conditions.append(
            Condition(
                alert_type=RevenueAlert.AlertType.DELIVERY,
                severity=RevenueAlert.Severity.CRITICAL if gone else RevenueAlert.Severity.WARNING,
                fingerprint=fingerprint,
                message=message,
                metadata={
                    "channel": group["channel"],
                    "target_host": target,
                    "failed_deliveries": count,
                    "last_status_code": latest.last_status_code,
                    "where": "Admin > Integrations > Deliveries, status = failed",
                },
                reopen_closed=True,
            )
        )
    return conditions

"""Outbox topics the integrations app reacts to itself (besides delivering them).

`outbox_dispatch` calls `outbox_message_consume` first for every message; a
recorded ledger row queues the cheap per-write alert checks. Enqueueing is
idempotent in effect: the checks deduplicate by fingerprint, so a message
dispatched twice (sweeper) does no harm.
"""

from __future__ import annotations

import logging

from alerts.tasks import evaluate_event
from revenue.models import OutboxMessage

logger = logging.getLogger(__name__)

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

"""Thin Celery wrappers around summaries.services."""

from __future__ import annotations

from celery import shared_task
from django.utils.dateparse import parse_datetime

from .services import summaries_send_due


@shared_task(name="summaries.tick", acks_late=True)
def summaries_tick(at: str | None = None) -> list[int]:
    """Beat calls this every 15 minutes; it sends what is due at 06:00 business time and not yet sent.

    `at` (ISO 8601, aware) runs the tick as of another instant; beat never passes it.
    Returns the ids of the outbox messages written.
    """
    now = parse_datetime(at) if at else None
    if at and (now is None or now.tzinfo is None):
        raise ValueError(f"'at' must be an aware ISO 8601 datetime, got {at!r}")
    return [message.pk for message in summaries_send_due(now=now)]

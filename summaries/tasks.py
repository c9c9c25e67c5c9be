"""Thin Celery wrappers around summaries.services."""

from __future__ import annotations

from celery import shared_task
from django.utils.dateparse import parse_datetime

from .services import summaries_revise, summaries_send_due


@shared_task(name="summaries.tick", acks_late=True)
def summaries_tick(at: str | None = None) -> list[int]:
    """Beat calls this every 15 minutes; it sends what is due at 06:00 business time and not yet sent,
    then revises any sent summary whose period has changed since (summaries_revise).

    `at` (ISO 8601, aware) runs the tick as of another instant; beat never passes it.
    Returns the ids of the outbox messages written.
    """
    now = parse_datetime(at) if at else None
    if at and (now is None or now.tzinfo is None):
        raise ValueError(f"'at' must be an aware ISO 8601 datetime, got {at!r}")
    sent = summaries_send_due(now=now)
    return [message.pk for message in [*sent, *summaries_revise(now=now)]]

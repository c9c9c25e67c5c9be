"""Thin Celery wrappers around forecasts.services."""

from __future__ import annotations

from celery import shared_task

from .services import forecasts_fit_due


@shared_task(name="forecasts.tick", acks_late=True)
def forecasts_tick() -> dict:
    """Beat calls this every 15 minutes; from 06:10 Central it fits last night's forecasts once."""
    report = forecasts_fit_due()
    if report is None:
        return {"due": False}
    return {"due": True, "last_day": report.last_day.isoformat(), "stored": report.stored, "skipped": report.skipped}

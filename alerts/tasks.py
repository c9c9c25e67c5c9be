"""Thin Celery wrappers around the alert services."""

from __future__ import annotations

from celery import shared_task

from .rates import exchange_rates_refresh
from .services import alerts_evaluate, alerts_evaluate_event, alerts_evaluate_events


@shared_task(name="alerts.evaluate")
def evaluate() -> dict:
    """Beat: every rule and detector once (every 15 minutes, see setup_periodic_tasks)."""
    result = alerts_evaluate()
    return {"raised": len(result.raised), "updated": len(result.updated), "capped": len(result.capped)}


@shared_task(name="alerts.evaluate_event", acks_late=True)
def evaluate_event(event_id: str) -> dict:
    """Per ledger write: the cheap checks for one row, by its event_id."""
    result = alerts_evaluate_event(event_id=event_id)
    return {"raised": len(result.raised), "updated": len(result.updated), "capped": len(result.capped)}


@shared_task(name="alerts.evaluate_events", acks_late=True)
def evaluate_events(event_ids: list[str]) -> dict:
    """The per-write checks for a batch of new rows (one booked batch of deliveries): one task, not one per row."""
    result = alerts_evaluate_events(event_ids=event_ids)
    return {"raised": len(result.raised), "updated": len(result.updated), "capped": len(result.capped)}


@shared_task(name="alerts.exchange_rates_refresh", autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def exchange_rates_refresh_task() -> dict:
    """Beat: fetch the ECB reference rates, then one alert per currency with rows that have no rate."""
    return exchange_rates_refresh()

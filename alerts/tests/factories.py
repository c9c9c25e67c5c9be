"""Ledger rows and rules for alert tests: recorded through the real ledger service."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from alerts.models import AlertRule
from revenue.models import RevenueEvent
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

CENTRAL = ZoneInfo("America/Chicago")


def central(day: date, hour: int = 12, minute: int = 0, *, fold: int = 0) -> datetime:
    """An aware instant at local (America/Chicago) wall-clock time; `fold=1` = the second 01:xx on DST end."""
    return datetime.combine(day, time(hour, minute), tzinfo=CENTRAL).replace(fold=fold)


def record(**overrides) -> RevenueEvent:
    return revenue_event_record(entry=ledger_entry(**overrides)).event


def rule(**values) -> AlertRule:
    values.setdefault("name", f"rule {values.get('kind')}")
    instance = AlertRule(**values)
    instance.full_clean()
    instance.save()
    return instance

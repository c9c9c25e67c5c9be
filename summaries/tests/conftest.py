"""Fixtures for summaries: ledger rows recorded through the real ledger service."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from revenue.models import RevenueEvent
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

CHICAGO = ZoneInfo("America/Chicago")


def local(*args, fold: int = 0) -> datetime:
    """An aware Chicago wall-clock time; fold=1 picks the second 01:xx on the 25-hour day."""
    return datetime(*args, tzinfo=CHICAGO, fold=fold)


@pytest.fixture
def record(entities) -> Callable[..., RevenueEvent]:
    """record(amount, at, entity="aplus-enterprise", **entry fields) -> the ledger row."""

    def _record(amount_cents: int, occurred_at: datetime, entity: str = "aplus-enterprise", **fields) -> RevenueEvent:
        entry = ledger_entry(amount_cents=amount_cents, occurred_at=occurred_at, **fields)
        return revenue_event_record(entry=entry, entity=entities[entity]).event

    return _record


@pytest.fixture
def seeded_entities(transactional_db):
    """The entities of the seed migration, for transactional tests (a previous one may have flushed them)."""
    from revenue.models import Entity

    seed = importlib.import_module("revenue.migrations.0002_seed_entities")
    for row in seed.ENTITIES:
        Entity.objects.get_or_create(slug=row["slug"], defaults=row)
    return {entity.slug: entity for entity in Entity.objects.all()}

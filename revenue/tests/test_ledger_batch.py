"""Set-based ledger writes (`revenue.services.ledger_batch`): a row written with many others is the row
`revenue_event_record` writes alone, whatever its text, its missing values or its currency."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from revenue.entries import LedgerEntry
from revenue.models import OutboxMessage, RevenueEvent
from revenue.services import entity_resolve, revenue_event_record
from revenue.services.ledger_batch import PlannedRow, revenue_entry_validate, revenue_events_insert_many

pytestmark = pytest.mark.django_db

ODD_TEXT = "quote \" backslash \\ braces {a,b} comma, NULL, newline\nünïcödé 💸 'single'"
COMPARED = [
    field.attname
    for field in RevenueEvent._meta.concrete_fields
    if field.attname not in {"id", "event_id", "created_at", "processed_at"}
]


def entries(prefix: str) -> list[LedgerEntry]:
    at = datetime(2026, 6, 1, 17, 0, 0, 123456, tzinfo=UTC)
    return [
        LedgerEntry(
            event_id=f"{prefix}:odd",
            provider="stripe",
            event_type="charge.succeeded",
            kind="payment",
            amount_cents=12345,
            currency="usd",
            occurred_at=at,
            customer_email="Odd@Example.com",
            customer_id="cus_odd",
            metadata={"note": ODD_TEXT, "nested": {"list": [1, None, "x"]}, "empty": ""},
            source_id=ODD_TEXT[:40],
            reference=ODD_TEXT[:120],
            description=ODD_TEXT,
            entity_hint="legacy-unchained",
            amount_usd_cents=12345,
            fx_rate=Decimal("1"),
            fx_source="identity",
        ),
        LedgerEntry(  # every optional value missing
            event_id=f"{prefix}:bare",
            provider="manual",
            event_type="manual.payment",
            kind="payment",
            amount_cents=500,
            currency="JPY",
            occurred_at=at,
        ),
        LedgerEntry(
            event_id=f"{prefix}:kwd",
            provider="gumroad",
            event_type="sale",
            kind="payment",
            amount_cents=1234,
            currency="KWD",
            occurred_at=at,
            customer_email="",
            parent_event_id="",
        ),
    ]


def planned_row(entry: LedgerEntry) -> PlannedRow:
    """As batched booking plans a row: validated, then its entity resolved."""
    return PlannedRow(revenue_entry_validate(entry=entry), entity_resolve(entity_hint=entry.entity_hint))


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_rows_written_together_equal_rows_written_alone(entities, vendor, monkeypatch):
    """Both statements: arrays unnested on PostgreSQL, the VALUES list SQLite gets (valid here too)."""
    from django.db import connection

    for entry in entries("alone"):
        revenue_event_record(entry=entry)
    planned = [planned_row(entry) for entry in entries("together")]
    with monkeypatch.context() as patched:
        patched.setattr(connection, "vendor", vendor)
        results = revenue_events_insert_many(rows=planned)
    assert all(result.created for result in results.values()) and len(results) == 3

    def rows(prefix: str) -> list[tuple]:
        found = RevenueEvent.objects.filter(event_id__startswith=f"{prefix}:").order_by("event_id")
        return [(row.event_id.split(":", 1)[1], *(getattr(row, name) for name in COMPARED)) for row in found]

    assert rows("together") == rows("alone")
    odd = RevenueEvent.objects.get(event_id="together:odd")
    assert odd.metadata["note"] == ODD_TEXT and odd.description == ODD_TEXT
    assert OutboxMessage.objects.filter(payload__event_id__startswith="together:").count() == 3


def test_a_row_already_in_the_ledger_is_returned_not_written_again(entities):
    planned = [planned_row(entry) for entry in entries("twice")]
    first = revenue_events_insert_many(rows=planned)
    again = revenue_events_insert_many(rows=planned)
    assert {key: result.created for key, result in again.items()} == dict.fromkeys(first, False)
    assert {key: result.event.pk for key, result in again.items()} == {k: r.event.pk for k, r in first.items()}
    assert RevenueEvent.objects.filter(event_id__startswith="twice:").count() == 3


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_a_value_too_long_for_its_column_is_refused_not_cut(entities, vendor, monkeypatch):
    """The array statement must not truncate (a cast to varchar(n)[] would): the batch is refused, as the
    VALUES form was, and batched booking then books its deliveries one by one so only the culprit fails."""
    from dataclasses import replace

    from django.db import DataError, connection

    long_id = replace(entries("long")[0], customer_id="c" * 300)
    with monkeypatch.context() as patched, pytest.raises(DataError):
        patched.setattr(connection, "vendor", vendor)
        revenue_events_insert_many(rows=[planned_row(long_id)])
    assert not RevenueEvent.objects.filter(event_id__startswith="long:").exists()

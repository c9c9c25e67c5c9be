"""Set-based ledger writes: many money movements in a few statements, same rules as one by one.

`revenue_event_record` books one entry in ~6 statements. A burst of webhook deliveries
books hundreds of entries per transaction through this module instead:

1. `revenue_events_known`: every row the batch refers to (its own keys and the parents of
   refunds, disputes, fees) in one indexed query;
2. `revenue_entry_validate` and `entity_resolve(entities=…)` per entry, in memory;
3. `revenue_events_insert_many`: one `INSERT … ON CONFLICT (event_id) DO NOTHING RETURNING`
   (the rollup trigger then fires once per statement, not per row), one query for the rows a
   concurrent writer won, and the outbox rows of exactly the inserted rows in one INSERT.

Rows are inserted in event_id order, so two batches that share keys (one payment's three
Stripe deliveries) take the unique-index locks in the same order and cannot deadlock.
Reversing rows (`reverses_event_id`) are not written here: they go through
`revenue_event_reverse`, which checks the target under its rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Field

from ..entries import LedgerEntry
from ..errors import ApplicationError
from ..models import RevenueEvent
from ..outbox import outbox_publish_many
from .ledger import (
    TOPIC_EVENT_RECORDED,
    EntityResolution,
    RecordResult,
    _event_payload,
    _new_ledger_row,
    _validate,
)


@dataclass(frozen=True)
class PlannedRow:
    """A validated entry and its resolved entity, to be inserted by `revenue_events_insert_many`."""

    entry: LedgerEntry
    resolution: EntityResolution


def revenue_entry_validate(*, entry: LedgerEntry) -> LedgerEntry:
    """The checks `revenue_event_record` makes before writing (ApplicationError when refused);
    returns the entry with its currency normalised."""
    if entry.reverses_event_id:
        raise ApplicationError("A reversing row is written by revenue_event_reverse", code="reversal_in_batch")
    return _validate(entry)


def revenue_events_known(*, event_ids: Iterable[str]) -> dict[str, RevenueEvent]:
    """The ledger rows with these event ids (entity loaded), in one query."""
    wanted = sorted(set(filter(None, event_ids)))
    if not wanted:
        return {}
    rows = RevenueEvent.objects.filter(event_id__in=wanted).select_related("entity")
    return {row.event_id: row for row in rows}


_FIELDS = [field for field in RevenueEvent._meta.concrete_fields if field.name != "reverses"]
_COLUMNS = [str(field.column) for field in _FIELDS]


def _array_element_type(field: Field[Any, Any]) -> str:
    """A column's type for its array parameter. A varchar(n) column takes text: the INSERT then refuses
    a value too long, as the VALUES form did, where a cast to varchar(n)[] would silently cut it."""
    db_type = str(field.db_type(connection))
    return "text" if db_type.startswith("varchar") else db_type


def _insert_sql(rows: int) -> str:
    """On PostgreSQL one array parameter per column, unnested into rows: the same short statement for
    every batch. (A VALUES list of rows x columns placeholders made psycopg parse a new statement
    of 4,400 placeholders per batch: over half the INSERT's time in the py-spy profile.) SQLite,
    the zero-setup run, has no arrays and gets the VALUES list."""
    columns = ", ".join(connection.ops.quote_name(column) for column in _COLUMNS)
    table = connection.ops.quote_name(RevenueEvent._meta.db_table)
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{_array_element_type(field)}[]" for field in _FIELDS)
        rows_sql = f"SELECT * FROM unnest({arrays})"  # noqa: S608
    else:
        rows_sql = "VALUES " + ", ".join(["(" + ", ".join(["%s"] * len(_FIELDS)) + ")"] * rows)
    # Only model column names and types are formatted in; every value is a parameter.
    return f"INSERT INTO {table} ({columns}) {rows_sql} ON CONFLICT (event_id) DO NOTHING RETURNING event_id"


def _inserted_event_ids(events: Sequence[RevenueEvent]) -> set[str]:
    columns = [
        [field.get_db_prep_save(getattr(event, field.attname), connection) for event in events] for field in _FIELDS
    ]
    params = (
        columns if connection.vendor == "postgresql" else [value for row in zip(*columns, strict=True) for value in row]
    )
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(len(events)), params)
        return {row[0] for row in cursor.fetchall()}


@transaction.atomic
def revenue_events_insert_many(*, rows: Sequence[PlannedRow]) -> dict[str, RecordResult]:
    """Insert many validated, resolved entries idempotently; returns a RecordResult per event_id.

    Equivalent to `revenue_event_record(entry=…)` for each row: the first row of an event_id
    wins, a row that exists (or that a concurrent writer inserted first) is returned as it is
    with created=False, and only created rows are announced (`revenue.event.recorded`, written
    in one INSERT, handed to the dispatchers as one batch after commit).
    """
    planned: dict[str, PlannedRow] = {}
    for row in rows:
        planned.setdefault(row.entry.event_id, row)
    if not planned:
        return {}
    events = {
        event_id: _new_ledger_row(row.entry, row.resolution, reverses=None) for event_id, row in sorted(planned.items())
    }
    inserted = _inserted_event_ids(list(events.values()))
    results = {
        event_id: RecordResult(
            events[event_id], True, planned[event_id].resolution.resolved, planned[event_id].resolution.conflict
        )
        for event_id in inserted
    }
    for event_id, winner in revenue_events_known(event_ids=set(events) - inserted).items():
        resolved = winner.entity_source != RevenueEvent.EntitySource.UNRESOLVED
        results[event_id] = RecordResult(winner, False, resolved)
    outbox_publish_many(
        topic=TOPIC_EVENT_RECORDED, payloads=[_event_payload(events[event_id]) for event_id in sorted(inserted)]
    )
    return results

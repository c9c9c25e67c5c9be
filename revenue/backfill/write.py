"""Bulk writes: `INSERT ... ON CONFLICT (event_id) DO NOTHING RETURNING`, so a re-import adds
nothing, plus outbox rows for exactly the rows inserted (delivered by the outbox sweeper,
not one task per row); and `import_batch`, which prepares, writes and checks one batch."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from ..errors import ApplicationError
from ..models import OutboxMessage, RevenueEvent
from ..services import TOPIC_EVENT_RECORDED, payout_settlements_record, revenue_event_record, stripe_payout_import
from .duplicates import PossibleDuplicate, possible_duplicates_find, possible_duplicates_report
from .parse import MappedRow, RowError
from .prepare import PreparedRow, RowPreparer
from .standalone_fees import fee_entries_with_parent, standalone_fees_find, standalone_fees_report

# --- bulk insert -----------------------------------------------------------------------

_COLUMNS = [  # every column but the primary key, which PostgreSQL draws (gen_random_uuid) on insert
    "event_id",
    "provider",
    "event_type",
    "kind",
    "amount_cents",
    "currency",
    "amount_usd_cents",
    "fx_rate",
    "fx_source",
    "customer_email",
    "customer_id",
    "metadata",
    "entity_id",
    "entity_source",
    "occurred_at",
    "created_at",
    "processed_at",
    "source_id",
    "parent_event_id",
    "reference",
    "description",
]
_STAGE_TABLE = "revenue_events_import_rows"


def event_payload(prepared: PreparedRow, event_pk: uuid.UUID) -> dict[str, Any]:
    """Same shape as revenue.services announces for a recorded event."""
    entry = prepared.entry
    return {
        "id": str(event_pk),
        "event_id": entry.event_id,
        "provider": entry.provider,
        "event_type": entry.event_type,
        "kind": entry.kind,
        "amount_cents": entry.amount_cents,
        "currency": entry.currency,
        "amount_usd_cents": prepared.amount_usd_cents,
        "entity": prepared.entity.slug,
        "occurred_at": entry.occurred_at.isoformat(),
        "customer_email": entry.customer_email,
        "parent_event_id": entry.parent_event_id,
    }


def revenue_events_existing(*, event_ids: list[str]) -> set[str]:
    """Which of these event ids are already in the ledger (one indexed query)."""
    if not event_ids:
        return set()
    if connection.vendor != "postgresql":
        return set(RevenueEvent.objects.filter(event_id__in=event_ids).values_list("event_id", flat=True))
    with connection.cursor() as cursor:  # one array parameter instead of thousands of IN parameters
        cursor.execute("SELECT event_id FROM revenue_events WHERE event_id = ANY(%s)", [list(event_ids)])
        return {row[0] for row in cursor.fetchall()}


def _row_values(prepared: PreparedRow, now: datetime) -> tuple[object, ...]:
    entry = prepared.entry
    return (
        entry.event_id,
        entry.provider,
        entry.event_type,
        entry.kind,
        entry.amount_cents,
        entry.currency,
        prepared.amount_usd_cents,
        prepared.fx_rate,
        prepared.fx_source,
        entry.customer_email or None,
        entry.customer_id or None,
        json.dumps(entry.metadata),
        prepared.entity.pk,
        prepared.entity_source,
        entry.occurred_at,
        now,
        now,
        entry.source_id,
        entry.parent_event_id,
        entry.reference,
        entry.description,
    )


@transaction.atomic
def revenue_events_bulk_insert(*, rows: list[PreparedRow]) -> list[tuple[PreparedRow, uuid.UUID]]:
    """Insert many ledger rows at once; rows whose event_id exists are left alone.

    PostgreSQL: COPY into a session temp table, then one
    `INSERT ... SELECT gen_random_uuid(), ... ON CONFLICT (event_id) DO NOTHING RETURNING event_id, id`,
    so a concurrent writer of the same event_id can never cause a duplicate or an
    error. Returns the rows actually inserted with their primary keys, and writes
    one outbox row (`revenue.event.recorded`) for each of them in the same
    transaction; those are delivered by the outbox sweeper rather than one task
    per row. Rows must already be validated (see the mapping functions).
    Other databases (the zero-setup SQLite run) go row by row through
    `revenue_event_record`.
    """
    if not rows:
        return []
    by_event_id: dict[str, PreparedRow] = {}
    for prepared in rows:  # the same movement twice in one batch: keep the first
        by_event_id.setdefault(prepared.entry.event_id, prepared)
    if connection.vendor != "postgresql":
        return _insert_one_by_one(list(by_event_id.values()))
    now = timezone.now()
    columns = ", ".join(_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(  # the ledger's column types, without its key (nor any constraint)
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE_TABLE} AS SELECT {columns} FROM revenue_events WITH NO DATA"  # noqa: S608
        )
        cursor.execute(f"TRUNCATE {_STAGE_TABLE}")
        with cursor.cursor.copy(f"COPY {_STAGE_TABLE} ({columns}) FROM STDIN") as copy:
            for prepared in by_event_id.values():
                copy.write_row(_row_values(prepared, now))
        # Only constant identifiers are formatted in.
        cursor.execute(
            f"INSERT INTO revenue_events (id, {columns}) SELECT gen_random_uuid(), {columns} "  # noqa: S608
            f"FROM {_STAGE_TABLE} ON CONFLICT (event_id) DO NOTHING RETURNING event_id, id"
        )
        inserted = [(by_event_id[event_id], pk) for event_id, pk in cursor.fetchall()]
        outbox_columns = "topic, payload, created_at, attempts, last_error"
        with cursor.cursor.copy(f"COPY {OutboxMessage._meta.db_table} ({outbox_columns}) FROM STDIN") as copy:
            for prepared, pk in inserted:
                copy.write_row((TOPIC_EVENT_RECORDED, json.dumps(event_payload(prepared, pk)), now, 0, ""))
    return inserted


def _insert_one_by_one(rows: list[PreparedRow]) -> list[tuple[PreparedRow, uuid.UUID]]:
    inserted = []
    for prepared in rows:
        entry = replace(
            prepared.entry,
            amount_usd_cents=prepared.amount_usd_cents,
            fx_rate=prepared.fx_rate,
            fx_source=prepared.fx_source,
        )
        result = revenue_event_record(entry=entry, entity=prepared.entity)
        if result.created:
            inserted.append((prepared, result.event.pk))
    return inserted


@dataclass
class ImportReport:
    rows: int = 0
    inserted: int = 0
    skipped_existing: int = 0
    skipped_other: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    duplicates: list[PossibleDuplicate] = field(default_factory=list)
    standalone_fees: int = 0  # fees booked without their payment (an alert each)
    # Payout files: payouts created / updated / unchanged, settlement lines recorded / already recorded.
    payouts: Counter[str] = field(default_factory=Counter)
    settlements_recorded: int = 0
    settlements_already: int = 0

    @property
    def payouts_sentence(self) -> str:
        """'2 payouts created, 1 updated, 0 unchanged; 9 payout settlement lines recorded, 0 already recorded'."""
        parts = []
        if self.payouts:
            parts.append(
                f"{self.payouts['created']} payout(s) created, {self.payouts['updated']} updated, "
                f"{self.payouts['unchanged']} unchanged"
            )
        if self.settlements_recorded or self.settlements_already:
            parts.append(
                f"{self.settlements_recorded} payout settlement line(s) recorded, "
                f"{self.settlements_already} already recorded"
            )
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "inserted": self.inserted,
            "skipped_existing": self.skipped_existing,
            "skipped_other": self.skipped_other,
            "errors": len(self.errors),
            "possible_duplicates": len(self.duplicates),
            "standalone_fees": self.standalone_fees,
            **({f"payouts_{outcome}": n for outcome, n in sorted(self.payouts.items())}),
            **(
                {"settlements_recorded": self.settlements_recorded, "settlements_already": self.settlements_already}
                if self.settlements_recorded or self.settlements_already
                else {}
            ),
        }


def import_batch(*, batch: list[tuple[int, MappedRow]], preparer: RowPreparer, report: ImportReport) -> None:
    """Prepare, insert and check one batch of mapped rows, in one transaction."""
    prepared: list[PreparedRow] = []
    for number, mapped in batch:
        try:
            prepared.extend(
                row
                for row in (
                    preparer.prepare(entry, entity_column=mapped.entity_column, date_column=mapped.date_column)
                    for entry in mapped.entries
                )
                if row is not None
            )
        except RowError as exc:
            report.errors.append((number, exc.column, exc.message))
    with transaction.atomic():
        existing = revenue_events_existing(event_ids=[p.entry.event_id for p in prepared])
        inserted = revenue_events_bulk_insert(rows=[p for p in prepared if p.entry.event_id not in existing])
        report.inserted += len(inserted)
        report.skipped_existing += len(prepared) - len(inserted)
        new_ids = [p.entry.event_id for p, _ in inserted]
        duplicates = possible_duplicates_find(event_ids=new_ids)
        possible_duplicates_report(duplicates)
        report.duplicates.extend(duplicates)
        standalone = standalone_fees_find(event_ids=fee_entries_with_parent(p.entry for p, _ in inserted))
        standalone_fees_report(standalone)
        report.standalone_fees += len(standalone)
        _payout_lines_import(batch=batch, preparer=preparer, report=report)


def _payout_lines_import(*, batch: list[tuple[int, MappedRow]], preparer: RowPreparer, report: ImportReport) -> None:
    """A payouts file's rows: each payout created or updated, each settlement line recorded once."""
    for number, mapped in batch:
        if mapped.payout is None:
            continue
        try:
            with transaction.atomic():
                _payout, plan = stripe_payout_import(line=mapped.payout, fallback_entity=preparer.default_entity)
        except ApplicationError as exc:
            report.errors.append((number, mapped.entity_column, exc.message))
        else:
            report.payouts[plan.outcome] += 1
    lines = {mapped.settlement.balance_transaction_id: number for number, mapped in batch if mapped.settlement}
    if not lines:
        return
    result = payout_settlements_record(lines=[mapped.settlement for _, mapped in batch if mapped.settlement])
    report.settlements_recorded += len(result.created)
    report.settlements_already += len(result.already)
    for txn, payout_id in result.conflicts.items():
        report.errors.append(
            (lines[txn], "automatic_payout_id", f"{txn} is already recorded as settled by {payout_id}, not this payout")
        )

"""The generic ledger CSV (columns in `GENERIC_COLUMNS`, documented in docs/back-office.md)."""

from __future__ import annotations

from ..entries import LedgerEntry
from ..models import RevenueEvent
from .parse import (
    CREDIT_KINDS,
    DEBIT_KINDS,
    FORMAT_GENERIC,
    IMPORTABLE_KINDS,
    PROVIDERS,
    MappedRow,
    Row,
    RowError,
    amount_cell,
    cell,
    currency_cell,
    email_cell,
    parse_occurred_at,
)


def map_generic_row(row: Row, *, file_name: str = "") -> MappedRow:
    """One row of the generic ledger CSV -> one ledger entry."""
    provider = (cell(row, "provider") or RevenueEvent.Provider.MANUAL).lower()
    if provider not in PROVIDERS:
        raise RowError("provider", f"'{provider}' is not one of {', '.join(PROVIDERS)}")
    kind = (cell(row, "kind") or RevenueEvent.Kind.PAYMENT).lower()
    if kind == RevenueEvent.Kind.REVERSAL:
        raise RowError("kind", "reversals are made by reversing the entry in the ledger admin, not imported")
    if kind not in IMPORTABLE_KINDS:
        raise RowError("kind", f"'{kind}' is not one of {', '.join(IMPORTABLE_KINDS)}")
    raw_id = cell(row, "event_id")
    if not raw_id:
        raise RowError("event_id", "is required: the id of this money movement in its source system")
    event_id = raw_id if raw_id.startswith(f"{provider}:") else f"{provider}:{raw_id}"
    if len(event_id) > 255:
        raise RowError("event_id", "is longer than 255 characters")
    currency = currency_cell(row, "currency")
    amount = amount_cell(row, "amount", currency)
    if amount == 0:
        raise RowError("amount", "is zero: nothing to book")
    if kind in CREDIT_KINDS and amount < 0:
        raise RowError("amount", f"a {kind} is a positive amount; refunds and disputes have their own kinds")
    if kind in DEBIT_KINDS and amount > 0:
        raise RowError("amount", f"a {kind} is a negative amount, e.g. -12.50")
    occurred_at = parse_occurred_at(cell(row, "occurred_at"), "occurred_at")
    reference = cell(row, "reference")
    if len(reference) > 120:
        raise RowError("reference", "is longer than 120 characters")
    metadata = {"source": f"csv:{FORMAT_GENERIC}"}
    if file_name:
        metadata["import_file"] = file_name
    if cell(row, "customer_name"):
        metadata["customer_name"] = cell(row, "customer_name")
    entry = LedgerEntry(
        event_id=event_id,
        provider=provider,
        event_type=f"csv.{kind}",
        kind=kind,
        amount_cents=amount,
        currency=currency,
        occurred_at=occurred_at,
        customer_email=email_cell(row, "customer_email"),
        customer_id=cell(row, "customer_id") or None,
        metadata=metadata,
        source_id=raw_id,
        parent_event_id=cell(row, "parent_event_id"),
        reference=reference,
        description=cell(row, "description"),
        entity_hint=cell(row, "entity"),
    )
    return MappedRow([entry], entity_column="entity")

"""The Gumroad sales export (Exports::PurchaseExportService); prices are US dollars."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from ..entries import LedgerEntry
from ..models import RevenueEvent
from .parse import (
    FORMAT_GUMROAD,
    GUMROAD_TOTALS_ROW,
    MappedRow,
    Row,
    RowError,
    amount_cell,
    cell,
    check_window,
    email_cell,
    flag,
    optional_amount_cell,
    parse_occurred_at,
)


def map_gumroad_row(row: Row, *, file_name: str = "") -> MappedRow:
    """One row of the Gumroad sales export -> the sale, its fee, and its refund / dispute.

    Gumroad prices are US dollars. The export has no refund date, so a refund is
    booked at the sale's time (flagged `refund_date_unknown` in metadata).
    """
    purchase_id = cell(row, "Purchase ID")
    if purchase_id == GUMROAD_TOTALS_ROW:
        return MappedRow(skip_reason="the export's totals row")
    if not purchase_id:
        raise RowError("Purchase ID", "is required")
    if flag(cell(row, "Pre-order authorization?")):
        return MappedRow(skip_reason="pre-order authorisation: not charged yet")
    amount = amount_cell(row, "Sale Price ($)", "USD")
    if amount == 0:
        return MappedRow(skip_reason="free (no money moved)")
    if amount < 0:
        raise RowError("Sale Price ($)", "must not be negative")
    occurred_at = _gumroad_purchased_at(row)
    event_id = f"gumroad:sale:{purchase_id}"  # Gumroad's purchase id is the ping's sale_id
    common: dict[str, Any] = {
        "provider": RevenueEvent.Provider.GUMROAD,
        "currency": "USD",
        "customer_email": email_cell(row, "Purchase Email") or email_cell(row, "Buyer Email"),
        "source_id": purchase_id,
        "product_id": cell(row, "Product ID"),
        "occurred_at": occurred_at,
    }
    metadata = _gumroad_metadata(row, purchase_id, file_name)
    entries = [
        LedgerEntry(
            event_id=event_id,
            event_type="csv.sale",
            kind=RevenueEvent.Kind.PAYMENT,
            amount_cents=amount,
            metadata=metadata,
            description=cell(row, "Item Name"),
            **common,
        )
    ]
    refund = _gumroad_refund(row, event_id, purchase_id, amount, metadata, common)
    if refund is not None:
        entries.append(refund)
    entries.extend(_gumroad_dispute(row, event_id, purchase_id, amount, metadata, common))
    fee = _gumroad_fee(row, event_id, purchase_id, metadata, common)
    if fee is not None:
        entries.append(fee)
    return MappedRow(entries, entity_column="Product ID", date_column="Purchase Date")


def _gumroad_purchased_at(row: Row) -> datetime:
    """The purchase time: a full Ruby timestamp, or the date plus an optional clock time (UTC)."""
    when = cell(row, "Purchase Time (UTC timezone)")
    if when and len(when) > 10 and when[4] == "-":
        return parse_occurred_at(_ruby_time(when), "Purchase Time (UTC timezone)", naive_zone=UTC)
    day = cell(row, "Purchase Date")
    try:
        parsed_day = date.fromisoformat(day)
    except ValueError:
        raise RowError("Purchase Date", f"'{day}' is not a date (YYYY-MM-DD)") from None
    try:
        clock = time.fromisoformat(when) if when and ":" in when else time(12, 0)
    except ValueError:
        raise RowError("Purchase Time (UTC timezone)", f"'{when}' is not a time (HH:MM:SS)") from None
    occurred_at = datetime.combine(parsed_day, clock, tzinfo=UTC)
    check_window(occurred_at, "Purchase Date", day)
    return occurred_at


def _gumroad_metadata(row: Row, purchase_id: str, file_name: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"source": f"csv:{FORMAT_GUMROAD}", "sale_id": purchase_id}
    for column, key in (
        ("Item Name", "product_name"),
        ("Buyer Name", "customer_name"),
        ("Order Number", "order_number"),
    ):
        if cell(row, column):
            metadata[key] = cell(row, column)
    if file_name:
        metadata["import_file"] = file_name
    return metadata


def _gumroad_refund(
    row: Row, event_id: str, purchase_id: str, amount: int, metadata: dict[str, Any], common: dict[str, Any]
) -> LedgerEntry | None:
    """A full or partial refund, booked at the sale's time; None when nothing was refunded."""
    refund = 0
    if flag(cell(row, "Fully Refunded?")):
        refund = amount
    elif flag(cell(row, "Refunded?")) or cell(row, "Partial Refund ($)"):
        refund = optional_amount_cell(row, "Partial Refund ($)", "USD") or 0
    if not refund:
        return None
    if refund < 0 or refund > amount:
        raise RowError("Partial Refund ($)", "must be between 0 and the sale price")
    return LedgerEntry(
        event_id=f"gumroad:refund:{purchase_id}",
        event_type="csv.refund",
        kind=RevenueEvent.Kind.REFUND,
        amount_cents=-refund,
        metadata={**metadata, "refund_date_unknown": True},
        parent_event_id=event_id,
        description=f"Refund of {cell(row, 'Item Name')}".strip(),
        **common,
    )


def _gumroad_fee(
    row: Row, event_id: str, purchase_id: str, metadata: dict[str, Any], common: dict[str, Any]
) -> LedgerEntry | None:
    """Gumroad's fee on the sale (`Fees ($)`, US dollars), or None when the column is empty or zero.

    Pings carry no fee: this export is where Gumroad fees come from.
    """
    fee = optional_amount_cell(row, "Fees ($)", "USD") or 0
    if fee == 0:
        return None
    if fee < 0:
        raise RowError("Fees ($)", "a fee is written as a positive amount")
    return LedgerEntry(
        event_id=f"gumroad:fee:{purchase_id}",
        event_type="csv.fee",
        kind=RevenueEvent.Kind.FEE,
        amount_cents=-fee,
        metadata=metadata,
        parent_event_id=event_id,
        description=f"Gumroad fee on {cell(row, 'Item Name')}".strip(),
        **common,
    )


def _gumroad_dispute(
    row: Row, event_id: str, purchase_id: str, amount: int, metadata: dict[str, Any], common: dict[str, Any]
) -> list[LedgerEntry]:
    """The disputed sale, and its return when the dispute was won; [] without a dispute."""
    if not flag(cell(row, "Disputed?")):
        return []
    shared = {"metadata": metadata, "parent_event_id": event_id, **common}
    entries = [
        LedgerEntry(
            event_id=f"gumroad:dispute:{purchase_id}",
            event_type="csv.dispute",
            kind=RevenueEvent.Kind.DISPUTE,
            amount_cents=-amount,
            description="Disputed (from export)",
            **shared,
        )
    ]
    if flag(cell(row, "Dispute Won?")):
        entries.append(
            LedgerEntry(
                event_id=f"gumroad:dispute_won:{purchase_id}",
                event_type="csv.dispute_won",
                kind=RevenueEvent.Kind.DISPUTE_REVERSAL,
                amount_cents=amount,
                description="Dispute won (from export)",
                **shared,
            )
        )
    return entries


def _ruby_time(text: str) -> str:
    """Ruby Time#to_s ('2026-09-02 10:00:00 UTC' / '... +0000') -> ISO 8601."""
    parts = text.split()
    if len(parts) == 3 and parts[2][:1] in "+-" and len(parts[2]) == 5:
        return f"{parts[0]}T{parts[1]}{parts[2][:3]}:{parts[2][3:]}"
    return text

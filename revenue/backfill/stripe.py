"""The Stripe Dashboard payments export ("unified payments") mapped like the webhooks."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..entries import LedgerEntry
from ..models import RevenueEvent
from ..money import from_minor_units
from ..services.fees import stripe_fee_charge_key
from .parse import (
    FORMAT_STRIPE,
    STRIPE_CREATED_COLUMNS,
    STRIPE_MONEY_STATUSES,
    MappedRow,
    Row,
    RowError,
    amount_cell,
    cell,
    currency_cell,
    email_cell,
    first_present,
    flag,
    optional_amount_cell,
    parse_occurred_at,
)


def _metadata_column(row: Row, name: str) -> tuple[str, str]:
    """Stripe exports metadata keys as '<key> (metadata)' columns."""
    wanted = f"{name} (metadata)".casefold()
    for column in row:
        if column and column.strip().casefold() == wanted:
            return column, cell(row, column)
    return f"{name} (metadata)", ""


def map_stripe_row(row: Row, *, file_name: str = "") -> MappedRow:
    """One row of the Stripe Dashboard payments export -> the payment, and its refund / dispute.

    Keyed like the webhooks (`stripe:pi_…`, charge id where there is no PaymentIntent)
    so rows already booked from webhooks are skipped. The export only carries the
    cumulative refunded amount, so refunds from it are one row per payment.
    """
    skip_reason = _stripe_skip_reason(row)
    if skip_reason:
        return MappedRow(skip_reason=skip_reason)
    charge_id = cell(row, "id")
    if not charge_id:
        raise RowError("id", "is required")
    currency = currency_cell(row, "Currency")
    amount = amount_cell(row, "Amount", currency)
    if amount <= 0:
        raise RowError("Amount", "a payment is a positive amount")
    created_column, created = first_present(row, STRIPE_CREATED_COLUMNS)
    occurred_at = parse_occurred_at(created, created_column, naive_zone=UTC)
    entity_column, entity_hint = _metadata_column(row, "entity")
    key = cell(row, "PaymentIntent ID") or charge_id
    common: dict[str, Any] = {
        "provider": RevenueEvent.Provider.STRIPE,
        "currency": currency,
        "customer_email": email_cell(row, "Customer Email"),
        "customer_id": cell(row, "Customer ID") or None,
        "source_id": key,
        "entity_hint": entity_hint,
    }
    metadata = _stripe_metadata(row, charge_id, file_name)
    event_id = f"stripe:{key}"
    entries = [_stripe_charge(row, event_id, amount, occurred_at, metadata, common)]
    refund = _stripe_refund(row, event_id, charge_id, amount, occurred_at, metadata, common)
    if refund is not None:
        entries.append(refund)
    entries.extend(_stripe_dispute(row, event_id, occurred_at, metadata, common))
    fee = _stripe_fee(row, event_id, charge_id, occurred_at, metadata, common)
    if fee is not None:
        entries.append(fee)
    return MappedRow(entries, entity_column=entity_column, date_column=created_column)


def _stripe_skip_reason(row: Row) -> str:
    """Why a row moved no money (a failed or uncaptured charge), or "" when it did."""
    status = cell(row, "Status").lower()
    if status and status not in STRIPE_MONEY_STATUSES:
        return f"status '{cell(row, 'Status')}': no money moved"
    if "Captured" in row and cell(row, "Captured") and not flag(cell(row, "Captured")):
        return "not captured (an authorisation is not revenue)"
    return ""


def _stripe_metadata(row: Row, charge_id: str, file_name: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"source": f"csv:{FORMAT_STRIPE}", "charge_id": charge_id}
    if cell(row, "PaymentIntent ID"):
        metadata["payment_intent"] = cell(row, "PaymentIntent ID")
    if cell(row, "Invoice ID"):
        metadata["invoice"] = cell(row, "Invoice ID")
    if file_name:
        metadata["import_file"] = file_name
    return metadata


def _stripe_charge(
    row: Row, event_id: str, amount: int, occurred_at: datetime, metadata: dict[str, Any], common: dict[str, Any]
) -> LedgerEntry:
    """The payment itself, with Stripe's own USD conversion when the export has one."""
    usd_cents, fx_rate = _stripe_conversion(row, amount, common["currency"], "Converted Amount")
    return LedgerEntry(
        event_id=event_id,
        event_type="csv.charge",
        kind=RevenueEvent.Kind.PAYMENT,
        amount_cents=amount,
        occurred_at=occurred_at,
        metadata=metadata,
        description=cell(row, "Description"),
        amount_usd_cents=usd_cents,
        fx_rate=fx_rate,
        fx_source=RevenueEvent.FxSource.STRIPE if usd_cents is not None else "",
        **common,
    )


def _stripe_refund(
    row: Row,
    event_id: str,
    charge_id: str,
    amount: int,
    occurred_at: datetime,
    metadata: dict[str, Any],
    common: dict[str, Any],
) -> LedgerEntry | None:
    """The cumulative refunded amount, or None when nothing was refunded.

    Keyed and tagged exactly like the webhook's charge.refunded without a refund list, so
    the two paths share one rule: book only what no refund row explains yet (see
    RowPreparer.prepare), and a later refund.* delivery settles it instead of adding to it.
    """
    currency = common["currency"]
    refunded = optional_amount_cell(row, "Amount Refunded", currency) or 0
    if not refunded:
        return None
    if refunded < 0 or refunded > amount:
        raise RowError("Amount Refunded", "must be between 0 and the amount")
    refunded_on = cell(row, "Refunded date (UTC)")
    refund_usd, refund_rate = _stripe_conversion(row, refunded, currency, "Converted Amount Refunded")
    return LedgerEntry(
        event_id=f"stripe:refund-unattributed:{charge_id}:{refunded}",
        event_type="csv.refund",
        kind=RevenueEvent.Kind.REFUND,
        amount_cents=-refunded,
        occurred_at=parse_occurred_at(refunded_on, "Refunded date (UTC)", naive_zone=UTC)
        if refunded_on
        else occurred_at,
        metadata={
            **metadata,
            "cumulative_refund": True,
            "refund_charge": charge_id,
            "refund_role": "unattributed",
            "amount_refunded": refunded,
        },
        parent_event_id=event_id,
        description=f"Refunded (from export) {cell(row, 'Description')}".strip(),
        amount_usd_cents=-refund_usd if refund_usd is not None else None,
        fx_rate=refund_rate,
        fx_source=RevenueEvent.FxSource.STRIPE if refund_usd is not None else "",
        **common,
    )


def _stripe_fee(
    row: Row, event_id: str, charge_id: str, occurred_at: datetime, metadata: dict[str, Any], common: dict[str, Any]
) -> LedgerEntry | None:
    """The charge's processing fee (the `Fee` column), or None when there is none.

    Stripe takes the fee in the settlement currency (`Converted Currency` when the export
    has it). Keyed by the charge, and booked only when no webhook or itemized report row
    already holds this charge's fee (see revenue.services.fees).
    """
    if not cell(row, "Fee"):
        return None
    fee_currency = currency_cell(row, "Converted Currency") if cell(row, "Converted Currency") else common["currency"]
    fee = amount_cell(row, "Fee", fee_currency)
    if fee == 0:
        return None
    if fee < 0:
        raise RowError("Fee", "a fee is written as a positive amount")
    return LedgerEntry(
        event_id=stripe_fee_charge_key(charge_id),
        event_type="csv.fee",
        kind=RevenueEvent.Kind.FEE,
        amount_cents=-fee,
        occurred_at=occurred_at,
        metadata={**metadata, "charge": charge_id},
        parent_event_id=event_id,
        description=f"Stripe fee (from export) {cell(row, 'Description')}".strip(),
        **{**common, "currency": fee_currency},
    )


def _stripe_dispute(
    row: Row, event_id: str, occurred_at: datetime, metadata: dict[str, Any], common: dict[str, Any]
) -> list[LedgerEntry]:
    """The disputed amount, and its return when the dispute was won; [] without a dispute."""
    disputed = optional_amount_cell(row, "Disputed Amount", common["currency"]) or 0
    if disputed <= 0:
        return []
    dispute_date = cell(row, "Dispute Date (UTC)")
    disputed_at = parse_occurred_at(dispute_date, "Dispute Date (UTC)", naive_zone=UTC) if dispute_date else occurred_at
    shared = {"occurred_at": disputed_at, "metadata": metadata, "parent_event_id": event_id, **common}
    entries = [
        LedgerEntry(
            event_id=f"{event_id}:dispute",
            event_type="csv.dispute",
            kind=RevenueEvent.Kind.DISPUTE,
            amount_cents=-disputed,
            description="Disputed (from export)",
            **shared,
        )
    ]
    if cell(row, "Dispute Status").lower() == "won":
        entries.append(
            LedgerEntry(
                event_id=f"{event_id}:dispute_won",
                event_type="csv.dispute_won",
                kind=RevenueEvent.Kind.DISPUTE_REVERSAL,
                amount_cents=disputed,
                description="Dispute won (from export)",
                **shared,
            )
        )
    return entries


def _stripe_conversion(row: Row, amount: int, currency: str, column: str) -> tuple[int | None, Decimal | None]:
    """Stripe's own conversion to USD, when the export carries one."""
    converted_currency = cell(row, "Converted Currency").upper()
    if currency == "USD" or converted_currency != "USD" or not cell(row, column):
        return None, None
    usd = amount_cell(row, column, "USD")
    rate = (from_minor_units(usd, "USD") / from_minor_units(amount, currency)).quantize(Decimal("0.0000000001"))
    return usd, rate

"""Stripe payout files: the Dashboard payouts export (one row per payout: the expected bank deposit)
and the itemized payout reconciliation report (`payout_reconciliation.itemized`: one row per balance
transaction, with the automatic payout that settles it).

Pure functions over a row dict. A reconciliation row books its charge, refund, dispute or fee with
the itemized balance report's mapping (`stripe_itemized`), so under the webhooks' keys
(`stripe:pi_…`, `stripe:re_…`, `stripe:dp_…`, `stripe:fee:txn_…`) and nothing is booked twice;
every row, whatever its category, is also a settlement line of its payout, so the payout ties
out to the cent even where a line (a transfer, a payout reversal) is not revenue.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from ..entries import PayoutLine, SettlementLine
from ..models import Payout, RevenueEvent
from ..services import stripe_fee_charge_key
from .parse import (
    FORMAT_STRIPE_PAYOUT_RECONCILIATION,
    FORMAT_STRIPE_PAYOUTS,
    STRIPE_CREATED_COLUMNS,
    STRIPE_PAYOUTS_ARRIVAL_COLUMNS,
    MappedRow,
    Row,
    RowError,
    amount_cell,
    cell,
    currency_cell,
    first_present,
    iso_from_us_slashes,
    parse_occurred_at,
)
from .stripe_itemized import BOOKED, map_stripe_itemized_row

PAYOUT_ENTITY_COLUMN = "entity (metadata)"
# Columns of the payouts export kept on the payout for the record (shown in its admin page).
_PAYOUT_DETAIL_COLUMNS = {
    "Description": "description",
    "Type": "type",
    "Method": "method",
    "Destination": "destination",
    "Source Type": "source_type",
    "Balance Transaction": "balance_transaction",
    "Failure Code": "failure_code",
    "Failure Message": "failure_message",
}
_STATUSES = ", ".join(Payout.Status.values)
# A pending payout's arrival date is a few business days ahead; a month is beyond any schedule.
_ARRIVAL_LEEWAY = timedelta(days=31)
_PAYOUT_ID = re.compile(r"po_[A-Za-z0-9_]+")


def map_stripe_payout_row(row: Row, *, file_name: str = "") -> MappedRow:
    """One payout of the Dashboard payouts export -> the Payout it creates or updates."""
    payout_id = cell(row, "id")
    if not _PAYOUT_ID.fullmatch(payout_id):
        raise RowError("id", f"'{payout_id}' is not a Stripe payout id (po_…)" if payout_id else "is required")
    currency = currency_cell(row, "Currency")
    amount = amount_cell(row, "Amount", currency)
    if amount <= 0:
        raise RowError("Amount", "a payout is a positive amount")
    status = cell(row, "Status").casefold().replace(" ", "_").replace("-", "_")
    if status == "cancelled":
        status = Payout.Status.CANCELED
    if status not in Payout.Status.values:
        raise RowError("Status", f"'{cell(row, 'Status')}' is not a payout status ({_STATUSES})")
    arrival_column, arrival_text = first_present(row, STRIPE_PAYOUTS_ARRIVAL_COLUMNS)
    metadata: dict[str, str] = {"source": f"csv:{FORMAT_STRIPE_PAYOUTS}"}
    if file_name:
        metadata["import_file"] = file_name
    created_column, created_text = first_present(row, STRIPE_CREATED_COLUMNS)
    if created_text:
        metadata["created_utc"] = parse_occurred_at(created_text, created_column, naive_zone=UTC).isoformat()
    for column, key in _PAYOUT_DETAIL_COLUMNS.items():
        if value := cell(row, column):
            metadata[key] = value
    return MappedRow(
        payout=PayoutLine(
            payout_id=payout_id,
            provider=RevenueEvent.Provider.STRIPE,
            amount_cents=amount,
            currency=currency,
            status=status,
            arrival_on=arrival_date(arrival_text, arrival_column) if arrival_text else None,
            statement_descriptor=cell(row, "Statement Descriptor"),
            entity_hint=cell(row, PAYOUT_ENTITY_COLUMN),
            metadata=metadata,
        ),
        entity_column=PAYOUT_ENTITY_COLUMN,
    )


def arrival_date(text: str, column: str) -> date:
    """The bank date a payout lands: a date, or a timestamp read as its UTC day (Stripe writes midnight
    UTC). A pending payout's date is ahead, so up to a month ahead is accepted, unlike a ledger date."""
    value = text.strip()
    if value.upper().endswith(" UTC"):
        value = value[:-4].strip()
    iso = iso_from_us_slashes(value, text, column)
    try:
        parsed: date = date.fromisoformat(iso) if len(iso) == 10 else datetime.fromisoformat(iso)
    except ValueError:
        raise RowError(column, f"'{text}' is not a date; use ISO 8601, e.g. 2026-06-22") from None
    if isinstance(parsed, datetime):
        parsed = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC).date()
    earliest: date = settings.LEDGER_EARLIEST_DATE
    if parsed < earliest:
        raise RowError(column, f"'{text}' is before {earliest.isoformat()}, the earliest date accepted; check the date")
    if parsed > timezone.now().date() + _ARRIVAL_LEEWAY:
        raise RowError(column, f"'{text}' is more than a month ahead; check the date")
    return parsed


def map_payout_reconciliation_row(row: Row, *, file_name: str = "") -> MappedRow:
    """One balance transaction of the itemized payout reconciliation report -> its settlement line and,
    for a charge, refund, dispute or fee, the ledger rows the itemized balance report books for it."""
    payout_id = cell(row, "automatic_payout_id")
    if not payout_id:
        return MappedRow(skip_reason="automatic_payout_id is empty: not settled by an automatic payout yet")
    if not _PAYOUT_ID.fullmatch(payout_id):
        raise RowError("automatic_payout_id", f"'{payout_id}' is not a Stripe payout id (po_…)")
    category = cell(row, "reporting_category")
    txn = cell(row, "balance_transaction_id")
    if not txn:
        raise RowError("balance_transaction_id", "is required")
    if not category:
        raise RowError("reporting_category", "is required")
    currency = currency_cell(row, "currency")
    gross, fee, net = (amount_cell(row, column, currency) for column in ("gross", "fee", "net"))
    if net != gross - fee:
        raise RowError("net", "must equal gross minus fee")
    entries = map_stripe_itemized_row(row, file_name=file_name).entries if category in BOOKED else []
    keys = [entry.event_id for entry in entries]
    if category in ("charge", "payment") and (charge := cell(row, "charge_id") or cell(row, "source_id")):
        keys.append(stripe_fee_charge_key(charge))  # the same fee, booked from the payments export
    metadata: dict[str, str] = {"source": f"csv:{FORMAT_STRIPE_PAYOUT_RECONCILIATION}"}
    if file_name:
        metadata["import_file"] = file_name
    for column in ("charge_id", "payment_intent_id", "customer_email", "automatic_payout_effective_at_utc"):
        if value := cell(row, column):
            metadata[column] = value
    settlement = SettlementLine(
        payout_id=payout_id,
        provider=RevenueEvent.Provider.STRIPE,
        balance_transaction_id=txn,
        reporting_category=category,
        currency=currency,
        gross_cents=gross,
        fee_cents=fee,
        net_cents=net,
        occurred_at=parse_occurred_at(cell(row, "created_utc"), "created_utc", naive_zone=UTC),
        source_id=cell(row, "source_id"),
        description=cell(row, "description")[:500],
        ledger_keys=tuple(keys),
        metadata=metadata,
    )
    return MappedRow(
        entries, entity_column="payment_metadata[entity]", date_column="created_utc", settlement=settlement
    )


__all__ = ["arrival_date", "map_payout_reconciliation_row", "map_stripe_payout_row"]

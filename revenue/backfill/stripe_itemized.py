"""Stripe's itemized balance change report (`balance_change_from_activity.itemized`), mapped like
the webhooks: one row per balance transaction, with its fee.

The accountant's best Stripe file: charges, refunds, disputes, dispute reversals and fees in one,
each with the fee Stripe took. Amounts are in the balance (settlement) currency, in major units;
`customer_facing_amount` / `customer_facing_currency` carry what the customer paid. Keys are the
webhooks' keys (`stripe:pi_…`, `stripe:re_…`, `stripe:dp_…`, `stripe:dp_…:reinstated`,
`stripe:fee:txn_…`), so a row already booked from a webhook is skipped, and a charge's fee
already booked from the payments export is not booked twice (revenue.services.fees).
Payouts and transfers move money to the bank, not revenue: they are skipped, as is any
reporting category this import does not book, naming it.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any

from django.conf import settings

from ..entries import LedgerEntry
from ..models import RevenueEvent
from ..money import from_minor_units
from .parse import (
    FORMAT_STRIPE_ITEMIZED,
    MappedRow,
    Row,
    RowError,
    amount_cell,
    cell,
    currency_cell,
    email_cell,
    parse_occurred_at,
)

Kind = RevenueEvent.Kind
ENTITY_COLUMN = "payment_metadata[entity]"
# Categories that move money between the Stripe balance and a bank: reconciliation's business.
NOT_REVENUE = {"payout", "payout_reversal", "transfer", "transfer_reversal", "topup", "topup_reversal"}
BOOKED = {"charge", "payment", "refund", "dispute", "dispute_reversal", "fee"}


def map_stripe_itemized_row(row: Row, *, file_name: str = "") -> MappedRow:
    """One balance transaction -> its ledger row and its fee, or a reason to skip naming the category."""
    category = cell(row, "reporting_category")
    if category in NOT_REVENUE:
        return MappedRow(skip_reason=f"reporting_category '{category}': money to or from the bank, not revenue")
    if category not in BOOKED:
        return MappedRow(skip_reason=f"reporting_category '{category or '(empty)'}' is not one this import books")
    txn = cell(row, "balance_transaction_id")
    if not txn:
        raise RowError("balance_transaction_id", "is required")
    currency = currency_cell(row, "currency")
    gross, fee = amount_cell(row, "gross", currency), amount_cell(row, "fee", currency)
    if amount_cell(row, "net", currency) != gross - fee:
        raise RowError("net", "must equal gross minus fee")
    context = _Context(row, txn, currency, file_name)
    entries = [_main_entry(context, category, gross)] if category != "fee" else []
    entries += _fee_entries(context, category, gross if category == "fee" else fee)
    return MappedRow(entries, entity_column=ENTITY_COLUMN, date_column="created_utc")


class _Context:
    """What every entry of one report row shares."""

    def __init__(self, row: Row, txn: str, currency: str, file_name: str):
        self.row, self.txn, self.currency = row, txn, currency
        self.charge_id = cell(row, "charge_id")
        self.source_id = cell(row, "source_id")
        payment = cell(row, "payment_intent_id") or self.charge_id
        self.payment_key = f"stripe:{payment}" if payment else ""
        self.occurred_at = parse_occurred_at(cell(row, "created_utc"), "created_utc", naive_zone=UTC)
        self.metadata: dict[str, Any] = {
            "source": f"csv:{FORMAT_STRIPE_ITEMIZED}",
            "balance_transaction": txn,
            "reporting_category": cell(row, "reporting_category"),
        }
        if file_name:
            self.metadata["import_file"] = file_name
        self.common: dict[str, Any] = {
            "provider": RevenueEvent.Provider.STRIPE,
            "customer_email": email_cell(row, "customer_email"),
            "customer_id": cell(row, "customer_id") or None,
            "entity_hint": cell(row, ENTITY_COLUMN),
            "occurred_at": self.occurred_at,
        }


def _main_entry(context: _Context, category: str, gross: int) -> LedgerEntry:
    if category in ("charge", "payment"):
        return _payment(context, gross)
    if not context.payment_key:
        raise RowError("charge_id", f"a {category} names the charge it belongs to")
    if not context.source_id:
        raise RowError("source_id", f"a {category} names its {'refund' if category == 'refund' else 'dispute'} id")
    kind, event_id, metadata = {
        "refund": (
            Kind.REFUND,
            f"stripe:{context.source_id}",
            {"refund_charge": context.charge_id, "refund_role": "refund"},
        ),
        "dispute": (Kind.DISPUTE, f"stripe:{context.source_id}", {"dispute": context.source_id}),
        "dispute_reversal": (
            Kind.DISPUTE_REVERSAL,
            f"stripe:{context.source_id}:reinstated",
            {"dispute": context.source_id},
        ),
    }[category]
    expected_sign = 1 if kind == Kind.DISPUTE_REVERSAL else -1
    if gross * expected_sign <= 0:
        raise RowError("gross", f"a {category} is {'positive' if expected_sign > 0 else 'negative'}")
    amount, usd, rate, fx_source = _customer_amount(context, gross)
    return LedgerEntry(
        event_id=event_id,
        event_type=f"report.{category}",
        kind=kind,
        amount_cents=amount,
        currency=_customer_currency(context),
        metadata={**context.metadata, **metadata, "charge": context.charge_id},
        source_id=context.source_id,
        parent_event_id=context.payment_key,
        description=cell(context.row, "description"),
        amount_usd_cents=usd,
        fx_rate=rate,
        fx_source=fx_source,
        **context.common,
    )


def _payment(context: _Context, gross: int) -> LedgerEntry:
    if gross <= 0:
        raise RowError("gross", "a charge is positive")
    if not context.payment_key:
        raise RowError("charge_id", "a charge names its charge id")
    amount, usd, rate, fx_source = _customer_amount(context, gross)
    key = context.payment_key.removeprefix("stripe:")
    return LedgerEntry(
        event_id=context.payment_key,
        event_type="report.charge",
        kind=Kind.PAYMENT,
        amount_cents=amount,
        currency=_customer_currency(context),
        metadata={**context.metadata, "charge_id": context.charge_id},
        source_id=key,
        description=cell(context.row, "description"),
        amount_usd_cents=usd,
        fx_rate=rate,
        fx_source=fx_source,
        **context.common,
    )


def _customer_currency(context: _Context) -> str:
    if cell(context.row, "customer_facing_currency"):
        return currency_cell(context.row, "customer_facing_currency")
    return context.currency


def _customer_amount(context: _Context, gross: int) -> tuple[int, int | None, Decimal | None, str]:
    """What the customer paid (in their currency, signed like gross), and, when the balance is in the
    reporting currency, what actually arrived in it: the settlement, with its rate."""
    customer_currency = _customer_currency(context)
    if customer_currency == context.currency or not cell(context.row, "customer_facing_amount"):
        return gross, None, None, ""
    amount = abs(amount_cell(context.row, "customer_facing_amount", customer_currency))
    signed = amount if gross > 0 else -amount
    if context.currency != settings.REPORTING_CURRENCY or amount == 0:
        return signed, None, None, ""
    rate = from_minor_units(abs(gross), context.currency) / from_minor_units(amount, customer_currency)
    return signed, gross, rate.quantize(Decimal("0.0000000001")), RevenueEvent.FxSource.STRIPE


def _fee_entries(context: _Context, category: str, fee: int) -> list[LedgerEntry]:
    """The fee Stripe took on this balance transaction (negative row), or the fee it gave back
    (a positive adjustment); for category `fee`, the standalone fee itself (gross, negative)."""
    if fee == 0:
        return []
    amount = fee if category == "fee" else -fee
    metadata = dict(context.metadata)
    if category in ("charge", "payment"):
        metadata["charge"] = context.charge_id or context.source_id  # one fee per charge: revenue.services.fees
    elif category != "fee":
        metadata[category] = context.source_id
    return [
        LedgerEntry(
            event_id=f"stripe:fee:{context.txn}",
            event_type=f"report.{category}.fee",
            kind=Kind.FEE if amount < 0 else Kind.ADJUSTMENT,
            amount_cents=amount,
            currency=context.currency,
            metadata=metadata,
            source_id=context.txn,
            parent_event_id=context.payment_key if category != "fee" else "",
            description=cell(context.row, "description") or "Stripe fee",
            **context.common,
        )
    ]

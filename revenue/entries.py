"""The normalized ledger entry every source maps into (Stripe, Gumroad, manual, CSV)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

# Metadata key on a manual payment (a PO or contract paid by wire or check) that a bank deposit
# should explain: written by the "Record offline payment" form, read by reconciliation.
EXPECTS_BANK_DEPOSIT = "expects_bank_deposit"

# Metadata key holding the provider's own time (ISO 8601) of a row that arrived for a locked
# period and was booked on the entity's first open day instead (see revenue.services.locks).
TRUE_OCCURRED_AT = "true_occurred_at"


@dataclass(frozen=True)
class LedgerEntry:
    event_id: str
    provider: str
    event_type: str
    kind: str
    amount_cents: int
    currency: str
    occurred_at: datetime
    customer_email: str | None = None
    customer_id: str | None = None
    metadata: dict = field(default_factory=dict)
    source_id: str = ""
    parent_event_id: str = ""
    reference: str = ""
    description: str = ""
    # Entity hints, resolved by revenue.services.entity_resolve.
    entity_hint: str = ""
    stripe_account: str = ""
    product_id: str = ""
    # What the buyer typed (e.g. Gumroad url_params[entity]): never picks an entity, only flags a conflict.
    buyer_entity_hint: str = ""
    # A provider-stated conversion (e.g. Stripe balance transaction), if any.
    amount_usd_cents: int | None = None
    fx_rate: Decimal | None = None
    fx_source: str = ""
    # For reversing rows: the event_id of the row this one reverses.
    reverses_event_id: str = ""


@dataclass(frozen=True)
class PayoutLine:
    """One provider payout as a file lists it (Stripe's Dashboard payouts export): the expected deposit."""

    payout_id: str
    provider: str
    amount_cents: int
    currency: str
    status: str
    arrival_on: date | None
    statement_descriptor: str = ""
    entity_hint: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SettlementLine:
    """One balance transaction a payout settles (Stripe's `payout_reconciliation.itemized` report), with the
    report's own amounts in the balance currency's minor units and the ledger keys it books under."""

    payout_id: str
    provider: str
    balance_transaction_id: str
    reporting_category: str
    currency: str
    gross_cents: int
    fee_cents: int
    net_cents: int
    occurred_at: datetime
    source_id: str = ""
    description: str = ""
    ledger_keys: tuple[str, ...] = ()
    metadata: dict = field(default_factory=dict)

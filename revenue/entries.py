"""The normalized ledger entry every source maps into (Stripe, Gumroad, manual, CSV)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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

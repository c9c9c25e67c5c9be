"""What a provider payload means for the ledger, as plain data.

Pure mapping functions (integrations.stripe.mapping, integrations.gumroad.mapping)
turn a payload into a list of facts; `integrations.services.ingest.facts_apply`
is the only place that turns facts into ledger writes. Keeping the facts
declarative lets webhooks and the API backfill share one mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from revenue.entries import LedgerEntry


class MappingError(ValueError):
    """The payload is well-formed JSON but does not have the shape the mapping needs."""


@dataclass(frozen=True)
class Record:
    """Record this entry (idempotent on its event_id).

    `mirror_parent`: when the parent sale is already in the ledger, book its
    amount and currency (with this entry's sign) instead of the entry's own: a
    Gumroad refund ping has no amount, the sale in the ledger is the truth.
    """

    entry: LedgerEntry
    mirror_parent: bool = False


@dataclass(frozen=True)
class StripeRefund:
    """One Stripe refund (refund.* or an item of charge.refunded's `refunds` list).

    A failed/canceled refund is recorded and then reversed once, so the end
    state is the same whichever of its deliveries arrives first.
    """

    entry: LedgerEntry
    charge_id: str
    failed: bool = False
    failed_at: datetime | None = None
    failure_reason: str = ""


@dataclass(frozen=True)
class StripeRefundTotal:
    """charge.refunded says `amount_refunded` (cumulative) for a charge.

    Only the part no refund row explains yet is booked, as an "unattributed"
    refund that later refund rows settle (see docs/ingestion.md).
    """

    template: LedgerEntry
    charge_id: str
    amount_refunded: int


@dataclass(frozen=True)
class PayoutFact:
    provider: str
    payout_id: str
    amount_cents: int
    currency: str
    status: str
    arrival_on: date | None
    stripe_account: str = ""
    statement_descriptor: str = ""
    metadata: dict[str, object] = field(default_factory=dict)


Fact = Record | StripeRefund | StripeRefundTotal | PayoutFact


@dataclass(frozen=True)
class Mapped:
    """`handled` is False for event types we do not book (kept as 'ignored')."""

    facts: list[Fact]
    handled: bool = True
    note: str = ""

"""The one rule for a Stripe charge's processing fee: one fee row per charge, whatever brought it.

A webhook (and Stripe's itemized balance report) key the fee by its balance transaction,
`stripe:fee:txn_…`; the payments export has no balance transaction id and keys it by the
charge, `stripe:fee:charge:ch_…`. Every such row records the charge in `metadata.charge` and
its sale in `parent_event_id`, so before booking one, a path asks whether the charge's fee is
already in the ledger under the other key, and books nothing if it is.
"""

from __future__ import annotations

from ..entries import LedgerEntry
from ..models import RevenueEvent


def stripe_fee_charge_key(charge_id: str) -> str:
    """The key of a charge's fee when its balance transaction id is not known (the payments export)."""
    return f"stripe:fee:charge:{charge_id}"


def is_stripe_charge_fee(entry: LedgerEntry) -> bool:
    """A Stripe processing fee of one charge (not a dispute fee, not a standalone Stripe fee)."""
    return (
        entry.provider == RevenueEvent.Provider.STRIPE
        and entry.kind == RevenueEvent.Kind.FEE
        and bool(entry.parent_event_id)
        and bool(entry.metadata.get("charge"))
    )


def stripe_charge_fee_booked(entry: LedgerEntry) -> RevenueEvent | None:
    """The fee row of the entry's charge already in the ledger under ANOTHER key, or None (one indexed query)."""
    if not is_stripe_charge_fee(entry):
        return None
    return (
        RevenueEvent.objects.filter(
            parent_event_id=entry.parent_event_id,
            kind=RevenueEvent.Kind.FEE,
            metadata__charge=entry.metadata["charge"],
        )
        .exclude(event_id=entry.event_id)
        .select_related("entity")
        .first()
    )

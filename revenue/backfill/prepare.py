"""Entity resolution and reporting-currency conversion for mapped entries, cached per file
so 100k rows do not cost 100k lookups."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from ..business_time import business_date_of
from ..entries import LedgerEntry
from ..models import Entity, RevenueEvent
from ..services import (
    CachedRateTable,
    EntityResolution,
    entity_resolve,
    lock_refusal,
    stripe_charge_fee_booked,
    stripe_refund_outstanding,
    usd_conversion,
)
from .parse import RowError


@dataclass(frozen=True)
class PreparedRow:
    entry: LedgerEntry
    entity: Entity
    entity_source: str
    amount_usd_cents: int | None
    fx_rate: Decimal | None
    fx_source: str


# --- resolution and conversion, cached per file ---------------------------------------


class RowPreparer:
    """Entity and USD conversion for mapped entries; one lookup per distinct key, not per row."""

    def __init__(self, *, default_entity: Entity | None = None):
        self.default_entity = default_entity
        self._entities: dict[tuple[str, str, str], EntityResolution] = {}
        self._rates = CachedRateTable()

    def prepare(
        self, entry: LedgerEntry, *, entity_column: str = "entity", date_column: str = "occurred_at"
    ) -> PreparedRow | None:
        """Resolve and convert; None when the entry books nothing (a refund already explained, a
        charge's fee already booked under its other key). A row dated in its entity's locked period
        is refused: a file is entered by a person, so it is never moved past the lock."""
        if stripe_charge_fee_booked(entry) is not None:
            return None
        if entry.metadata.get("refund_role") == "unattributed":
            remainder = _unexplained_refund(entry)
            if remainder is None:
                return None
            entry = remainder
        key = (entry.entity_hint, entry.stripe_account, entry.product_id)
        if key not in self._entities:
            self._entities[key] = entity_resolve(
                entity_hint=entry.entity_hint, stripe_account=entry.stripe_account, product_id=entry.product_id
            )
        resolution = self._entities[key]
        if not resolution.resolved:
            known = ", ".join(sorted(e.slug for e in Entity.objects.all()))
            raise RowError(entity_column, f"'{entry.entity_hint}' is not a known entity (known: {known})")
        entity, source = resolution.entity, resolution.source
        if source == RevenueEvent.EntitySource.DEFAULT and self.default_entity is not None:
            entity, source = self.default_entity, RevenueEvent.EntitySource.EXPLICIT
        refusal = lock_refusal(entity, business_date_of(entry.occurred_at))
        if refusal:
            raise RowError(date_column, refusal)
        usd, rate, fx_source = self._convert(entry)
        return PreparedRow(entry, entity, source, usd, rate, fx_source)

    def _convert(self, entry: LedgerEntry) -> tuple[int | None, Decimal | None, str]:
        conversion = usd_conversion(entry, rate_on=self._rates)
        return conversion.amount_usd_cents, conversion.fx_rate, conversion.fx_source

    def entry_for_service(self, prepared: PreparedRow) -> LedgerEntry:
        """The entry with the conversion settled, for `revenue_event_record`."""
        return replace(
            prepared.entry,
            amount_usd_cents=prepared.amount_usd_cents
            if prepared.fx_source != RevenueEvent.FxSource.IDENTITY
            else None,
            fx_rate=prepared.fx_rate if prepared.fx_source != RevenueEvent.FxSource.IDENTITY else None,
        )


def _unexplained_refund(entry: LedgerEntry) -> LedgerEntry | None:
    """The part of a cumulative refunded amount that no ledger row for the charge explains yet."""
    remainder = stripe_refund_outstanding(
        parent_event_id=entry.parent_event_id,
        charge_id=entry.metadata["refund_charge"],
        amount_refunded=entry.metadata["amount_refunded"],
    )
    if remainder == 0:
        return None
    usd = entry.amount_usd_cents
    if usd is not None and entry.amount_cents:
        usd = usd * remainder // -entry.amount_cents
    return replace(entry, amount_cents=-remainder, amount_usd_cents=usd)

"""Entity resolution and reporting-currency conversion for mapped entries, cached per file
so 100k rows do not cost 100k lookups."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from ..business_time import business_date_of
from ..entries import LedgerEntry
from ..models import Entity, ExchangeRate, RevenueEvent
from ..money import convert_minor_units
from ..services import EntityResolution, entity_resolve
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
        self._rates: dict[str, tuple[list[date], list[Decimal]]] = {}

    def prepare(self, entry: LedgerEntry, *, entity_column: str = "entity") -> PreparedRow | None:
        """Resolve and convert; None when the entry books nothing (a refund already explained)."""
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
        usd, rate, fx_source = self._convert(entry)
        return PreparedRow(entry, entity, source, usd, rate, fx_source)

    def _convert(self, entry: LedgerEntry) -> tuple[int | None, Decimal | None, str]:
        if entry.currency == settings.REPORTING_CURRENCY:
            return entry.amount_cents, Decimal(1), RevenueEvent.FxSource.IDENTITY
        if entry.amount_usd_cents is not None:
            return entry.amount_usd_cents, entry.fx_rate, entry.fx_source or RevenueEvent.FxSource.STRIPE
        rate = self._rate_on(entry.currency, business_date_of(entry.occurred_at))
        if rate is None:
            return None, None, RevenueEvent.FxSource.NONE
        usd = convert_minor_units(entry.amount_cents, rate=rate, from_currency=entry.currency, to_currency="USD")
        return usd, rate, RevenueEvent.FxSource.RATE_TABLE

    def _rate_on(self, currency: str, day: date) -> Decimal | None:
        """The latest table rate on or before `day`; each currency's rates are loaded once per file."""
        if currency not in self._rates:
            rows = list(
                ExchangeRate.objects.filter(currency=currency)
                .order_by("rate_on")
                .values_list("rate_on", "usd_per_unit")
            )
            self._rates[currency] = ([d for d, _ in rows], [r for _, r in rows])
        days, rates = self._rates[currency]
        index = bisect_right(days, day)
        return rates[index - 1] if index else None

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
    booked = RevenueEvent.objects.filter(
        parent_event_id=entry.parent_event_id, metadata__refund_charge=entry.metadata["refund_charge"]
    ).aggregate(total=Sum("amount_cents"))["total"]
    remainder = entry.metadata["amount_refunded"] + (booked or 0)
    if remainder <= 0:
        return None
    ratio_known = entry.amount_usd_cents is not None and entry.amount_cents
    usd = entry.amount_usd_cents * remainder // -entry.amount_cents if ratio_known else entry.amount_usd_cents
    return replace(entry, amount_cents=-remainder, amount_usd_cents=usd)

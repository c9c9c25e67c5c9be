"""The one USD (reporting currency) conversion of a ledger entry, for webhooks, manual entry and
backfill alike.

Order of truth: the reporting currency itself (rate 1); the provider's own settlement stated on
the entry (a Stripe balance transaction: what actually arrived); otherwise the latest rate-table
rate on or before the entry's business date. No rate: no USD amount (shown as "no rate"), never a
zero or a guess.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings

from ..business_time import business_date_of
from ..entries import LedgerEntry
from ..models import ExchangeRate, RevenueEvent
from ..money import convert_minor_units

# (currency, business date) -> USD per unit, or None when the table has no rate on or before that day.
RateLookup = Callable[[str, date], Decimal | None]


@dataclass(frozen=True)
class UsdConversion:
    amount_usd_cents: int | None
    fx_rate: Decimal | None
    fx_source: str


def rate_table_rate_on(currency: str, day: date) -> Decimal | None:
    """The latest rate-table rate for `currency` on or before `day` (one query)."""
    rate = ExchangeRate.objects.filter(currency=currency, rate_on__lte=day).order_by("-rate_on").first()
    return rate.usd_per_unit if rate is not None else None


class CachedRateTable:
    """`rate_table_rate_on` for many rows: each currency's rates are loaded once (a 100k-row file)."""

    def __init__(self) -> None:
        self._rates: dict[str, tuple[list[date], list[Decimal]]] = {}

    def __call__(self, currency: str, day: date) -> Decimal | None:
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


def usd_conversion(entry: LedgerEntry, *, rate_on: RateLookup = rate_table_rate_on) -> UsdConversion:
    """The entry's amount in the reporting currency, the rate used and its source."""
    reporting = settings.REPORTING_CURRENCY
    if entry.currency == reporting:
        return UsdConversion(entry.amount_cents, Decimal(1), RevenueEvent.FxSource.IDENTITY)
    if entry.amount_usd_cents is not None:
        return UsdConversion(entry.amount_usd_cents, entry.fx_rate, entry.fx_source or RevenueEvent.FxSource.STRIPE)
    rate = rate_on(entry.currency, business_date_of(entry.occurred_at))
    if rate is None:
        return UsdConversion(None, None, RevenueEvent.FxSource.NONE)
    usd = convert_minor_units(entry.amount_cents, rate=rate, from_currency=entry.currency, to_currency=reporting)
    return UsdConversion(usd, rate, RevenueEvent.FxSource.RATE_TABLE)

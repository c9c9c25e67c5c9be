"""Daily reference rates from the ECB (euro foreign exchange reference rates), stored as dated
USD-per-unit rates with their source, for rows no provider settlement converts.

The ECB publishes units of each currency per 1 EUR on TARGET working days around 16:00 CET.
USD per unit of X is a cross rate through EUR: (USD per EUR) / (X per EUR); EUR itself is
USD per EUR. A rate already in the table for that currency and day (typed by a person, or an
earlier fetch) is kept: the fetch never overwrites. A day the ECB does not publish (weekend,
holiday) has no row: the conversion uses the latest rate on or before the business date.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import requests
from django.conf import settings
from django.db import transaction

from ..errors import ApplicationError
from ..models import ExchangeRate
from ..money import ISO_4217_CODES

ECB_SOURCE = "ecb"
_NAMESPACE = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"
_RATE_PLACES = Decimal("0.0000000001")  # ExchangeRate.usd_per_unit has 10 decimal places


class RatesUnavailable(ApplicationError):
    """The rate source could not be read or did not hold reference rates."""


@dataclass(frozen=True)
class RatesFetched:
    days: int
    created: int
    kept: int


def ecb_rates_parse(body: bytes) -> dict[date, dict[str, Decimal]]:
    """The ECB XML (daily or historical file) -> day -> currency -> units per 1 EUR."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise RatesUnavailable("The ECB file holds a DTD; refused", code="rates_invalid")
    try:
        root = ET.fromstring(body)  # noqa: S314 (no DTD, see above)
    except ET.ParseError as exc:
        raise RatesUnavailable(f"The ECB file is not XML ({exc})", code="rates_invalid") from None
    days: dict[date, dict[str, Decimal]] = {}
    for day_cube in root.iter(f"{_NAMESPACE}Cube"):
        if "time" not in day_cube.attrib:
            continue
        try:
            day = date.fromisoformat(day_cube.attrib["time"])
            days[day] = {
                cube.attrib["currency"]: Decimal(cube.attrib["rate"]) for cube in day_cube if "currency" in cube.attrib
            }
        except (KeyError, ValueError, InvalidOperation):
            raise RatesUnavailable(
                f"The ECB file has an unreadable day {day_cube.attrib!r}", code="rates_invalid"
            ) from None
    if not days:
        raise RatesUnavailable("The ECB file holds no dated reference rates", code="rates_invalid")
    return days


def usd_per_unit_cross_rates(per_eur: dict[str, Decimal]) -> dict[str, Decimal]:
    """One day's ECB rates (units per EUR) -> USD per unit of each currency, through EUR.

    Empty when the ECB did not quote USD that day (no cross rate is possible, none is guessed).
    """
    reporting = settings.REPORTING_CURRENCY
    usd_per_eur = per_eur.get(reporting)
    if not usd_per_eur:
        return {}
    rates = {"EUR": usd_per_eur.quantize(_RATE_PLACES)}
    for currency, units_per_eur in per_eur.items():
        if currency == reporting or currency not in ISO_4217_CODES or units_per_eur <= 0:
            continue
        rates[currency] = (usd_per_eur / units_per_eur).quantize(_RATE_PLACES)
    return rates


@transaction.atomic
def exchange_rates_store(*, days: dict[date, dict[str, Decimal]], source: str = ECB_SOURCE) -> RatesFetched:
    """Store each day's USD-per-unit cross rates; a (currency, day) already in the table is kept."""
    rows = [
        ExchangeRate(currency=currency, rate_on=day, usd_per_unit=rate, source=source)
        for day, per_eur in sorted(days.items())
        for currency, rate in sorted(usd_per_unit_cross_rates(per_eur).items())
    ]
    existing = set(ExchangeRate.objects.filter(rate_on__in=list(days)).values_list("currency", "rate_on"))
    new = [row for row in rows if (row.currency, row.rate_on) not in existing]
    ExchangeRate.objects.bulk_create(new, ignore_conflicts=True)  # a concurrent fetch: same rows, kept once
    return RatesFetched(days=len(days), created=len(new), kept=len(rows) - len(new))


def exchange_rates_fetch_ecb(*, url: str | None = None) -> RatesFetched:
    """Fetch the ECB reference rates (settings.ECB_RATES_URL) and store them (see the module docstring)."""
    url = url or settings.ECB_RATES_URL
    try:
        response = requests.get(url, timeout=settings.OUTBOUND_HTTP_TIMEOUT_SECONDS)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise RatesUnavailable(f"ECB reference rates could not be fetched: {exc}", code="rates_unavailable") from None
    return exchange_rates_store(days=ecb_rates_parse(response.content))

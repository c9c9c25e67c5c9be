"""Exchange rates from the ECB (issue 16): a recorded ECB file served by pytest-httpserver and read
with the real HTTP client; cross rates through EUR, stored with source and date; the conversion of
rows no provider settlement converts; "no rate" is one alert per currency, never a zero."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine

from alerts.models import RevenueAlert
from alerts.rates import exchange_rates_refresh
from revenue.models import ExchangeRate, RevenueEvent
from revenue.services import revenue_event_record
from revenue.services.exchange_rates import RatesUnavailable, ecb_rates_parse, exchange_rates_fetch_ecb
from revenue.tests.factories import ledger_entry

pytestmark = pytest.mark.django_db

ECB_FILE = Path(__file__).resolve().parents[2] / "revenue" / "tests" / "data" / "ecb_eurofxref_hist_90d.xml"
NOW = datetime(2026, 6, 3, 18, 0, tzinfo=UTC)


@pytest.fixture
def ecb(httpserver, settings):
    settings.ECB_RATES_URL = httpserver.url_for("/stats/eurofxref/eurofxref-hist-90d.xml")
    httpserver.expect_request("/stats/eurofxref/eurofxref-hist-90d.xml").respond_with_data(
        ECB_FILE.read_bytes(), content_type="text/xml"
    )
    return httpserver


def _rate(currency: str, day: date) -> ExchangeRate:
    return ExchangeRate.objects.get(currency=currency, rate_on=day)


def test_fetch_stores_cross_rates_through_eur_with_source_and_date(ecb):
    fetched = exchange_rates_fetch_ecb()
    assert (fetched.days, fetched.created, fetched.kept) == (2, 28, 0)  # 13 currencies + EUR, two days
    eur = _rate("EUR", date(2026, 6, 2))
    assert (eur.usd_per_unit, eur.source) == (Decimal("1.1400000000"), "ecb")
    # 1 JPY = (USD per EUR) / (JPY per EUR)
    assert _rate("JPY", date(2026, 6, 2)).usd_per_unit == (Decimal("1.14") / Decimal("164.05")).quantize(
        Decimal("0.0000000001")
    )
    assert _rate("GBP", date(2026, 6, 1)).usd_per_unit == (Decimal("1.1350") / Decimal("0.84190")).quantize(
        Decimal("0.0000000001")
    )
    assert not ExchangeRate.objects.filter(currency="USD").exists()  # USD is rate 1, never stored

    again = exchange_rates_fetch_ecb()
    assert (again.created, again.kept) == (0, 28)
    assert ExchangeRate.objects.count() == 28


def test_a_rate_typed_by_a_person_is_kept(ecb):
    ExchangeRate.objects.create(currency="EUR", rate_on=date(2026, 6, 2), usd_per_unit=Decimal("1.15"), source="manual")
    exchange_rates_fetch_ecb()
    assert (_rate("EUR", date(2026, 6, 2)).usd_per_unit, _rate("EUR", date(2026, 6, 2)).source) == (
        Decimal("1.15"),
        "manual",
    )


def test_rows_convert_at_the_latest_dated_rate_and_a_missing_rate_is_one_alert(ecb, entities):
    with time_machine.travel(NOW, tick=False):
        exchange_rates_refresh()
        jpy = revenue_event_record(
            entry=ledger_entry(amount_cents=10000, currency="JPY", occurred_at=datetime(2026, 6, 3, 15, tzinfo=UTC))
        ).event
        # 2026-06-03 has no ECB rate yet (published in the afternoon): the 2 June rate, stated on the row.
        assert (jpy.amount_usd_cents, jpy.fx_source) == (6949, "rate_table")
        assert jpy.fx_rate == _rate("JPY", date(2026, 6, 2)).usd_per_unit
        for n in range(2):
            revenue_event_record(
                entry=ledger_entry(
                    amount_cents=5000 + n, currency="XOF", occurred_at=datetime(2026, 6, 3, 15, tzinfo=UTC)
                )
            )
        assert RevenueEvent.objects.filter(currency="XOF", amount_usd_cents__isnull=True).count() == 2
        assert exchange_rates_refresh()["currencies_without_rate"] == 1
        exchange_rates_refresh()
    alerts = RevenueAlert.objects.filter(fingerprint__startswith="fx:no-rate:")
    assert [a.fingerprint for a in alerts] == ["fx:no-rate:XOF"]
    assert alerts[0].message.startswith("No rate: 2 ledger row(s) in XOF")
    assert alerts[0].occurrences == 2  # one alert, seen again on the next refresh


def test_an_unreachable_ecb_is_one_alert_and_no_rate(httpserver, settings, entities):
    settings.ECB_RATES_URL = httpserver.url_for("/down.xml")
    httpserver.expect_request("/down.xml").respond_with_data("busy", status=503)
    with time_machine.travel(NOW, tick=False):
        exchange_rates_refresh()
        exchange_rates_refresh()
    assert not ExchangeRate.objects.exists()
    alert = RevenueAlert.objects.get(fingerprint="fx:ecb-unavailable:2026-06-03")
    assert "503" in alert.message and alert.occurrences == 2


@pytest.mark.parametrize(
    "body",
    [b"<html>maintenance</html>", b"not xml at all", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>'],
)
def test_a_file_without_reference_rates_is_refused(body):
    with pytest.raises(RatesUnavailable):
        ecb_rates_parse(body)

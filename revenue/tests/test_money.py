from decimal import Decimal

import pytest

from revenue.money import (
    CurrencyError,
    convert_minor_units,
    format_money,
    from_minor_units,
    minor_unit_exponent,
    normalize_currency,
    to_minor_units,
)


@pytest.mark.parametrize(("currency", "exponent"), [("USD", 2), ("usd", 2), ("JPY", 0), ("KWD", 3), ("EUR", 2)])
def test_minor_unit_exponent(currency, exponent):
    assert minor_unit_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1,234.50", "USD", 123450),
        ("0.01", "USD", 1),
        ("5000", "JPY", 5000),
        ("1.234", "KWD", 1234),
        ("-20", "USD", -2000),
    ],
)
def test_to_minor_units(text, currency, minor):
    assert to_minor_units(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"), [("1.5", "JPY"), ("1.2345", "KWD"), ("0.001", "USD"), ("abc", "USD"), ("NaN", "USD")]
)
def test_to_minor_units_refuses_what_would_lose_money(text, currency):
    with pytest.raises(CurrencyError):
        to_minor_units(text, currency)


def test_floats_are_refused():
    with pytest.raises(CurrencyError):
        to_minor_units(12.5, "USD")


def test_round_trip_and_format():
    assert from_minor_units(123450, "USD") == Decimal("1234.50")
    assert from_minor_units(1234, "KWD") == Decimal("1.234")
    assert format_money(123450, "USD") == "1,234.50 USD"
    assert format_money(-5000, "JPY") == "-5,000 JPY"
    assert format_money(1234, "KWD") == "1.234 KWD"


def test_unknown_currency_refused():
    with pytest.raises(CurrencyError):
        normalize_currency("XYZ")


def test_conversion_uses_the_stated_rate_with_bankers_rounding():
    assert convert_minor_units(10000, rate=Decimal("0.0067"), from_currency="JPY", to_currency="USD") == 6700
    assert convert_minor_units(1000, rate=Decimal("3.25"), from_currency="KWD", to_currency="USD") == 325
    assert convert_minor_units(1, rate=Decimal("0.5"), from_currency="USD", to_currency="USD") == 0

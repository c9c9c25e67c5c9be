"""Money in integer minor units of an ISO 4217 currency. No floats, ever.

Parsing and formatting happen only at the edges (forms, CSV, messages).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# ISO 4217 minor-unit exponents that differ from 2. Every other active code has 2.
_EXPONENT_EXCEPTIONS: dict[str, int] = {
    # no minor unit
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # three decimals
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    # four decimals
    "CLF": 4,
    "UYW": 4,
}

# Active ISO 4217 codes (2024 list). Unknown codes are refused rather than guessed.
ISO_4217_CODES: frozenset[str] = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BOV",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHE",
        "CHF",
        "CHW",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "COU",
        "CRC",
        "CUC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MXV",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SLL",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "USN",
        "UYI",
        "UYU",
        "UYW",
        "UZS",
        "VED",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XCG",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
        "ZWL",
    ]
)


class CurrencyError(ValueError):
    pass


def normalize_currency(code: str) -> str:
    """Upper-case ISO 4217 code, or CurrencyError."""
    normalized = (code or "").strip().upper()
    if normalized not in ISO_4217_CODES:
        raise CurrencyError(f"'{code}' is not an ISO 4217 currency code")
    return normalized


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point: USD 2, JPY 0, KWD 3."""
    return _EXPONENT_EXCEPTIONS.get(normalize_currency(currency), 2)


def to_minor_units(amount: str | Decimal | int, currency: str) -> int:
    """'1,234.50' USD -> 123450; '5000' JPY -> 5000; '1.234' KWD -> 1234.

    Refuses more precision than the currency has instead of rounding money away.
    """
    exponent = minor_unit_exponent(currency)
    if isinstance(amount, float):
        raise CurrencyError("amounts must not be floats")
    text = str(amount).strip().replace(",", "").replace(" ", "")
    if not text.isascii():  # Decimal() also reads other scripts' digits ('٣٠٠'): refuse, do not guess
        raise CurrencyError(f"'{amount}' is not a number written in ASCII digits (0-9)")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CurrencyError(f"'{amount}' is not a number") from None
    if not value.is_finite():
        raise CurrencyError(f"'{amount}' is not a finite number")
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise CurrencyError(
            f"{currency.upper()} has {exponent} decimal place{'s' if exponent != 1 else ''}; '{amount}' has more"
        )
    return int(scaled)


def from_minor_units(amount_minor: int, currency: str) -> Decimal:
    """123450 USD -> Decimal('1234.50')."""
    exponent = minor_unit_exponent(currency)
    return Decimal(amount_minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def format_amount(amount_minor: int, currency: str) -> str:
    """The number alone, where the currency is said once beside it: 123450 USD -> '1,234.50'."""
    exponent = minor_unit_exponent(currency)
    return f"{from_minor_units(amount_minor, currency):,.{exponent}f}"


def format_money(amount_minor: int, currency: str) -> str:
    """123450 USD -> '1,234.50 USD'; -5000 JPY -> '-5,000 JPY'."""
    return f"{format_amount(amount_minor, currency)} {currency.upper()}"


def convert_minor_units(amount_minor: int, *, rate: Decimal, from_currency: str, to_currency: str) -> int:
    """Convert with an explicit rate (units of `to` per unit of `from`), banker's rounding."""
    major = from_minor_units(amount_minor, from_currency) * rate
    exponent = minor_unit_exponent(to_currency)
    return int((major.scaleb(exponent)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))

"""Reading CSV files and their cells: text, flags, currencies, amounts, emails and dates.

Every bad cell raises `RowError` naming the column and saying what to fix; a file
without the chosen format's columns raises `FileFormatError`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from ..business_time import business_zone, time_window_problem
from ..entries import LedgerEntry
from ..models import RevenueEvent
from ..money import CurrencyError, minor_unit_exponent, normalize_currency, to_minor_units

FORMAT_GENERIC = "generic"
FORMAT_STRIPE = "stripe"
FORMAT_GUMROAD = "gumroad"
FORMAT_STRIPE_ITEMIZED = "stripe_itemized"
FORMATS = (FORMAT_GENERIC, FORMAT_STRIPE, FORMAT_GUMROAD, FORMAT_STRIPE_ITEMIZED)

# The generic ledger CSV, in order. Documented in docs/back-office.md.
GENERIC_COLUMNS = [
    "event_id",
    "provider",
    "kind",
    "amount",
    "currency",
    "occurred_at",
    "entity",
    "customer_email",
    "customer_id",
    "customer_name",
    "reference",
    "description",
    "parent_event_id",
]
GENERIC_REQUIRED = ["event_id", "amount", "currency", "occurred_at"]
PROVIDERS = tuple(RevenueEvent.Provider.values)
IMPORTABLE_KINDS = tuple(k for k in RevenueEvent.Kind.values if k != RevenueEvent.Kind.REVERSAL)
CREDIT_KINDS = {RevenueEvent.Kind.PAYMENT, RevenueEvent.Kind.DISPUTE_REVERSAL}
DEBIT_KINDS = {RevenueEvent.Kind.REFUND, RevenueEvent.Kind.DISPUTE, RevenueEvent.Kind.FEE}

# Stripe Dashboard > Payments > Export ("unified payments"). Older exports say "Created (UTC)".
STRIPE_CREATED_COLUMNS = ["Created date (UTC)", "Created (UTC)"]
STRIPE_REQUIRED = ["id", "Amount", "Currency"]
STRIPE_MONEY_STATUSES = {"paid", "succeeded", "refunded", "partially refunded", "disputed"}

# Stripe Reports > Balance > itemized balance change from activity (balance_change_from_activity.itemized).
STRIPE_ITEMIZED_REQUIRED = [
    "balance_transaction_id",
    "created_utc",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
]

# Gumroad > Sales > Export (Exports::PurchaseExportService). Prices are US dollars.
GUMROAD_REQUIRED = ["Purchase ID", "Purchase Date", "Sale Price ($)"]
GUMROAD_TOTALS_ROW = "Totals"

BATCH_SIZE = 5000

# One CSV row, by column name (csv.DictReader, or a tablib row in the admin).
Row = dict[str, Any]


class RowError(Exception):
    """One bad cell: the column it is in and what is wrong with it."""

    def __init__(self, column: str, message: str):
        super().__init__(f"{column}: {message}")
        self.column = column
        self.message = message


class FileFormatError(Exception):
    """The file as a whole cannot be read as the chosen format (e.g. missing columns)."""


@dataclass(frozen=True)
class MappedRow:
    entries: list[LedgerEntry] = field(default_factory=list)
    skip_reason: str = ""
    # Which column named the entity, so an unknown entity is reported against it.
    entity_column: str = "entity"
    # Which column dated the row, so a date in a locked period is reported against it.
    date_column: str = "occurred_at"


# --- small parsers -----------------------------------------------------------------


def cell(row: Row, column: str) -> str:
    value = row.get(column)
    text = "" if value is None else str(value).strip()
    if "\x00" in text:
        raise RowError(column, "contains a NUL character (the file may be binary or UTF-16); save it as CSV UTF-8")
    return text


def first_present(row: Row, columns: list[str]) -> tuple[str, str]:
    for column in columns:
        if column in row:
            return column, cell(row, column)
    return columns[0], ""


def flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "y", "t"}


def currency_cell(row: Row, column: str) -> str:
    value = cell(row, column)
    if not value:
        raise RowError(column, "is required (an ISO 4217 code such as USD)")
    try:
        return normalize_currency(value)
    except CurrencyError as exc:
        raise RowError(column, str(exc)) from None


def amount_cell(row: Row, column: str, currency: str) -> int:
    """A required amount in `currency`, as integer minor units."""
    value = optional_amount_cell(row, column, currency)
    if value is None:
        raise RowError(column, "is required")
    return value


def optional_amount_cell(row: Row, column: str, currency: str) -> int | None:
    """An amount in `currency` as integer minor units, or None when the cell is empty."""
    value = cell(row, column).replace("$", "")
    if not value:
        return None
    try:
        return to_minor_units(amount_text(value, column, currency), currency)
    except CurrencyError as exc:
        raise RowError(column, str(exc)) from None


_GROUPED_COMMAS = re.compile(r"-?[1-9]\d{0,2}(,\d{3})+")
_GROUPED_POINTS = re.compile(r"-?[1-9]\d{0,2}(\.\d{3})+")
_DECIMAL_COMMA = re.compile(r"-?\d+,\d{1,2}")


def amount_text(value: str, column: str, currency: str) -> str:
    """A spreadsheet's amount as plain '1234.50': US (1,234.50) and European (1.234,50) grouping are
    read where the text allows one reading only; an amount that allows two is refused, naming both."""
    text = value.replace(" ", "").replace("\u00a0", "")
    if "," in text and "." in text:
        whole, _, decimals = text.rpartition("," if text.rfind(",") > text.rfind(".") else ".")
        grouping = _GROUPED_POINTS if text.rfind(",") > text.rfind(".") else _GROUPED_COMMAS
        if not grouping.fullmatch(whole):
            raise RowError(column, f"'{value}' is not a number (mixed separators)")
        return f"{whole.replace('.', '').replace(',', '')}.{decimals}"
    exponent = minor_unit_exponent(currency)
    if "," in text:
        if _GROUPED_COMMAS.fullmatch(text) and exponent < 3:
            return text.replace(",", "")  # 1,234: thousands (a decimal comma would have at most 2 digits)
        if _DECIMAL_COMMA.fullmatch(text):
            return text.replace(",", ".")  # 12,50: a decimal comma
        raise RowError(column, f"'{value}' is ambiguous: write it without grouping, e.g. 1234.500")
    if _GROUPED_POINTS.fullmatch(text) and text.count(".") > 1:
        return text.replace(".", "")  # 1.234.567: European thousands
    if _GROUPED_POINTS.fullmatch(text) and exponent < 3:
        grouped = text.replace(".", "")
        raise RowError(
            column,
            f"'{value}' is ambiguous: {currency} has {exponent} decimal places, so it is either {grouped} written "
            f"with a point for thousands or has too many decimals; write {grouped} if that is meant",
        )
    return text


@lru_cache(maxsize=65536)
def _is_email(value: str) -> bool:
    """Customers repeat across a file: validate each address once."""
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def email_cell(row: Row, column: str) -> str | None:
    value = cell(row, column)
    if not value:
        return None
    if not _is_email(value):
        raise RowError(column, f"'{value}' is not an email address")
    return value.lower()


def parse_occurred_at(value: str, column: str, *, naive_zone: tzinfo | None = None) -> datetime:
    """ISO 8601 date or datetime. A bare date is local noon in the business zone;
    a datetime without offset is read in `naive_zone` (default: the business zone)."""
    text = value.strip()
    if not text:
        raise RowError(column, "is required (e.g. 2026-06-01 or 2026-06-01T15:00:00Z)")
    zone = naive_zone or business_zone()
    if text.upper().endswith(" UTC"):
        text, zone = text[:-4].strip(), UTC
    text = _iso_from_us_slashes(text, value, column)
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), time(12, 0), tzinfo=business_zone())
        else:
            parsed = datetime.fromisoformat(text)
    except ValueError:
        raise RowError(
            column, f"'{value}' is not a date; use ISO 8601, e.g. 2026-06-01 or 2026-06-01T15:00:00Z"
        ) from None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=zone)
    check_window(parsed, column, value)
    return parsed


_US_SLASHES = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _iso_from_us_slashes(text: str, value: str, column: str) -> str:
    """'12/20/2025 18:20' (a US spreadsheet's re-save: month/day/year) -> '2025-12-20T18:20:00'.
    A first part over 12 is a day (day/month order) and is refused, naming it."""
    match = _US_SLASHES.fullmatch(text)
    if match is None:
        return text
    month, day, year, hour, minute, second = match.groups()
    if int(month) > 12:
        raise RowError(
            column,
            f"'{value}' is day/month/year; slashed dates are read as month/day/year (US), so write it as "
            f"{year}-{int(day):02d}-{int(month):02d} (ISO 8601)",
        )
    if hour is None:
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return f"{year}-{int(month):02d}-{int(day):02d}T{int(hour):02d}:{minute}:{second or '00'}"


def check_window(moment: datetime, column: str, value: str) -> None:
    """Imported dates must fall in the ledger's window (LEDGER_EARLIEST_DATE .. now + 1 day)."""
    if not time_window_problem(moment):
        return
    earliest = settings.LEDGER_EARLIEST_DATE
    if moment.year < earliest.year or moment < timezone.now():
        raise RowError(
            column, f"'{value}' is before {earliest.isoformat()}, the earliest date accepted; check the date"
        )
    raise RowError(column, f"'{value}' is in the future (latest accepted: tomorrow); check the date")


# What a person calls each file (the admin's choices and the messages that name a format).
FORMAT_TITLES = {
    FORMAT_GENERIC: "Generic ledger CSV",
    FORMAT_STRIPE: "Stripe Dashboard payments export (unified payments)",
    FORMAT_GUMROAD: "Gumroad sales export",
    FORMAT_STRIPE_ITEMIZED: "Stripe itemized balance change report (balance_change_from_activity.itemized)",
}


def _missing_columns(present: set[str], fmt: str) -> list[str]:
    if fmt == FORMAT_GENERIC:
        return [c for c in GENERIC_REQUIRED if c not in present]
    if fmt == FORMAT_STRIPE:
        missing = [c for c in STRIPE_REQUIRED if c not in present]
        return missing if any(c in present for c in STRIPE_CREATED_COLUMNS) else [*missing, STRIPE_CREATED_COLUMNS[0]]
    if fmt == FORMAT_GUMROAD:
        return [c for c in GUMROAD_REQUIRED if c not in present]
    if fmt == FORMAT_STRIPE_ITEMIZED:
        return [c for c in STRIPE_ITEMIZED_REQUIRED if c not in present]
    raise FileFormatError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")


def recognise_format(headers: Iterable[str]) -> str | None:
    """The import format whose required columns the header row has (the most specific first), or None."""
    present = {h.strip() for h in headers if h}
    for fmt in (FORMAT_STRIPE_ITEMIZED, FORMAT_STRIPE, FORMAT_GUMROAD, FORMAT_GENERIC):
        if not _missing_columns(present, fmt):
            return fmt
    return None


def names_entity(headers: Iterable[str], fmt: str) -> bool:
    """Whether the file can say which entity a row belongs to: a generic `entity` column, Stripe's
    `entity (metadata)` / `payment_metadata[entity]`. A Gumroad export never does."""
    return fmt != FORMAT_GUMROAD and any("entity" in (h or "").casefold() for h in headers)


def check_columns(headers: Iterable[str], fmt: str) -> None:
    """Refuse a file that lacks the format's required columns: name the format it is, if it is another,
    else the missing columns."""
    headers = list(headers)
    present = {h.strip() for h in headers if h}
    missing = _missing_columns(present, fmt)
    if not missing:
        return
    columns = f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
    other = recognise_format(headers)
    if other is not None:
        raise FileFormatError(
            f"This looks like a {FORMAT_TITLES[other]}, not a {FORMAT_TITLES[fmt]} ({columns}): "
            f"import it as {FORMAT_TITLES[other]}"
        )
    raise FileFormatError(f"This is not a {fmt} file: {columns}")


# --- reading files ---------------------------------------------------------------------


def iter_csv_rows(path: Path) -> Iterator[tuple[int, Row]]:
    """(row number, row) for each data row; row 1 is the first line after the header."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        yield from enumerate(csv.DictReader(handle), 1)


def csv_headers(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


def count_csv_rows(path: Path) -> int:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)

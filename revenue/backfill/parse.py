"""Reading CSV files and their cells: text, flags, currencies, amounts, emails and dates.

Every bad cell raises `RowError` naming the column and saying what to fix; a file
without the chosen format's columns raises `FileFormatError`.
"""

from __future__ import annotations

import csv
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
from ..money import CurrencyError, normalize_currency, to_minor_units

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
        return to_minor_units(value, currency)
    except CurrencyError as exc:
        raise RowError(column, str(exc)) from None


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


def check_columns(headers: Iterable[str], fmt: str) -> None:
    """Refuse a file that lacks the format's required columns, naming them."""
    present = {h.strip() for h in headers if h}
    if fmt == FORMAT_GENERIC:
        missing = [c for c in GENERIC_REQUIRED if c not in present]
    elif fmt == FORMAT_STRIPE:
        missing = [c for c in STRIPE_REQUIRED if c not in present]
        if not any(c in present for c in STRIPE_CREATED_COLUMNS):
            missing.append(STRIPE_CREATED_COLUMNS[0])
    elif fmt == FORMAT_GUMROAD:
        missing = [c for c in GUMROAD_REQUIRED if c not in present]
    elif fmt == FORMAT_STRIPE_ITEMIZED:
        missing = [c for c in STRIPE_ITEMIZED_REQUIRED if c not in present]
    else:
        raise FileFormatError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")
    if missing:
        raise FileFormatError(
            f"This is not a {fmt} file: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        )


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

"""CSV backfill: provider exports and the generic ledger CSV mapped into ledger entries.

Three layers:

* pure mapping functions, one per format, over a row dict -> `MappedRow`
  (zero or more `LedgerEntry`, or a reason to skip); bad input raises `RowError`
  naming the column;
* `RowPreparer`: entity resolution and reporting-currency conversion, cached
  per file so 100k rows do not cost 100k lookups;
* `revenue_events_bulk_insert`: `INSERT ... ON CONFLICT (event_id) DO NOTHING
  RETURNING`, so a re-import adds nothing, plus outbox rows for exactly the
  rows inserted (delivered by the outbox sweeper, not one task per row).

Possible duplicates (same customer, amount, currency and business day from a
different source) are found in SQL and handed to the registered reporters;
branchberg wires the alerts app in as one (the inner app cannot import it).
"""

from __future__ import annotations

import csv
import json
import logging
import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from .business_time import business_date_of, business_zone, day_bounds, time_window_problem
from .entries import LedgerEntry
from .models import Entity, ExchangeRate, OutboxMessage, RevenueEvent
from .money import CurrencyError, convert_minor_units, from_minor_units, normalize_currency, to_minor_units
from .services import TOPIC_EVENT_RECORDED, EntityResolution, entity_resolve, revenue_event_record

logger = logging.getLogger(__name__)

FORMAT_GENERIC = "generic"
FORMAT_STRIPE = "stripe"
FORMAT_GUMROAD = "gumroad"
FORMATS = (FORMAT_GENERIC, FORMAT_STRIPE, FORMAT_GUMROAD)

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

# Gumroad > Sales > Export (Exports::PurchaseExportService). Prices are US dollars.
GUMROAD_REQUIRED = ["Purchase ID", "Purchase Date", "Sale Price ($)"]
GUMROAD_TOTALS_ROW = "Totals"

BATCH_SIZE = 5000


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


@dataclass(frozen=True)
class PreparedRow:
    entry: LedgerEntry
    entity: Entity
    entity_source: str
    amount_usd_cents: int | None
    fx_rate: Decimal | None
    fx_source: str


@dataclass(frozen=True)
class PossibleDuplicate:
    """A new row that looks like a row already in the ledger from another source."""

    event_id: str
    other_event_id: str
    customer_email: str
    amount_cents: int
    currency: str
    business_day: date
    entity_id: int
    sources: tuple[str, str]

    @property
    def fingerprint(self) -> str:
        first, second = sorted([self.event_id, self.other_event_id])
        return f"duplicate:{first}|{second}"


# --- small parsers -----------------------------------------------------------------


def _cell(row: dict, column: str) -> str:
    value = row.get(column)
    text = "" if value is None else str(value).strip()
    if "\x00" in text:
        raise RowError(column, "contains a NUL character (the file may be binary or UTF-16); save it as CSV UTF-8")
    return text


def _first_present(row: dict, columns: list[str]) -> tuple[str, str]:
    for column in columns:
        if column in row:
            return column, _cell(row, column)
    return columns[0], ""


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "y", "t"}


def _currency(row: dict, column: str) -> str:
    value = _cell(row, column)
    if not value:
        raise RowError(column, "is required (an ISO 4217 code such as USD)")
    try:
        return normalize_currency(value)
    except CurrencyError as exc:
        raise RowError(column, str(exc)) from None


def _amount(row: dict, column: str, currency: str, *, required: bool = True) -> int | None:
    value = _cell(row, column).replace("$", "")
    if not value:
        if required:
            raise RowError(column, "is required")
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


def _email(row: dict, column: str) -> str | None:
    value = _cell(row, column)
    if not value:
        return None
    if not _is_email(value):
        raise RowError(column, f"'{value}' is not an email address")
    return value.lower()


def parse_occurred_at(value: str, column: str, *, naive_zone=None) -> datetime:
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
    _check_window(parsed, column, value)
    return parsed


def _check_window(moment: datetime, column: str, value: str) -> None:
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
    else:
        raise FileFormatError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")
    if missing:
        raise FileFormatError(
            f"This is not a {fmt} file: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        )


# --- pure mapping functions ---------------------------------------------------------


def map_generic_row(row: dict, *, file_name: str = "") -> MappedRow:
    """One row of the generic ledger CSV -> one ledger entry."""
    provider = (_cell(row, "provider") or RevenueEvent.Provider.MANUAL).lower()
    if provider not in PROVIDERS:
        raise RowError("provider", f"'{provider}' is not one of {', '.join(PROVIDERS)}")
    kind = (_cell(row, "kind") or RevenueEvent.Kind.PAYMENT).lower()
    if kind == RevenueEvent.Kind.REVERSAL:
        raise RowError("kind", "reversals are made by reversing the entry in the ledger admin, not imported")
    if kind not in IMPORTABLE_KINDS:
        raise RowError("kind", f"'{kind}' is not one of {', '.join(IMPORTABLE_KINDS)}")
    raw_id = _cell(row, "event_id")
    if not raw_id:
        raise RowError("event_id", "is required: the id of this money movement in its source system")
    event_id = raw_id if raw_id.startswith(f"{provider}:") else f"{provider}:{raw_id}"
    if len(event_id) > 255:
        raise RowError("event_id", "is longer than 255 characters")
    currency = _currency(row, "currency")
    amount = _amount(row, "amount", currency)
    if amount == 0:
        raise RowError("amount", "is zero: nothing to book")
    if kind in CREDIT_KINDS and amount < 0:
        raise RowError("amount", f"a {kind} is a positive amount; refunds and disputes have their own kinds")
    if kind in DEBIT_KINDS and amount > 0:
        raise RowError("amount", f"a {kind} is a negative amount, e.g. -12.50")
    occurred_at = parse_occurred_at(_cell(row, "occurred_at"), "occurred_at")
    reference = _cell(row, "reference")
    if len(reference) > 120:
        raise RowError("reference", "is longer than 120 characters")
    metadata = {"source": f"csv:{FORMAT_GENERIC}"}
    if file_name:
        metadata["import_file"] = file_name
    if _cell(row, "customer_name"):
        metadata["customer_name"] = _cell(row, "customer_name")
    entry = LedgerEntry(
        event_id=event_id,
        provider=provider,
        event_type=f"csv.{kind}",
        kind=kind,
        amount_cents=amount,
        currency=currency,
        occurred_at=occurred_at,
        customer_email=_email(row, "customer_email"),
        customer_id=_cell(row, "customer_id") or None,
        metadata=metadata,
        source_id=raw_id,
        parent_event_id=_cell(row, "parent_event_id"),
        reference=reference,
        description=_cell(row, "description"),
        entity_hint=_cell(row, "entity"),
    )
    return MappedRow([entry], entity_column="entity")


def _metadata_column(row: dict, name: str) -> tuple[str, str]:
    """Stripe exports metadata keys as '<key> (metadata)' columns."""
    wanted = f"{name} (metadata)".casefold()
    for column in row:
        if column and column.strip().casefold() == wanted:
            return column, _cell(row, column)
    return f"{name} (metadata)", ""


def map_stripe_row(row: dict, *, file_name: str = "") -> MappedRow:
    """One row of the Stripe Dashboard payments export -> the payment, and its refund / dispute.

    Keyed like the webhooks (`stripe:pi_…`, charge id where there is no PaymentIntent)
    so rows already booked from webhooks are skipped. The export only carries the
    cumulative refunded amount, so refunds from it are one row per payment.
    """
    status = _cell(row, "Status").lower()
    if status and status not in STRIPE_MONEY_STATUSES:
        return MappedRow(skip_reason=f"status '{_cell(row, 'Status')}': no money moved")
    if "Captured" in row and _cell(row, "Captured") and not _flag(_cell(row, "Captured")):
        return MappedRow(skip_reason="not captured (an authorisation is not revenue)")
    charge_id = _cell(row, "id")
    if not charge_id:
        raise RowError("id", "is required")
    payment_intent = _cell(row, "PaymentIntent ID")
    key = payment_intent or charge_id
    event_id = f"stripe:{key}"
    currency = _currency(row, "Currency")
    amount = _amount(row, "Amount", currency)
    if amount <= 0:
        raise RowError("Amount", "a payment is a positive amount")
    created_column, created = _first_present(row, STRIPE_CREATED_COLUMNS)
    occurred_at = parse_occurred_at(created, created_column, naive_zone=UTC)
    entity_column, entity_hint = _metadata_column(row, "entity")
    email = _email(row, "Customer Email")
    metadata = {"source": f"csv:{FORMAT_STRIPE}", "charge_id": charge_id}
    if payment_intent:
        metadata["payment_intent"] = payment_intent
    if _cell(row, "Invoice ID"):
        metadata["invoice"] = _cell(row, "Invoice ID")
    if file_name:
        metadata["import_file"] = file_name
    common = {
        "provider": RevenueEvent.Provider.STRIPE,
        "currency": currency,
        "customer_email": email,
        "customer_id": _cell(row, "Customer ID") or None,
        "source_id": key,
        "entity_hint": entity_hint,
    }
    usd_cents, fx_rate = _stripe_conversion(row, amount, currency, "Converted Amount")
    entries = [
        LedgerEntry(
            event_id=event_id,
            event_type="csv.charge",
            kind=RevenueEvent.Kind.PAYMENT,
            amount_cents=amount,
            occurred_at=occurred_at,
            metadata=metadata,
            description=_cell(row, "Description"),
            amount_usd_cents=usd_cents,
            fx_rate=fx_rate,
            fx_source=RevenueEvent.FxSource.STRIPE if usd_cents is not None else "",
            **common,
        )
    ]
    refunded = _amount(row, "Amount Refunded", currency, required=False) or 0
    if refunded:
        if refunded < 0 or refunded > amount:
            raise RowError("Amount Refunded", "must be between 0 and the amount")
        refunded_on = _cell(row, "Refunded date (UTC)")
        refund_usd, refund_rate = _stripe_conversion(row, refunded, currency, "Converted Amount Refunded")
        # Keyed and tagged exactly like the webhook's charge.refunded without a refund list, so
        # the two paths share one rule: book only what no refund row explains yet (see
        # RowPreparer.prepare), and a later refund.* delivery settles it instead of adding to it.
        entries.append(
            LedgerEntry(
                event_id=f"stripe:refund-unattributed:{charge_id}:{refunded}",
                event_type="csv.refund",
                kind=RevenueEvent.Kind.REFUND,
                amount_cents=-refunded,
                occurred_at=parse_occurred_at(refunded_on, "Refunded date (UTC)", naive_zone=UTC)
                if refunded_on
                else occurred_at,
                metadata={
                    **metadata,
                    "cumulative_refund": True,
                    "refund_charge": charge_id,
                    "refund_role": "unattributed",
                    "amount_refunded": refunded,
                },
                parent_event_id=event_id,
                description=f"Refunded (from export) {_cell(row, 'Description')}".strip(),
                amount_usd_cents=-refund_usd if refund_usd is not None else None,
                fx_rate=refund_rate,
                fx_source=RevenueEvent.FxSource.STRIPE if refund_usd is not None else "",
                **common,
            )
        )
    disputed = _amount(row, "Disputed Amount", currency, required=False) or 0
    if disputed > 0:
        dispute_date = _cell(row, "Dispute Date (UTC)")
        disputed_at = (
            parse_occurred_at(dispute_date, "Dispute Date (UTC)", naive_zone=UTC) if dispute_date else occurred_at
        )
        entries.append(
            LedgerEntry(
                event_id=f"{event_id}:dispute",
                event_type="csv.dispute",
                kind=RevenueEvent.Kind.DISPUTE,
                amount_cents=-disputed,
                occurred_at=disputed_at,
                metadata=metadata,
                parent_event_id=event_id,
                description="Disputed (from export)",
                **common,
            )
        )
        if _cell(row, "Dispute Status").lower() == "won":
            entries.append(
                LedgerEntry(
                    event_id=f"{event_id}:dispute_won",
                    event_type="csv.dispute_won",
                    kind=RevenueEvent.Kind.DISPUTE_REVERSAL,
                    amount_cents=disputed,
                    occurred_at=disputed_at,
                    metadata=metadata,
                    parent_event_id=event_id,
                    description="Dispute won (from export)",
                    **common,
                )
            )
    return MappedRow(entries, entity_column=entity_column)


def _stripe_conversion(row: dict, amount: int, currency: str, column: str) -> tuple[int | None, Decimal | None]:
    """Stripe's own conversion to USD, when the export carries one."""
    converted_currency = _cell(row, "Converted Currency").upper()
    if currency == "USD" or converted_currency != "USD" or not _cell(row, column):
        return None, None
    usd = _amount(row, column, "USD")
    rate = (from_minor_units(usd, "USD") / from_minor_units(amount, currency)).quantize(Decimal("0.0000000001"))
    return usd, rate


def map_gumroad_row(row: dict, *, file_name: str = "") -> MappedRow:
    """One row of the Gumroad sales export -> the sale, and its refund / dispute.

    Gumroad prices are US dollars. The export has no refund date, so a refund is
    booked at the sale's time (flagged `refund_date_unknown` in metadata).
    """
    purchase_id = _cell(row, "Purchase ID")
    if purchase_id == GUMROAD_TOTALS_ROW:
        return MappedRow(skip_reason="the export's totals row")
    if not purchase_id:
        raise RowError("Purchase ID", "is required")
    if _flag(_cell(row, "Pre-order authorization?")):
        return MappedRow(skip_reason="pre-order authorisation: not charged yet")
    amount = _amount(row, "Sale Price ($)", "USD")
    if amount == 0:
        return MappedRow(skip_reason="free (no money moved)")
    if amount < 0:
        raise RowError("Sale Price ($)", "must not be negative")
    when = _cell(row, "Purchase Time (UTC timezone)")
    if when and len(when) > 10 and when[4] == "-":
        occurred_at = parse_occurred_at(_ruby_time(when), "Purchase Time (UTC timezone)", naive_zone=UTC)
    else:
        day = _cell(row, "Purchase Date")
        try:
            parsed_day = date.fromisoformat(day)
        except ValueError:
            raise RowError("Purchase Date", f"'{day}' is not a date (YYYY-MM-DD)") from None
        try:
            clock = time.fromisoformat(when) if when and ":" in when else time(12, 0)
        except ValueError:
            raise RowError("Purchase Time (UTC timezone)", f"'{when}' is not a time (HH:MM:SS)") from None
        occurred_at = datetime.combine(parsed_day, clock, tzinfo=UTC)
        _check_window(occurred_at, "Purchase Date", day)
    event_id = f"gumroad:sale:{purchase_id}"  # Gumroad's purchase id is the ping's sale_id
    email = _email(row, "Purchase Email") or _email(row, "Buyer Email")
    metadata = {"source": f"csv:{FORMAT_GUMROAD}", "sale_id": purchase_id}
    for column, key in (
        ("Item Name", "product_name"),
        ("Buyer Name", "customer_name"),
        ("Order Number", "order_number"),
    ):
        if _cell(row, column):
            metadata[key] = _cell(row, column)
    if file_name:
        metadata["import_file"] = file_name
    common = {
        "provider": RevenueEvent.Provider.GUMROAD,
        "currency": "USD",
        "customer_email": email,
        "source_id": purchase_id,
        "product_id": _cell(row, "Product ID"),
        "occurred_at": occurred_at,
    }
    entries = [
        LedgerEntry(
            event_id=event_id,
            event_type="csv.sale",
            kind=RevenueEvent.Kind.PAYMENT,
            amount_cents=amount,
            metadata=metadata,
            description=_cell(row, "Item Name"),
            **common,
        )
    ]
    refund = 0
    if _flag(_cell(row, "Fully Refunded?")):
        refund = amount
    elif _flag(_cell(row, "Refunded?")) or _cell(row, "Partial Refund ($)"):
        refund = _amount(row, "Partial Refund ($)", "USD", required=False) or 0
    if refund:
        if refund < 0 or refund > amount:
            raise RowError("Partial Refund ($)", "must be between 0 and the sale price")
        entries.append(
            LedgerEntry(
                event_id=f"gumroad:refund:{purchase_id}",
                event_type="csv.refund",
                kind=RevenueEvent.Kind.REFUND,
                amount_cents=-refund,
                metadata={**metadata, "refund_date_unknown": True},
                parent_event_id=event_id,
                description=f"Refund of {_cell(row, 'Item Name')}".strip(),
                **common,
            )
        )
    if _flag(_cell(row, "Disputed?")):
        entries.append(
            LedgerEntry(
                event_id=f"gumroad:dispute:{purchase_id}",
                event_type="csv.dispute",
                kind=RevenueEvent.Kind.DISPUTE,
                amount_cents=-amount,
                metadata=metadata,
                parent_event_id=event_id,
                description="Disputed (from export)",
                **common,
            )
        )
        if _flag(_cell(row, "Dispute Won?")):
            entries.append(
                LedgerEntry(
                    event_id=f"gumroad:dispute_won:{purchase_id}",
                    event_type="csv.dispute_won",
                    kind=RevenueEvent.Kind.DISPUTE_REVERSAL,
                    amount_cents=amount,
                    metadata=metadata,
                    parent_event_id=event_id,
                    description="Dispute won (from export)",
                    **common,
                )
            )
    return MappedRow(entries, entity_column="Product ID")


def _ruby_time(text: str) -> str:
    """Ruby Time#to_s ('2026-09-02 10:00:00 UTC' / '... +0000') -> ISO 8601."""
    parts = text.split()
    if len(parts) == 3 and parts[2][:1] in "+-" and len(parts[2]) == 5:
        return f"{parts[0]}T{parts[1]}{parts[2][:3]}:{parts[2][3:]}"
    return text


MAPPERS: dict[str, Callable[..., MappedRow]] = {
    FORMAT_GENERIC: map_generic_row,
    FORMAT_STRIPE: map_stripe_row,
    FORMAT_GUMROAD: map_gumroad_row,
}


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
            entry = _unexplained_refund(entry)
            if entry is None:
                return None
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


# --- bulk insert -----------------------------------------------------------------------

_COLUMNS = [
    "id",
    "event_id",
    "provider",
    "event_type",
    "kind",
    "amount_cents",
    "currency",
    "amount_usd_cents",
    "fx_rate",
    "fx_source",
    "customer_email",
    "customer_id",
    "metadata",
    "entity_id",
    "entity_source",
    "occurred_at",
    "created_at",
    "processed_at",
    "source_id",
    "parent_event_id",
    "reference",
    "description",
]
_STAGE_TABLE = "revenue_events_import_stage"


def event_payload(prepared: PreparedRow, event_pk: uuid.UUID) -> dict:
    """Same shape as revenue.services announces for a recorded event."""
    entry = prepared.entry
    return {
        "id": str(event_pk),
        "event_id": entry.event_id,
        "provider": entry.provider,
        "event_type": entry.event_type,
        "kind": entry.kind,
        "amount_cents": entry.amount_cents,
        "currency": entry.currency,
        "amount_usd_cents": prepared.amount_usd_cents,
        "entity": prepared.entity.slug,
        "occurred_at": entry.occurred_at.isoformat(),
        "customer_email": entry.customer_email,
        "parent_event_id": entry.parent_event_id,
    }


def revenue_events_existing(*, event_ids: list[str]) -> set[str]:
    """Which of these event ids are already in the ledger (one indexed query)."""
    if not event_ids:
        return set()
    if connection.vendor != "postgresql":
        return set(RevenueEvent.objects.filter(event_id__in=event_ids).values_list("event_id", flat=True))
    with connection.cursor() as cursor:  # one array parameter instead of thousands of IN parameters
        cursor.execute("SELECT event_id FROM revenue_events WHERE event_id = ANY(%s)", [list(event_ids)])
        return {row[0] for row in cursor.fetchall()}


def _row_values(prepared: PreparedRow, pk: uuid.UUID, now: datetime) -> tuple:
    entry = prepared.entry
    return (
        pk,
        entry.event_id,
        entry.provider,
        entry.event_type,
        entry.kind,
        entry.amount_cents,
        entry.currency,
        prepared.amount_usd_cents,
        prepared.fx_rate,
        prepared.fx_source,
        entry.customer_email or None,
        entry.customer_id or None,
        json.dumps(entry.metadata),
        prepared.entity.pk,
        prepared.entity_source,
        entry.occurred_at,
        now,
        now,
        entry.source_id,
        entry.parent_event_id,
        entry.reference,
        entry.description,
    )


@transaction.atomic
def revenue_events_bulk_insert(*, rows: list[PreparedRow]) -> list[tuple[PreparedRow, uuid.UUID]]:
    """Insert many ledger rows at once; rows whose event_id exists are left alone.

    PostgreSQL: COPY into a session temp table, then one
    `INSERT ... SELECT ... ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
    so a concurrent writer of the same event_id can never cause a duplicate or an
    error. Returns the rows actually inserted with their primary keys, and writes
    one outbox row (`revenue.event.recorded`) for each of them in the same
    transaction; those are delivered by the outbox sweeper rather than one task
    per row. Rows must already be validated (see the mapping functions).
    Other databases (the zero-setup SQLite run) go row by row through
    `revenue_event_record`.
    """
    if not rows:
        return []
    by_event_id: dict[str, tuple[PreparedRow, uuid.UUID]] = {}
    for prepared in rows:  # the same movement twice in one batch: keep the first
        by_event_id.setdefault(prepared.entry.event_id, (prepared, uuid.uuid4()))
    if connection.vendor != "postgresql":
        return _insert_one_by_one(list(by_event_id.values()))
    now = timezone.now()
    columns = ", ".join(_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE_TABLE} (LIKE revenue_events INCLUDING DEFAULTS)")
        cursor.execute(f"TRUNCATE {_STAGE_TABLE}")
        with cursor.cursor.copy(f"COPY {_STAGE_TABLE} ({columns}) FROM STDIN") as copy:
            for prepared, pk in by_event_id.values():
                copy.write_row(_row_values(prepared, pk, now))
        # Only constant identifiers are formatted in.
        cursor.execute(
            f"INSERT INTO revenue_events ({columns}) SELECT {columns} FROM {_STAGE_TABLE} "  # noqa: S608
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        )
        inserted = [by_event_id[row[0]] for row in cursor.fetchall()]
        outbox_columns = "topic, payload, created_at, attempts, last_error"
        with cursor.cursor.copy(f"COPY {OutboxMessage._meta.db_table} ({outbox_columns}) FROM STDIN") as copy:
            for prepared, pk in inserted:
                copy.write_row((TOPIC_EVENT_RECORDED, json.dumps(event_payload(prepared, pk)), now, 0, ""))
    return inserted


def _insert_one_by_one(rows: list[tuple[PreparedRow, uuid.UUID]]) -> list[tuple[PreparedRow, uuid.UUID]]:
    inserted = []
    for prepared, _ in rows:
        entry = replace(
            prepared.entry,
            amount_usd_cents=prepared.amount_usd_cents,
            fx_rate=prepared.fx_rate,
            fx_source=prepared.fx_source,
        )
        result = revenue_event_record(entry=entry, entity=prepared.entity)
        if result.created:
            inserted.append((prepared, result.event.pk))
    return inserted


# --- possible duplicates -----------------------------------------------------------------

_DUPLICATES_SQL = """
SELECT n.event_id, o.event_id, n.customer_email, n.amount_cents, n.currency,
       (n.occurred_at AT TIME ZONE %(tz)s)::date, n.entity_id,
       coalesce(n.metadata->>'source', n.provider), coalesce(o.metadata->>'source', o.provider)
FROM revenue_events n
JOIN revenue_events o
  ON o.customer_email = n.customer_email
 AND o.occurred_at >= (date_trunc('day', n.occurred_at AT TIME ZONE %(tz)s) AT TIME ZONE %(tz)s)
 AND o.occurred_at < ((date_trunc('day', n.occurred_at AT TIME ZONE %(tz)s) + interval '1 day') AT TIME ZONE %(tz)s)
 AND o.amount_cents = n.amount_cents
 AND o.currency = n.currency
 AND o.id <> n.id
 AND o.kind <> 'reversal'
 AND coalesce(o.metadata->>'source', o.provider) <> coalesce(n.metadata->>'source', n.provider)
WHERE n.event_id = ANY(%(ids)s) AND n.customer_email IS NOT NULL AND n.kind <> 'reversal'
"""


def possible_duplicates_find(*, event_ids: list[str]) -> list[PossibleDuplicate]:
    """Rows among `event_ids` with a twin from another source: same customer email,
    amount, currency and business day. One entry per pair."""
    if not event_ids:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_DUPLICATES_SQL, {"tz": settings.REVENUE_TIME_ZONE, "ids": list(event_ids)})
            rows = cursor.fetchall()
    else:
        rows = _possible_duplicate_rows_portable(event_ids)
    found: dict[str, PossibleDuplicate] = {}
    for new_id, other_id, email, amount, currency, day, entity_id, source, other_source in rows:
        duplicate = PossibleDuplicate(new_id, other_id, email, amount, currency, day, entity_id, (source, other_source))
        found.setdefault(duplicate.fingerprint, duplicate)
    return list(found.values())


def _source(event: RevenueEvent) -> str:
    source = (event.metadata or {}).get("source")
    return event.provider if source is None else source


def _possible_duplicate_rows_portable(event_ids: list[str]) -> list[tuple]:
    """`_DUPLICATES_SQL` with the ORM, a query per new row: for SQLite (the zero-setup run)."""
    rows = []
    new_rows = RevenueEvent.objects.filter(event_id__in=event_ids, customer_email__isnull=False).exclude(
        kind=RevenueEvent.Kind.REVERSAL
    )
    for new in new_rows:
        day = business_date_of(new.occurred_at)
        start, end = day_bounds(day)
        twins = (
            RevenueEvent.objects.filter(
                customer_email=new.customer_email,
                amount_cents=new.amount_cents,
                currency=new.currency,
                occurred_at__gte=start,
                occurred_at__lt=end,
            )
            .exclude(pk=new.pk)
            .exclude(kind=RevenueEvent.Kind.REVERSAL)
        )
        for other in twins:
            if _source(other) != _source(new):
                rows.append(
                    (
                        new.event_id,
                        other.event_id,
                        new.customer_email,
                        new.amount_cents,
                        new.currency,
                        day,
                        new.entity_id,
                        _source(new),
                        _source(other),
                    )
                )
    return rows


_duplicate_reporters: list[Callable[[PossibleDuplicate], None]] = []


def duplicate_reporter_register(reporter: Callable[[PossibleDuplicate], None]) -> None:
    """An outer app (alerts, wired by branchberg) asks to hear about possible duplicates."""
    if reporter not in _duplicate_reporters:
        _duplicate_reporters.append(reporter)


def possible_duplicates_report(duplicates: list[PossibleDuplicate]) -> None:
    """Hand each possible duplicate to the reporters, in the caller's transaction."""
    if duplicates and not _duplicate_reporters:
        logger.warning("%d possible duplicate(s) found but no reporter is registered", len(duplicates))
    for duplicate in duplicates:
        for reporter in _duplicate_reporters:
            reporter(duplicate)


# --- reading files ---------------------------------------------------------------------


def iter_csv_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(row number, row) for each data row; row 1 is the first line after the header."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        yield from enumerate(csv.DictReader(handle), 1)


def csv_headers(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


def count_csv_rows(path: Path) -> int:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


@dataclass
class ImportReport:
    rows: int = 0
    inserted: int = 0
    skipped_existing: int = 0
    skipped_other: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    duplicates: list[PossibleDuplicate] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "inserted": self.inserted,
            "skipped_existing": self.skipped_existing,
            "skipped_other": self.skipped_other,
            "errors": len(self.errors),
            "possible_duplicates": len(self.duplicates),
        }


def import_batch(*, batch: list[tuple[int, MappedRow]], preparer: RowPreparer, report: ImportReport) -> None:
    """Prepare, insert and check one batch of mapped rows, in one transaction."""
    prepared: list[PreparedRow] = []
    for number, mapped in batch:
        try:
            prepared.extend(
                row
                for row in (preparer.prepare(entry, entity_column=mapped.entity_column) for entry in mapped.entries)
                if row is not None
            )
        except RowError as exc:
            report.errors.append((number, exc.column, exc.message))
    with transaction.atomic():
        existing = revenue_events_existing(event_ids=[p.entry.event_id for p in prepared])
        inserted = revenue_events_bulk_insert(rows=[p for p in prepared if p.entry.event_id not in existing])
        report.inserted += len(inserted)
        report.skipped_existing += len(prepared) - len(inserted)
        duplicates = possible_duplicates_find(event_ids=[p.entry.event_id for p, _ in inserted])
        possible_duplicates_report(duplicates)
        report.duplicates.extend(duplicates)

"""The accountant files: ledger detail and monthly summary (CSV and XLSX), and the QuickBooks Online
journal-entry and Xero manual-journal import files. See docs/back-office.md, "Accountant files".

Amounts come from integer minor units through `revenue.money.from_minor_units` (JPY 0 decimals,
KWD 3), never floats. Fees are their own ledger rows, so every file ties to the money buckets of
`revenue.selectors.money_buckets` for the same entity and period:

- ledger detail: one line per ledger row. "Gross" holds every row except fees, "Fee" the fee rows,
  "Net" every row; so per currency the Gross column sums to net-before-fees, Fee to the fees bucket
  and Net to the net bucket. A payment also shows "Fees on this sale" (its fee rows in its currency,
  whatever their date; empty while none is known) and "Sale net of fees", for reading only: those fee
  rows are counted on their own lines.
- summary: per business month x entity x currency, one line per kind, one per bucket and the net.
- journals: one per effective business date x entity x currency (see `journals_build`).

A journal file is all or nothing: a role no AccountMapping maps, or (Xero) a row with no USD rate,
refuses the whole file with the list of what to fix.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from revenue.business_time import business_local, business_zone
from revenue.errors import ApplicationError
from revenue.models import Entity, RevenueEvent
from revenue.money import from_minor_units
from revenue.resources import escape_formula
from revenue.selectors import BUCKET_LABELS, BUCKETS, MoneyBuckets, bucket_of, effective_date, happened_on
from revenue.selectors.buckets import Bucket

from .models import AccountMapping
from .selectors import (
    ExportScope,
    KindTotal,
    account_mappings_for,
    daily_provider_kind_totals,
    ledger_detail_rows,
    monthly_kind_totals,
)
from .xlsx import Cell, Sheet, workbook_bytes

REPORTING_CURRENCY = "USD"
XERO_MAX_LINES = 300  # Xero imports at most 300 lines from one manual-journal file
CHUNK_ROWS = 2000

Role = AccountMapping.Role
CLEARING_ROLE: dict[str, str] = {
    RevenueEvent.Provider.STRIPE: Role.CLEARING_STRIPE,
    RevenueEvent.Provider.GUMROAD: Role.CLEARING_GUMROAD,
    RevenueEvent.Provider.MANUAL: Role.CLEARING_MANUAL,
}


class FileKind(StrEnum):
    """The files an accountant can download."""

    LEDGER_CSV = "ledger_csv"
    LEDGER_XLSX = "ledger_xlsx"
    SUMMARY_CSV = "summary_csv"
    SUMMARY_XLSX = "summary_xlsx"
    QBO_CSV = "qbo_csv"
    XERO_CSV = "xero_csv"


FILE_LABELS: dict[FileKind, str] = {
    FileKind.LEDGER_CSV: "Ledger detail (CSV)",
    FileKind.LEDGER_XLSX: "Ledger detail (Excel)",
    FileKind.SUMMARY_CSV: "Monthly summary by entity, kind and currency (CSV)",
    FileKind.SUMMARY_XLSX: "Monthly summary by entity, kind and currency (Excel)",
    FileKind.QBO_CSV: "QuickBooks Online journal entries (CSV import)",
    FileKind.XERO_CSV: "Xero manual journals (CSV import)",
}

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class AccountantFile:
    """A file ready to send: its name, media type and content (bytes, or chunks streamed from the ledger)."""

    filename: str
    content_type: str
    content: bytes | Iterator[bytes]


def _fx_source_label(event: RevenueEvent) -> str:
    if event.amount_usd_cents is None:
        return "no rate"
    return str(RevenueEvent.FxSource(event.fx_source).label) if event.fx_source else ""


# ---------------------------------------------------------------------------- ledger detail

LEDGER_HEADER: tuple[str, ...] = (
    "Effective date",
    "Happened on",
    f"Posted ({business_zone()})",
    "Entity",
    "Kind",
    "Bucket",
    "Provider",
    "Counterparty",
    "Reference",
    "Description",
    "Currency",
    "Gross",
    "Fee",
    "Net",
    "USD equivalent",
    "Rate",
    "Rate source",
    "Fees on this sale",
    "Sale net of fees",
    "Event id",
    "Belongs to",
    "Reverses",
    "Reversed by",
)


def _money(cents: int | None, currency: str) -> Decimal | None:
    return None if cents is None else from_minor_units(cents, currency)


def _ledger_line(event: RevenueEvent) -> list[Cell]:
    currency = event.currency
    is_fee = event.kind == RevenueEvent.Kind.FEE
    # Only payments carry it; None when no fee row in the sale's currency states one yet (unknown, not zero).
    sale_fee_cents: int | None = getattr(event, "sale_fee_cents", None)
    return [
        effective_date(event),
        happened_on(event),
        business_local(event.created_at).strftime("%Y-%m-%d %H:%M:%S %Z"),
        getattr(event, "entity_name", ""),
        event.kind,
        BUCKET_LABELS[bucket_of(event.kind)],
        event.provider,
        event.customer_email or event.customer_id or event.reference or "",
        event.reference,
        event.description,
        currency,
        None if is_fee else _money(event.amount_cents, currency),
        _money(event.amount_cents, currency) if is_fee else None,
        _money(event.amount_cents, currency),
        _money(event.amount_usd_cents, REPORTING_CURRENCY),
        event.fx_rate.normalize() if event.fx_rate is not None else None,
        _fx_source_label(event),
        _money(sale_fee_cents, currency),
        _money(event.amount_cents + sale_fee_cents, currency) if sale_fee_cents is not None else None,
        event.event_id,
        event.parent_event_id,
        getattr(event, "reverses_event_id", None),
        getattr(event, "reversed_by_event_id", None),
    ]


def ledger_detail_lines(scope: ExportScope) -> Iterator[list[Cell]]:
    """The ledger detail's lines (without the header), streamed from one query."""
    for event in ledger_detail_rows(scope).iterator(chunk_size=CHUNK_ROWS):
        yield _ledger_line(event)


# ---------------------------------------------------------------------------- monthly summary

SUMMARY_HEADER: tuple[str, ...] = (
    "Month",
    "Entity",
    "Currency",
    "Line",
    "Name",
    "Rows",
    "Amount",
    "USD equivalent",
    "Rows without a USD rate",
)


def _usd_or_none(usd_cents: int, unconverted: int) -> Decimal | None:
    return None if unconverted else from_minor_units(usd_cents, REPORTING_CURRENCY)


def summary_lines(scope: ExportScope) -> list[list[Cell]]:
    """Per business month x entity x currency: one "kind" line per ledger kind present, then one
    "bucket" line per money bucket and the "net" line (docs/numbers.md). A USD total is left empty
    when a row in it has no rate (the last column says how many)."""
    groups: dict[tuple[date, str, str], list[KindTotal]] = defaultdict(list)
    for total in monthly_kind_totals(scope):
        groups[(total.period_day, total.entity_name, total.currency)].append(total)
    lines: list[list[Cell]] = []
    for (month, entity_name, currency), totals in groups.items():
        month_label = f"{month:%Y-%m}"
        buckets = MoneyBuckets(currency)
        bucket_usd: dict[Bucket, list[int]] = {name: [0, 0, 0] for name in BUCKETS}  # usd, rows, unconverted
        for total in totals:
            unconverted = total.count - total.converted_count
            lines.append(
                [
                    month_label,
                    entity_name,
                    currency,
                    "kind",
                    total.kind,
                    total.count,
                    from_minor_units(total.amount_cents, currency),
                    _usd_or_none(total.usd_cents, unconverted),
                    unconverted,
                ]
            )
            buckets.add(
                kind=total.kind,
                amount_cents=total.amount_cents,
                count=total.count,
                usd_cents=total.usd_cents,
                converted=total.converted_count,
            )
            cell = bucket_usd[bucket_of(total.kind)]
            cell[0] += total.usd_cents
            cell[1] += total.count
            cell[2] += unconverted
        for name in BUCKETS:
            usd, rows, unconverted = bucket_usd[name]
            amount = getattr(buckets, f"{name}_cents")
            lines.append(
                [
                    month_label,
                    entity_name,
                    currency,
                    "bucket",
                    BUCKET_LABELS[name],
                    rows,
                    from_minor_units(amount, currency),
                    _usd_or_none(usd, unconverted),
                    unconverted,
                ]
            )
        lines.append(
            [
                month_label,
                entity_name,
                currency,
                "net",
                "Net",
                buckets.count,
                from_minor_units(buckets.net_cents, currency),
                _usd_or_none(buckets.usd_cents, buckets.unconverted_count),
                buckets.unconverted_count,
            ]
        )
    return lines


# ---------------------------------------------------------------------------- journals


class JournalTarget(StrEnum):
    QBO = "qbo"
    XERO = "xero"


@dataclass
class JournalLine:
    """One line: `amount_cents` positive is a debit, negative a credit (minor units of the journal's currency)."""

    role: str
    account_name: str
    account_code: str
    tax_rate: str
    amount_cents: int
    description: str


@dataclass
class Journal:
    """The ledger rows of one effective business date, entity and currency as one balanced entry."""

    number: str
    day: date
    entity: Entity
    ledger_currency: str
    currency: str  # what the amounts are in: the ledger currency (QBO) or USD (Xero)
    row_count: int
    lines: list[JournalLine] = field(default_factory=list)

    @property
    def memo(self) -> str:
        converted = "" if self.currency == self.ledger_currency else f" in {self.currency} at the stated rates"
        return (
            f"Branchberg {self.entity.name} {self.day.isoformat()} {self.ledger_currency}{converted}: "
            f"{self.row_count} ledger row{'s' if self.row_count != 1 else ''}"
        )

    @property
    def debit_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines if line.amount_cents > 0)

    @property
    def credit_cents(self) -> int:
        return -sum(line.amount_cents for line in self.lines if line.amount_cents < 0)


class JournalRefused(ApplicationError):
    """The journal file cannot be made as asked; `extra` lists what to fix. No partial file is written."""


def _resolver(entity: Entity) -> Callable[[str, str], AccountMapping | None]:
    """The most specific mapping for (role, currency): this entity's for the currency, this entity's for
    every currency, every entity's for the currency, every entity's for every currency."""
    table = {(m.role, m.entity_id, m.currency): m for m in account_mappings_for(entity)}

    def resolve(role: str, currency: str) -> AccountMapping | None:
        for key in ((entity.pk, currency), (entity.pk, ""), (None, currency), (None, "")):
            if (found := table.get((role, *key))) is not None:
                return found
        return None

    return resolve


def _journal_groups(totals: list[KindTotal]) -> dict[tuple[date, str], list[KindTotal]]:
    groups: dict[tuple[date, str], list[KindTotal]] = defaultdict(list)
    for total in totals:
        groups[(total.period_day, total.currency)].append(total)
    return groups


def journals_build(scope: ExportScope, target: JournalTarget) -> list[Journal]:
    """One balanced journal per effective business date x entity x currency.

    Why that grain: QuickBooks Online takes one currency per journal entry; a day keeps each entry
    inside one period (a lock date or a month end never splits one) and small enough to check against
    the provider's daily activity and payouts. Each bucket is posted to its mapped account (a payment
    credits sales; a refund, dispute or fee debits its account) and each provider's clearing account
    takes the other side, so debits equal credits by construction.

    Xero's manual journals have no currency column and post in the organisation's base currency, so the
    Xero file is in USD at each row's stated rate; a row without a rate refuses the Xero file.

    Raises JournalRefused (nothing built) for an unmapped role or, for Xero, rows without a USD rate.
    """
    if scope.entity is None:
        raise ApplicationError("Journals are per entity's books: choose an entity.", code="entity_required")
    entity = scope.entity
    resolve = _resolver(entity)
    totals = daily_provider_kind_totals(scope)
    missing: dict[tuple[str, str], None] = {}
    unrated: dict[str, int] = defaultdict(int)
    for total in totals:
        for role in (bucket_of(total.kind), CLEARING_ROLE[total.provider]):
            if resolve(role, total.currency) is None:
                missing[(total.currency, role)] = None
        if target == JournalTarget.XERO and total.currency != REPORTING_CURRENCY:
            unrated[total.currency] += total.count - total.converted_count
    if missing:
        unmapped = [
            {"entity": entity.slug, "currency": currency, "role": role, "role_label": str(Role(role).label)}
            for currency, role in sorted(missing)
        ]
        listed = "; ".join(f"{entity.name} · {item['currency']} · {item['role_label']}" for item in unmapped)
        raise JournalRefused(
            f"No account is mapped for: {listed}. Map them under Accountant files > Account mappings "
            "(for this entity or every entity, this currency or every currency), then export again. "
            "No file was made.",
            code="unmapped_accounts",
            extra={"unmapped": unmapped},
        )
    missing_rates = [{"currency": currency, "rows": rows} for currency, rows in sorted(unrated.items()) if rows]
    if missing_rates:
        listed = "; ".join(f"{m['currency']}: {m['rows']} row{'s' if m['rows'] != 1 else ''}" for m in missing_rates)
        raise JournalRefused(
            f"Xero journals are in USD and these rows have no USD rate: {listed}. Add the rates under "
            "Exchange rates, then export again. No file was made.",
            code="missing_rates",
            extra={"missing_rates": missing_rates},
        )
    journals = []
    for (day, currency), group in _journal_groups(totals).items():
        journal = _journal(entity, day, currency, group, target, resolve)
        if journal.lines:
            journals.append(journal)
    if target == JournalTarget.XERO and (count := sum(len(j.lines) for j in journals)) > XERO_MAX_LINES:
        raise JournalRefused(
            f"The Xero file would have {count} lines and Xero imports at most {XERO_MAX_LINES} per file: "
            "export a shorter period (for example half a month). No file was made.",
            code="too_many_lines",
        )
    return journals


def _journal(
    entity: Entity,
    day: date,
    currency: str,
    group: list[KindTotal],
    target: JournalTarget,
    resolve: Callable[[str, str], AccountMapping | None],
) -> Journal:
    in_usd = target == JournalTarget.XERO and currency != REPORTING_CURRENCY
    amount_currency = REPORTING_CURRENCY if in_usd else currency
    by_role: dict[str, int] = defaultdict(int)
    rows_by_role: dict[str, int] = defaultdict(int)
    for total in group:
        amount = total.usd_cents if in_usd else total.amount_cents
        bucket = bucket_of(total.kind)
        clearing = CLEARING_ROLE[total.provider]
        by_role[bucket] -= amount  # a payment (+) credits sales; a refund/fee (-) debits its account
        by_role[clearing] += amount  # the provider holds the money until it pays out
        rows_by_role[bucket] += total.count
        rows_by_role[clearing] += total.count
    journal = Journal(
        number=f"BB{entity.pk}-{day:%Y%m%d}-{currency}",
        day=day,
        entity=entity,
        ledger_currency=currency,
        currency=amount_currency,
        row_count=sum(total.count for total in group),
    )
    order = [*BUCKETS, *CLEARING_ROLE.values()]
    for role in sorted(by_role, key=order.index):
        amount = by_role[role]
        if amount == 0:
            continue
        mapping = resolve(role, currency)
        assert mapping is not None  # checked for every role before any journal is built
        rows = rows_by_role[role]
        journal.lines.append(
            JournalLine(
                role=role,
                account_name=mapping.account_name,
                account_code=mapping.account_code,
                tax_rate=mapping.xero_tax_rate,
                amount_cents=amount,
                description=f"{Role(role).label}: {rows} ledger row{'s' if rows != 1 else ''} ({currency})",
            )
        )
    if sum(line.amount_cents for line in journal.lines) != 0:  # an invariant, never expected
        raise ApplicationError(f"Journal {journal.number} does not balance", code="unbalanced")
    return journal


QBO_HEADER: tuple[str, ...] = (
    "JournalNo",
    "JournalDate",
    "Currency",
    "Memo",
    "AccountName",
    "Debits",
    "Credits",
    "Description",
    "Name",
    "Location",
    "Class",
)
XERO_HEADER: tuple[str, ...] = (
    "*Narration",
    "*Date",
    "Description",
    "*AccountCode",
    "*TaxRate",
    "*Amount",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
)


def qbo_lines(journals: Sequence[Journal]) -> list[list[str]]:
    """QuickBooks Online's journal-entry import: dates MM/DD/YYYY, unsigned Debits or Credits."""
    lines = []
    for journal in journals:
        for line in journal.lines:
            amount = str(from_minor_units(abs(line.amount_cents), journal.currency))
            lines.append(
                [
                    journal.number,
                    journal.day.strftime("%m/%d/%Y"),
                    journal.currency,
                    journal.memo,
                    line.account_name,
                    amount if line.amount_cents > 0 else "",
                    amount if line.amount_cents < 0 else "",
                    line.description,
                    "",
                    "",
                    "",
                ]
            )
    return lines


def xero_lines(journals: Sequence[Journal]) -> list[list[str]]:
    """Xero's manual-journal import: dates dd/mm/yyyy, Amount positive for a debit, negative for a credit."""
    lines = []
    for journal in journals:
        for line in journal.lines:
            lines.append(
                [
                    journal.memo,
                    journal.day.strftime("%d/%m/%Y"),
                    line.description,
                    line.account_code,
                    line.tax_rate,
                    str(from_minor_units(line.amount_cents, journal.currency)),
                    "",
                    "",
                    "",
                    "",
                ]
            )
    return lines


# ---------------------------------------------------------------------------- writing files


def _csv_text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Decimal):
        return f"{cell:f}"
    if isinstance(cell, date):
        return cell.isoformat()
    return str(escape_formula(cell)) if isinstance(cell, str) else str(cell)


def csv_chunks(header: Sequence[str], lines: Iterator[Sequence[Cell]] | Sequence[Sequence[Cell]]) -> Iterator[bytes]:
    """CSV (UTF-8, CRLF) in chunks of about CHUNK_ROWS lines; text cells are guarded against formulas."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for number, line in enumerate(lines, start=1):
        writer.writerow([_csv_text(cell) for cell in line])
        if number % CHUNK_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def accountant_file_build(*, scope: ExportScope, kind: FileKind) -> AccountantFile:
    """The file of `kind` for `scope`. Journal files are built whole before anything is returned, so a
    refusal (JournalRefused) comes before any byte; the ledger CSV streams from the database."""
    stem = scope.file_stem
    if kind == FileKind.LEDGER_CSV:
        return AccountantFile(f"ledger_{stem}.csv", CSV_TYPE, csv_chunks(LEDGER_HEADER, ledger_detail_lines(scope)))
    if kind == FileKind.LEDGER_XLSX:
        sheet = Sheet("Ledger detail", LEDGER_HEADER, ledger_detail_lines(scope))
        return AccountantFile(f"ledger_{stem}.xlsx", XLSX_TYPE, workbook_bytes([sheet]))
    if kind == FileKind.SUMMARY_CSV:
        return AccountantFile(
            f"summary_{stem}.csv", CSV_TYPE, b"".join(csv_chunks(SUMMARY_HEADER, summary_lines(scope)))
        )
    if kind == FileKind.SUMMARY_XLSX:
        sheet = Sheet("Monthly summary", SUMMARY_HEADER, summary_lines(scope))
        return AccountantFile(f"summary_{stem}.xlsx", XLSX_TYPE, workbook_bytes([sheet]))
    if kind == FileKind.QBO_CSV:
        lines = qbo_lines(journals_build(scope, JournalTarget.QBO))
        return AccountantFile(f"quickbooks_journals_{stem}.csv", CSV_TYPE, b"".join(csv_chunks(QBO_HEADER, lines)))
    lines = xero_lines(journals_build(scope, JournalTarget.XERO))
    return AccountantFile(f"xero_journals_{stem}.csv", CSV_TYPE, b"".join(csv_chunks(XERO_HEADER, lines)))

"""Bank statement layouts, read into rows of one canonical shape, and the import-export resource.

A layout is a column mapping plus how to find the header: presets for a generic
date/description/amount file, Chase business checking, Bank of America and Wells Fargo
(no header), and OFX through ofxtools. A person may override the mapping of the generic
layout (`date=Posted,amount=Credit,description=Memo`).

Files are read into a tablib Dataset of the raw table (title = layout key); the resource's
`before_import` turns it into canonical rows. Values that do not parse are kept with an
error naming the file line and the column, so the preview shows them and nothing is imported
silently wrong.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

import tablib
from django.conf import settings
from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets
from import_export.formats.base_formats import Format

from revenue.business_time import business_today
from revenue.models import Entity
from revenue.money import CurrencyError, normalize_currency, to_minor_units

from .models import BankDeposit

CANONICAL_HEADERS = [
    "line",
    "posted_on",
    "amount_cents",
    "currency",
    "description",
    "bank_reference",
    "account",
    "error",
    "dedupe_key",
]
MAPPING_KEYS = ("date", "amount", "description", "reference", "currency", "credit", "debit")
LINE_COLUMN = "__line__"


class StatementImported(Protocol):
    """The post-import step: audit the import, refresh expectations, auto-match; returns matches made."""

    def __call__(self, *, entity: Entity, user, statement_name: str, layout: str, counts: dict) -> int: ...


class StatementError(ValueError):
    """The file as a whole cannot be read with this layout (a missing column, not OFX, …)."""


@dataclass(frozen=True)
class Layout:
    key: str
    label: str
    mapping: dict[str, str]
    headerless_columns: tuple[str, ...] = ()
    # Rows whose description starts with one of these carry no money movement (balance lines).
    skip_prefixes: tuple[str, ...] = field(default=())
    mapping_editable: bool = False

    @property
    def has_header(self) -> bool:
        return not self.headerless_columns


LAYOUTS: dict[str, Layout] = {
    "generic": Layout(
        key="generic",
        label="Generic CSV: Date, Description, Amount (or your column mapping)",
        mapping={"date": "Date", "description": "Description", "amount": "Amount"},
        mapping_editable=True,
    ),
    # Chase business checking "Download account activity" CSV. Data rows end with a trailing comma.
    "chase": Layout(
        key="chase",
        label="Chase business checking CSV",
        mapping={
            "date": "Posting Date",
            "description": "Description",
            "amount": "Amount",
            "reference": "Check or Slip #",
        },
    ),
    # Bank of America: a summary block, a blank line, then "Date,Description,Amount,Running Bal.".
    "bofa": Layout(
        key="bofa",
        label="Bank of America CSV",
        mapping={"date": "Date", "description": "Description", "amount": "Amount"},
        skip_prefixes=("beginning balance", "ending balance"),
    ),
    # Wells Fargo: no header; date, amount, "*", check number, description.
    "wells_fargo": Layout(
        key="wells_fargo",
        label="Wells Fargo CSV (no header)",
        mapping={"date": "Date", "amount": "Amount", "reference": "Check Number", "description": "Description"},
        headerless_columns=("Date", "Amount", "Star", "Check Number", "Description"),
    ),
}


# What a person calls each layout (the import form's choices and its messages).
LAYOUT_TITLES: dict[str, str] = {
    "generic": "Generic CSV",
    "chase": "Chase business checking CSV",
    "bofa": "Bank of America CSV",
    "wells_fargo": "Wells Fargo CSV",
    "ofx": "OFX / QFX file",
}


def parse_mapping(text: str) -> dict[str, str]:
    """'date=Posted On,amount=Credit' -> {'date': 'Posted On', 'amount': 'Credit'}."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, column = part.partition("=")
        key = key.strip().lower()
        if not sep or not column.strip():
            raise StatementError(f"Column mapping '{part.strip()}' is not key=Column")
        if key not in MAPPING_KEYS:
            raise StatementError(f"Unknown mapping key '{key}'; use {', '.join(MAPPING_KEYS)}")
        mapping[key] = column.strip()
    if mapping:
        missing = [k for k in ("date", "description") if k not in mapping]
        if "amount" not in mapping and "credit" not in mapping:
            missing.append("amount (or credit)")
        if missing:
            raise StatementError(f"Column mapping needs {', '.join(missing)}")
    return mapping


_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode(content: bytes | str) -> str:
    """The statement's text: UTF-8 (with or without BOM), UTF-16/32 with a BOM, else Windows-1252.
    Raises StatementError, a sentence, for anything that is not text."""
    if isinstance(content, str):
        text = content.lstrip("\ufeff")
    else:
        text = None
        for bom, encoding in _BOMS:
            if content.startswith(bom):
                try:
                    text = content[len(bom) :].decode(encoding)
                except UnicodeDecodeError:
                    raise StatementError(
                        f"The file starts like {encoding.upper()} text but is not valid {encoding.upper()}; "
                        "save it as CSV UTF-8 and upload it again."
                    ) from None
                break
        if text is None:
            try:
                text = content.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = content.decode("cp1252", errors="replace")
    if "\x00" in text:
        raise StatementError(
            "The file contains NUL characters, so it is not a text CSV (perhaps UTF-16 without a byte-order "
            "mark, or a spreadsheet file); save it as CSV UTF-8 and upload it again."
        )
    return text


def _norm_header(name: str) -> str:
    return re.sub(r"\s+", " ", (name or "").strip()).casefold()


def _cells(line: str) -> list[str]:
    return [_norm_header(cell) for cell in next(csv.reader([line]), [])]


def sniff_layout(content: bytes | str) -> str | None:
    """Which statement layout a file is, from its first lines; None when no known layout fits.

    OFX by its header; Chase by 'Details' + 'Posting Date'; Bank of America by 'Running Bal.'
    after Date, Description, Amount; Wells Fargo by a header-less first row of date, amount, '*';
    the generic layout by Date, Description and Amount.
    """
    try:
        text = decode(content[:65536])
    except StatementError:
        return None
    head = text.lstrip()[:2000].upper()
    if head.startswith("OFXHEADER") or "<OFX>" in head:
        return "ofx"
    lines = [line for line in text.splitlines()[:40] if line.strip()]
    for line in lines:
        cells = set(_cells(line))
        if {"details", "posting date", "amount"} <= cells:
            return "chase"
        if {"date", "description", "amount", "running bal."} <= cells:
            return "bofa"
    if lines:
        first = _cells(lines[0])
        if len(first) >= 5 and first[2] == "*":
            try:
                parse_statement_date(first[0])
                return "wells_fargo"
            except ValueError:
                pass
        if {"date", "description", "amount"} <= set(first):
            return "generic"
    return None


def read_table(content: bytes | str, layout: Layout, mapping: dict[str, str] | None = None) -> tablib.Dataset:
    """The statement's table: the header row (found by the mapped column names, so a summary block
    above it is skipped) and every non-empty row after it, each with its file line number."""
    text = decode(content)
    rows = list(csv.reader(io.StringIO(text)))
    wanted = {_norm_header(c) for c in (mapping or layout.mapping).values()}
    if layout.has_header:
        header_index = next(
            (i for i, row in enumerate(rows) if wanted <= {_norm_header(cell) for cell in row}),
            None,
        )
        if header_index is None:
            first = next((row for row in rows if any(cell.strip() for cell in row)), [])
            raise StatementError(
                f"No header row with the columns {', '.join(sorted((mapping or layout.mapping).values()))} "
                f"({layout.label}); the first row is: {', '.join(first) or '(empty file)'}"
            )
        headers = [cell.strip() for cell in rows[header_index]]
        body_start = header_index + 1
    else:
        headers = list(layout.headerless_columns)
        body_start = 0
    dataset = tablib.Dataset(headers=[*headers, LINE_COLUMN], title=layout.key)
    width = len(headers)
    for index in range(body_start, len(rows)):
        row = rows[index]
        if not any(cell.strip() for cell in row):
            continue
        cells = [cell.strip() for cell in row[:width]] + [""] * max(0, width - len(row))
        dataset.append([*cells, index + 1])
    return dataset


_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y/%m/%d", "%d-%b-%Y", "%b %d, %Y")


def parse_statement_date(text: str) -> date:
    value = (text or "").strip()
    for fmt in _DATE_FORMATS:
        try:
            return statement_date_check(datetime.strptime(value, fmt).date(), value)
        except ValueError as exc:
            if "accepted" in str(exc):
                raise
            continue
    raise ValueError(f"'{value}' is not a date (expected YYYY-MM-DD or MM/DD/YYYY)")


def statement_date_check(day: date, value: str = "") -> date:
    """A posting date in the accepted range: LEDGER_EARLIEST_DATE to tomorrow (business time)."""
    earliest = settings.LEDGER_EARLIEST_DATE
    latest = business_today() + timedelta(days=1)
    if not earliest <= day <= latest:
        raise ValueError(
            f"'{value or day.isoformat()}' is outside the accepted range "
            f"{earliest.isoformat()} to {latest.isoformat()}; check the date"
        )
    return day


def parse_statement_amount(text: str, currency: str) -> int:
    """'1,234.56' / '$1,234.56' / '(12.00)' / '-12.00' -> signed minor units via to_minor_units."""
    value = (text or "").strip().replace("$", "").replace("\u00a0", "")
    negative = value.startswith("(") and value.endswith(")")
    if negative:
        value = value[1:-1]
    if not value:
        raise ValueError("the amount is empty")
    minor = to_minor_units(value, currency)
    return -minor if negative else minor


def canonical_rows(
    table: tablib.Dataset, layout: Layout, *, mapping: dict[str, str] | None = None, currency: str = "USD"
) -> list[dict]:
    """Raw table -> canonical row dicts. A value that does not parse leaves `error` set, naming line and column."""
    mapping = mapping or layout.mapping
    headers = [h for h in table.headers if h != LINE_COLUMN]
    normalized = [_norm_header(h) for h in headers]
    missing = [column for column in mapping.values() if _norm_header(column) not in normalized]
    if missing:
        names = ", ".join(f"'{c}'" for c in missing)
        raise StatementError(
            f"Column{'s' if len(missing) > 1 else ''} {names} {'are' if len(missing) > 1 else 'is'} not in the file; "
            f"its columns are: {', '.join(headers)}"
        )
    positions = {key: normalized.index(_norm_header(column)) for key, column in mapping.items()}
    default_currency = normalize_currency(currency)
    result = []
    for raw in table:
        line = raw[-1]
        row = {"line": line, "currency": default_currency, "bank_reference": "", "account": "", "error": ""}
        description = raw[positions["description"]] if "description" in positions else ""
        row["description"] = re.sub(r"\s+", " ", description).strip()[:500]
        if any(row["description"].casefold().startswith(p) for p in layout.skip_prefixes):
            continue
        if "reference" in positions:
            row["bank_reference"] = raw[positions["reference"]][:255]
        errors = []
        if "currency" in positions and raw[positions["currency"]]:
            try:
                row["currency"] = normalize_currency(raw[positions["currency"]])
            except CurrencyError as exc:
                errors.append(f"line {line}, column '{mapping['currency']}': {exc}")
        try:
            row["posted_on"] = parse_statement_date(raw[positions["date"]]).isoformat()
        except ValueError as exc:
            row["posted_on"] = ""
            errors.append(f"line {line}, column '{mapping['date']}': {exc}")
        row["amount_cents"] = None
        try:
            if "amount" in positions:
                row["amount_cents"] = parse_statement_amount(raw[positions["amount"]], row["currency"])
            else:
                credit = raw[positions["credit"]]
                debit = raw[positions["debit"]] if "debit" in positions else ""
                if credit.strip():
                    row["amount_cents"] = abs(parse_statement_amount(credit, row["currency"]))
                else:
                    row["amount_cents"] = -abs(parse_statement_amount(debit, row["currency"]))
        except (ValueError, CurrencyError) as exc:
            column = mapping.get("amount") or mapping.get("credit")
            errors.append(f"line {line}, column '{column}': {exc}")
        row["error"] = "; ".join(errors)
        result.append(row)
    return result


def _ofx_posted_on(posted: datetime) -> str:
    try:
        return statement_date_check(posted.date()).isoformat()
    except ValueError as exc:
        raise StatementError(f"A transaction's DTPOSTED {exc}") from None


def ofx_rows(content: bytes) -> list[dict]:
    """OFX/QFX bank statement transactions (ofxtools) -> canonical rows; FITID is the bank reference."""
    from ofxtools.Parser import OFXTree

    parser = OFXTree()
    try:
        parser.parse(io.BytesIO(content if isinstance(content, bytes) else content.encode()))
        ofx = parser.convert()
    except Exception as exc:  # ofxtools raises a zoo of parse errors
        # The parser's message can quote the whole file; its first clause says what is wrong.
        reason = str(exc).split(":", 1)[0].strip() or exc.__class__.__name__
        raise StatementError(f"Not a readable OFX / QFX file ({reason}); export the statement again as OFX") from None
    rows = []
    line = 0
    for statement in ofx.statements:
        currency = normalize_currency(statement.curdef)
        account = getattr(statement.account, "acctid", "") or ""
        for txn in statement.banktranlist or []:
            line += 1
            txn_currency = normalize_currency(txn.currency.cursym) if getattr(txn, "currency", None) else currency
            description = " ".join(part for part in (txn.name, txn.memo) if part)
            rows.append(
                {
                    "line": line,
                    "posted_on": _ofx_posted_on(txn.dtposted),
                    "amount_cents": to_minor_units(txn.trnamt, txn_currency),
                    "currency": txn_currency,
                    "description": re.sub(r"\s+", " ", description).strip()[:500],
                    "bank_reference": txn.fitid or "",
                    "account": account[-64:],
                    "error": "",
                }
            )
    return rows


def _description_key(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", " ", (text or "").upper()).strip()[:200]


def assign_dedupe_keys(rows: list[dict]) -> list[dict]:
    """The bank's reference when there is one; else (date, amount, currency, description, n-th occurrence).

    Counting occurrences within the file keeps two identical lines as two deposits, while a
    re-import of the same statement produces the same keys and so adds nothing.
    """
    seen: Counter = Counter()
    for row in rows:
        if row["error"]:
            row["dedupe_key"] = ""
            continue
        if row["bank_reference"]:
            row["dedupe_key"] = f"ref:{row['account']}:{row['bank_reference']}"
            continue
        base = f"line:{row['posted_on']}:{row['amount_cents']}:{row['currency']}:{_description_key(row['description'])}"
        seen[base] += 1
        row["dedupe_key"] = f"{base}:{seen[base]}"
    return rows


# --- import-export formats: one per layout, reading bytes into the raw table ---------------------------


class StatementFormat(Format):
    layout_key = ""

    def __init__(self, encoding=None):
        self.encoding = encoding

    def get_title(self):
        return LAYOUTS[self.layout_key].label if self.layout_key in LAYOUTS else "OFX / QFX"

    def can_import(self):
        return True

    def get_extension(self):
        return "csv"

    def create_dataset(self, in_stream):
        return read_table(in_stream, LAYOUTS[self.layout_key])


class GenericCSV(StatementFormat):
    layout_key = "generic"

    def create_dataset(self, in_stream):
        # The header may use other names (a column mapping chosen on the import form); read the
        # first non-empty row as the header and let the resource apply the mapping.
        text = decode(in_stream)
        rows = list(csv.reader(io.StringIO(text)))
        header = next((i for i, row in enumerate(rows) if any(c.strip() for c in row)), None)
        if header is None:
            raise StatementError("The file is empty")
        headers = [c.strip() for c in rows[header]]
        layout = Layout(key="generic", label="generic", mapping={h: h for h in headers if h})
        return read_table(in_stream, layout)


class ChaseCSV(StatementFormat):
    layout_key = "chase"


class BankOfAmericaCSV(StatementFormat):
    layout_key = "bofa"


class WellsFargoCSV(StatementFormat):
    layout_key = "wells_fargo"


class OFXFile(StatementFormat):
    layout_key = "ofx"

    def get_extension(self):
        return "ofx"

    def create_dataset(self, in_stream):
        dataset = tablib.Dataset(headers=CANONICAL_HEADERS[:-1], title="ofx")
        for row in ofx_rows(in_stream if isinstance(in_stream, bytes) else in_stream.encode()):
            dataset.append([row[h] for h in CANONICAL_HEADERS[:-1]])
        return dataset


STATEMENT_FORMATS: dict[str, type[StatementFormat]] = {
    "generic": GenericCSV,
    "chase": ChaseCSV,
    "bofa": BankOfAmericaCSV,
    "wells_fargo": WellsFargoCSV,
    "ofx": OFXFile,
}


def statement_dataset(content: bytes, layout_key: str) -> tablib.Dataset:
    if layout_key not in STATEMENT_FORMATS:
        raise StatementError(f"Unknown statement format '{layout_key}'; use {', '.join(STATEMENT_FORMATS)}")
    return STATEMENT_FORMATS[layout_key]().create_dataset(content)


# --- the resource ------------------------------------------------------------------------------------------


class BankDepositResource(resources.ModelResource):
    """Imports credit lines as BankDeposit rows for one entity. Debits and already-imported lines are skipped.

    Constructor kwargs: entity (required), mapping (generic layout override), currency (default USD),
    on_imported (called with entity, user, statement_name, layout and counts after a real import;
    returns how many deposits it matched).
    """

    posted_on = fields.Field(attribute="posted_on", column_name="posted_on", widget=widgets.DateWidget("%Y-%m-%d"))
    amount_cents = fields.Field(attribute="amount_cents", column_name="amount_cents", widget=widgets.IntegerWidget())

    class Meta:
        model = BankDeposit
        fields = (
            "posted_on",
            "amount_cents",
            "currency",
            "description",
            "bank_reference",
            "account",
            "dedupe_key",
            "statement_line",
        )
        import_id_fields = ("dedupe_key",)
        report_skipped = True
        store_row_values = True  # the preview lists each line as money, with what happens to it
        use_transactions = True
        clean_model_instances = True

    def __init__(
        self,
        *,
        entity: Entity | None = None,
        mapping: dict | None = None,
        currency: str = "USD",
        on_imported: StatementImported | None = None,
        **kw,
    ):
        super().__init__(**kw)
        self.on_imported = on_imported
        self.entity = entity
        self.mapping = mapping or {}
        self.currency = currency or "USD"
        self.layout_key = "generic"
        self.counts: Counter = Counter()
        self.auto_matched = 0

    def before_import(self, dataset, **kwargs):
        if self.entity is None:
            raise StatementError("Choose the entity whose bank account this statement is")
        self.layout_key = dataset.title or "generic"
        try:
            if self.layout_key == "ofx":
                rows = [dict(zip(dataset.headers, values, strict=False)) for values in dataset]
            else:
                layout = LAYOUTS[self.layout_key]
                rows = canonical_rows(dataset, layout, mapping=self.mapping or None, currency=self.currency)
        except StatementError:
            dataset.wipe()  # the file as a whole is unreadable: no row is imported or reported twice
            raise
        assign_dedupe_keys(rows)
        dataset.wipe()
        dataset.headers = [*CANONICAL_HEADERS, "statement_line"]
        for row in rows:
            dataset.append([*(row.get(h, "") for h in CANONICAL_HEADERS), row["line"]])
        self.counts = Counter()

    def before_import_row(self, row, **kwargs):
        if row["error"]:
            raise ValidationError(row["error"])

    def get_instance(self, instance_loader, row):
        return BankDeposit.objects.filter(entity=self.entity, dedupe_key=row["dedupe_key"]).first()

    def init_instance(self, row=None):
        return BankDeposit(entity=self.entity, source_format=self.layout_key)

    def after_init_instance(self, instance, new, row, **kwargs):
        if new:
            instance.statement_name = (kwargs.get("file_name") or "")[:255]
            user = kwargs.get("user")
            instance.imported_by = user if getattr(user, "is_authenticated", False) else None

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if import_validation_errors:
            return False
        # row["outcome"] is what the preview shows for the line (row_values is this same dict).
        if not instance._state.adding:
            self.counts["duplicates"] += 1
            row["outcome"] = "already imported"
            return True
        if int(row["amount_cents"]) <= 0:
            self.counts["debits"] += 1
            row["outcome"] = "not a deposit (money out): ignored"
            return True
        self.counts["new"] += 1
        row["outcome"] = "new deposit"
        return False

    def after_import(self, dataset, result, **kwargs):
        """After a real (not dry-run) import without errors, hand the counts to `on_imported`.

        The caller (the admin or `bank_statement_import`) passes the reconciliation service
        as `on_imported`, so this module never imports the services. It runs inside the
        import's transaction: the deposits, the audit row and the matches commit together.
        """
        super().after_import(dataset, result, **kwargs)
        if kwargs.get("dry_run", False) or result.has_errors() or result.has_validation_errors():
            return
        if self.on_imported is None:
            return
        user = kwargs.get("user")
        self.auto_matched = self.on_imported(
            entity=self.entity,
            user=user if getattr(user, "is_authenticated", False) else None,
            statement_name=kwargs.get("file_name") or "",
            layout=self.layout_key,
            counts=dict(self.counts),
        )

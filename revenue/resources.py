"""django-import-export resources for the ledger admin: CSV import (three formats) and export.

Import rows are mapped by the pure functions in `revenue.backfill` and written
through `revenue_event_record`, one row at a time, inside import-export's
transaction (public hooks only, see `LedgerImportResource`): the preview step is a real run that is rolled back, so what the
preview shows is exactly what "Confirm import" will do, and nothing is written
before it. Rows already in the ledger are reported as skipped. Large files go
through `manage.py import_revenue_csv` (bulk writes) instead.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.template.defaultfilters import pluralize
from import_export import fields, resources
from import_export.formats import base_formats
from import_export.instance_loaders import BaseInstanceLoader

from .audit import ledger_audit_record
from .backfill import (
    FORMAT_GENERIC,
    FORMAT_GUMROAD,
    FORMAT_STRIPE,
    FORMAT_STRIPE_ITEMIZED,
    FORMAT_TITLES,
    GENERIC_COLUMNS,
    MAPPERS,
    FileFormatError,
    PossibleDuplicate,
    PreparedRow,
    RowError,
    RowPreparer,
    StandaloneFee,
    check_columns,
    fee_entries_with_parent,
    possible_duplicates_find,
    possible_duplicates_report,
    standalone_fees_find,
    standalone_fees_report,
)
from .business_time import business_local
from .errors import ApplicationError
from .models import Entity, LedgerAuditEntry, RevenueEvent
from .money import format_money, from_minor_units
from .selectors.buckets import BUCKET_LABELS, BUCKETS, Bucket, bucket_of
from .services import revenue_event_record

# Spreadsheet formula injection: cells starting with these are neutralised on export.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d[\d,]*(\.\d+)?$")


def escape_formula(value: object) -> object:
    """Prefix a quote to text a spreadsheet would run as a formula (OWASP CSV injection).

    Plain numbers such as "-12.50" are left alone: they cannot execute, and
    refunds must stay numbers so an exported file can be imported again.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_PREFIXES) or _PLAIN_NUMBER.match(value):
        return value
    return "'" + value


class SafeCSV(base_formats.CSV):
    """CSV export with every cell checked for formula injection (= + - @ TAB CR).

    import-export's own IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT only strips a leading '='.
    """

    def export_data(self, dataset, **kwargs):
        for index in range(len(dataset)):
            dataset[index] = tuple(escape_formula(cell) for cell in dataset[index])
        dataset.headers = [escape_formula(h) for h in dataset.headers or []]
        return dataset.export(self.get_title(), **kwargs)


# --- import -------------------------------------------------------------------------------

PREVIEW_HEADERS = [
    "Event id",
    "Entity",
    "Provider",
    "Kind",
    "Amount",
    "Occurred (Chicago time)",
    "Customer",
    "PO / reference",
    "Result",
]


def _bucket_rows(bucket: Bucket, count: int) -> str:
    """'payments' / 'payment', 'disputes won back' / 'dispute won back'."""
    label = BUCKET_LABELS[bucket].lower()
    return label if count != 1 else label.replace("disputes", "dispute").removesuffix("s")


@dataclass
class ImportPreview:
    """What an import adds, to tie out against the provider: file rows read, the ledger rows they
    become by bucket, and per currency the money in each bucket and net (revenue.selectors.buckets)."""

    file_rows: int = 0
    rows_by_bucket: Counter[str] = field(default_factory=Counter)
    money: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, entries: list[PreparedRow]) -> None:
        for prepared in entries:
            entry = prepared.entry
            bucket = bucket_of(entry.kind)
            self.rows_by_bucket[bucket] += 1
            sums = self.money.setdefault(entry.currency, dict.fromkeys(BUCKETS, 0))
            sums[bucket] += entry.amount_cents

    @property
    def sentence(self) -> str:
        """'6 file rows -> 9 ledger rows (3 payments, 2 refunds, 4 fees)'."""
        ledger_rows = sum(self.rows_by_bucket.values())
        parts = [f"{n} {_bucket_rows(b, n)}" for b in BUCKETS if (n := self.rows_by_bucket[b])]
        text = (
            f"{self.file_rows} file row{pluralize(self.file_rows)} → {ledger_rows} ledger row{pluralize(ledger_rows)}"
        )
        return text + (f" ({', '.join(parts)})" if parts else "")

    @property
    def currency_lines(self) -> list[tuple[str, list[str], str]]:
        """Per currency (never added across): each bucket's amount and net, formatted."""
        return [
            (currency, [format_money(sums[b], currency) for b in BUCKETS], format_money(sum(sums.values()), currency))
            for currency, sums in sorted(self.money.items())
        ]

    bucket_labels = [BUCKET_LABELS[b] for b in BUCKETS]


@dataclass
class LedgerRow:
    """What one CSV row becomes: the import-export "instance" of a ledger import."""

    row_values: dict = field(default_factory=dict)
    skip_note: str = ""
    prepared: list[PreparedRow] = field(default_factory=list)
    new: list[PreparedRow] = field(default_factory=list)
    created: list[RevenueEvent] = field(default_factory=list)
    duplicates: list[PossibleDuplicate] = field(default_factory=list)
    standalone_fees: list[StandaloneFee] = field(default_factory=list)

    @property
    def pk(self) -> str | None:
        """The first ledger row written, as import-export reports the row's object id."""
        return str(self.created[0].pk) if self.created else None

    def __str__(self) -> str:
        return self.created[0].event_id if self.created else ""


class LedgerImportResource(resources.Resource):
    """Base for the three CSV formats. Subclasses set `format_name` and `display_name`.

    Uses import-export's public hooks only: `init_instance` gives a `LedgerRow`,
    `import_instance` maps and prepares it (a bad cell is a row error), `skip_row` skips
    what books nothing, `do_instance_save` writes through `revenue_event_record`, and
    `after_import_row` fills the preview's cells.
    """

    format_name = FORMAT_GENERIC
    display_name = FORMAT_TITLES[FORMAT_GENERIC]

    class Meta:
        use_transactions = True
        report_skipped = True
        skip_diff = True
        force_init_instance = True  # every row is a new LedgerRow; existing event ids are skipped
        store_instance = True  # after_import_row reads the LedgerRow from the row result
        instance_loader_class = BaseInstanceLoader

    def __init__(self, *, entity: Entity | None = None, **kwargs):
        super().__init__()
        self.preparer = RowPreparer(default_entity=entity)
        self.default_entity = entity
        self.inserted_count = 0
        self.skipped_count = 0
        self.duplicate_count = 0
        self.mapper = MAPPERS[self.format_name]
        self.preview = ImportPreview()

    @classmethod
    def get_display_name(cls) -> str:
        return cls.display_name

    def get_user_visible_fields(self):
        return []

    def get_diff_headers(self):
        return PREVIEW_HEADERS

    def before_import(self, dataset, **kwargs):
        try:
            check_columns(dataset.headers or [], self.format_name)
        except FileFormatError:
            dataset.wipe()  # the file as a whole is the wrong kind: one sentence, not an error per row
            raise

    def init_instance(self, row=None):
        return LedgerRow(row_values=dict(row or {}))

    def import_instance(self, instance: LedgerRow, row, **kwargs):
        """Map and prepare the row; a bad cell or unknown entity is a ValidationError naming the column."""
        self.preview.file_rows += 1
        try:
            mapped = self.mapper(dict(row), file_name=kwargs.get("file_name") or "")
            if mapped.skip_reason:
                instance.skip_note = f"Skipped: {mapped.skip_reason}"
                return
            instance.prepared = [
                prepared
                for prepared in (
                    self.preparer.prepare(entry, entity_column=mapped.entity_column, date_column=mapped.date_column)
                    for entry in mapped.entries
                )
                if prepared is not None
            ]
        except RowError as exc:
            raise ValidationError({exc.column: [exc.message]}) from None
        except ApplicationError as exc:
            raise ValidationError({NON_FIELD_ERRORS: [str(exc)]}) from None
        existing = set(
            RevenueEvent.objects.filter(event_id__in=[p.entry.event_id for p in instance.prepared]).values_list(
                "event_id", flat=True
            )
        )
        instance.new = [p for p in instance.prepared if p.entry.event_id not in existing]
        self.preview.add(instance.new)
        if not instance.new:
            self.skipped_count += 1
            instance.skip_note = "Skipped: already in the ledger"

    def skip_row(self, instance: LedgerRow, original, row, import_validation_errors=None) -> bool:
        return not import_validation_errors and bool(instance.skip_note)

    def do_instance_save(self, instance: LedgerRow, is_create: bool) -> None:
        """Book the new parts and check them for possible duplicates, all or nothing for the row."""
        try:
            with transaction.atomic():
                for item in instance.new:
                    result = revenue_event_record(entry=self.preparer.entry_for_service(item), entity=item.entity)
                    if result.created:
                        instance.created.append(result.event)
                new_ids = [e.event_id for e in instance.created]
                instance.duplicates = possible_duplicates_find(event_ids=new_ids)
                possible_duplicates_report(instance.duplicates)
                instance.standalone_fees = standalone_fees_find(
                    event_ids=fee_entries_with_parent(p.entry for p in instance.new)
                )
                standalone_fees_report(instance.standalone_fees)
        except (ApplicationError, IntegrityError) as exc:
            instance.created = []
            raise ValidationError({NON_FIELD_ERRORS: [str(exc)]}) from None
        self.inserted_count += len(instance.created)
        self.duplicate_count += len(instance.duplicates)

    def after_import_row(self, row, row_result, **kwargs):
        """The preview's cells for the row (import-export's own diff is off: these are not model fields)."""
        instance = row_result.instance
        if instance is None:
            return
        if instance.skip_note:
            first = instance.prepared[0] if instance.prepared else None
            row_result.diff = self._cells(first, row_values=instance.row_values, note=instance.skip_note)
            return
        prepared = instance.prepared
        notes = []
        if len(prepared) > 1:
            extra = [f"{p.entry.kind} {format_money(p.entry.amount_cents, p.entry.currency)}" for p in prepared[1:]]
            notes.append("also " + ", ".join(extra))
        if len(instance.new) < len(prepared):
            notes.append(f"{len(prepared) - len(instance.new)} part(s) already in the ledger")
        for duplicate in instance.duplicates:
            notes.append(f"POSSIBLE DUPLICATE of {duplicate.other_event_id}: a duplicate alert is raised for review")
        for fee in instance.standalone_fees:
            notes.append(f"fee booked standalone: payment {fee.parent_event_id} is not in the ledger (alert raised)")
        row_result.object_id = instance.pk
        row_result.diff = self._cells(prepared[0], note="; ".join(["New", *notes]))

    def _cells(self, prepared=None, *, row_values=None, note: str) -> list[str]:
        if prepared is None:
            values = list((row_values or {}).values())
            first = next((str(v) for v in values if v not in (None, "")), "")
            return [first, "", "", "", "", "", "", "", note]
        entry = prepared.entry
        local = business_local(entry.occurred_at)
        return [
            entry.event_id,
            prepared.entity.name,
            entry.provider,
            entry.kind,
            format_money(entry.amount_cents, entry.currency),
            f"{local:%Y-%m-%d %H:%M %Z}",
            entry.customer_email or entry.customer_id or "",
            entry.reference,
            note,
        ]

    def after_import(self, dataset, result, **kwargs):
        """One audit entry per import; in the preview it is rolled back with everything else.
        The preview's counts and per-currency totals ride on the result, for the page."""
        result.ledger_preview = self.preview
        user = kwargs.get("user")
        invalid = len(result.invalid_rows)
        ledger_audit_record(
            action=LedgerAuditEntry.Action.IMPORT,
            actor=user,
            entity=self.default_entity,
            summary=(
                f"Imported {kwargs.get('file_name') or 'a file'} ({self.format_name}): "
                f"{self.inserted_count} new, {self.skipped_count} already in the ledger, "
                f"{invalid} rows with errors not imported"
            ),
            metadata={
                "file": kwargs.get("file_name") or "",
                "format": self.format_name,
                "via": "admin",
                "rows": result.total_rows,
                "inserted": self.inserted_count,
                "skipped_existing": self.skipped_count,
                "errors": invalid,
                "possible_duplicates": self.duplicate_count,
            },
        )


class GenericLedgerResource(LedgerImportResource):
    format_name = FORMAT_GENERIC
    display_name = FORMAT_TITLES[FORMAT_GENERIC]


class StripePaymentsResource(LedgerImportResource):
    format_name = FORMAT_STRIPE
    display_name = FORMAT_TITLES[FORMAT_STRIPE]


class GumroadSalesResource(LedgerImportResource):
    format_name = FORMAT_GUMROAD
    display_name = FORMAT_TITLES[FORMAT_GUMROAD]


class StripeItemizedBalanceResource(LedgerImportResource):
    format_name = FORMAT_STRIPE_ITEMIZED
    display_name = FORMAT_TITLES[FORMAT_STRIPE_ITEMIZED]


IMPORT_RESOURCES = [GenericLedgerResource, StripePaymentsResource, GumroadSalesResource, StripeItemizedBalanceResource]


# --- export -------------------------------------------------------------------------------


class LedgerExportResource(resources.ModelResource):
    """Exports in the generic ledger CSV columns, so an export can be imported again (and is skipped)."""

    event_id = fields.Field(attribute="event_id", column_name="event_id")
    provider = fields.Field(attribute="provider", column_name="provider")
    kind = fields.Field(attribute="kind", column_name="kind")
    amount = fields.Field(column_name="amount")
    currency = fields.Field(attribute="currency", column_name="currency")
    occurred_at = fields.Field(column_name="occurred_at")
    entity = fields.Field(column_name="entity")
    customer_email = fields.Field(attribute="customer_email", column_name="customer_email")
    customer_id = fields.Field(attribute="customer_id", column_name="customer_id")
    customer_name = fields.Field(column_name="customer_name")
    reference = fields.Field(attribute="reference", column_name="reference")
    description = fields.Field(attribute="description", column_name="description")
    parent_event_id = fields.Field(attribute="parent_event_id", column_name="parent_event_id")

    class Meta:
        model = RevenueEvent
        fields = tuple(GENERIC_COLUMNS)
        export_order = tuple(GENERIC_COLUMNS)

    @classmethod
    def get_display_name(cls) -> str:
        return "Generic ledger CSV"

    def dehydrate_amount(self, event: RevenueEvent) -> str:
        return str(from_minor_units(event.amount_cents, event.currency))

    def dehydrate_occurred_at(self, event: RevenueEvent) -> str:
        return event.occurred_at.isoformat()

    def dehydrate_entity(self, event: RevenueEvent) -> str:
        return event.entity.slug

    def dehydrate_customer_name(self, event: RevenueEvent) -> str:
        return str(event.metadata.get("customer_name", ""))

    def get_queryset(self):
        return RevenueEvent.objects.select_related("entity")

"""Import a large CSV into the ledger with bulk writes. Re-running it adds nothing."""

from __future__ import annotations

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from revenue.audit import ledger_audit_record
from revenue.backfill import (
    BATCH_SIZE,
    FORMATS,
    FileFormatError,
    ImportReport,
    RowPreparer,
    check_columns,
    count_csv_rows,
    csv_headers,
    iter_csv_rows,
)
from revenue.imports import ledger_rows_import
from revenue.models import Entity, LedgerAuditEntry

MAX_ERRORS_SHOWN = 50


class Command(BaseCommand):
    help = (
        "Import FILE (generic ledger CSV, Stripe payments export or Gumroad sales export) into the ledger. "
        "Rows already in the ledger are skipped; bad rows are reported by row and column and not imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=FORMATS, default="generic", dest="fmt")
        parser.add_argument("--entity", help="Entity slug for rows that do not name one (default: the default entity).")
        parser.add_argument("--user", help="Username recorded in the audit trail as the importer.")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
        parser.add_argument("--dry-run", action="store_true", help="Validate and count, then roll everything back.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (e.g. in logs).")

    def handle(self, *args, file: Path, fmt: str, entity, user, batch_size: int, dry_run: bool, no_progress: bool, **o):
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        default_entity = None
        if entity:
            default_entity = Entity.objects.filter(slug=entity).first()
            if default_entity is None:
                known = ", ".join(Entity.objects.values_list("slug", flat=True))
                raise CommandError(f"--entity '{entity}' is not a known entity (known: {known})")
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"--user '{user}' does not exist")
        try:
            check_columns(csv_headers(file), fmt)
        except FileFormatError as exc:
            raise CommandError(f"{file}: {exc}") from None

        report = ImportReport()
        preparer = RowPreparer(default_entity=default_entity)
        total = count_csv_rows(file)
        progress = tqdm(total=total, unit="row", desc=file.name, disable=no_progress, file=sys.stderr)

        def on_batch(report: ImportReport) -> bool:
            progress.update(report.rows - progress.n)
            return True

        try:
            with transaction.atomic():
                ledger_rows_import(
                    rows=iter_csv_rows(file),
                    fmt=fmt,
                    preparer=preparer,
                    report=report,
                    file_name=file.name,
                    batch_size=batch_size,
                    on_batch=on_batch,
                )
                ledger_audit_record(
                    action=LedgerAuditEntry.Action.IMPORT,
                    actor=actor,
                    summary=f"Imported {file.name} ({fmt}): {report.inserted} new, "
                    f"{report.skipped_existing} already in the ledger, {len(report.errors)} rows with errors",
                    metadata={"file": file.name, "format": fmt, "via": "import_revenue_csv", **report.as_dict()},
                )
                if dry_run:
                    transaction.set_rollback(True)
        finally:
            progress.close()
        self._print_report(report, dry_run=dry_run)
        if report.errors:
            raise CommandError(
                f"{len(report.errors)} row(s) had errors and were not imported (listed above); "
                "fix them and run the same file again: rows already imported are skipped."
            )

    def _print_report(self, report: ImportReport, *, dry_run: bool) -> None:
        for number, column, message in report.errors[:MAX_ERRORS_SHOWN]:
            self.stderr.write(f"row {number} (line {number + 1}), column '{column}': {message}")
        if len(report.errors) > MAX_ERRORS_SHOWN:
            self.stderr.write(f"... and {len(report.errors) - MAX_ERRORS_SHOWN} more row errors")
        for duplicate in report.duplicates[:MAX_ERRORS_SHOWN]:
            self.stdout.write(
                f"possible duplicate: {duplicate.event_id} ~ {duplicate.other_event_id} "
                f"({duplicate.customer_email}, {duplicate.amount_cents} {duplicate.currency}, {duplicate.business_day}); "
                "a duplicate alert was raised for review"
            )
        prefix = "DRY RUN (nothing written): " if dry_run else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{prefix}{report.rows} rows read: {report.inserted} ledger entries added, "
                f"{report.skipped_existing} already in the ledger (skipped), "
                f"{report.skipped_other} rows skipped (no money moved), {len(report.errors)} rows with errors, "
                f"{len(report.duplicates)} possible duplicates"
                + (f"; {report.payouts_sentence}" if report.payouts_sentence else "")
            )
        )

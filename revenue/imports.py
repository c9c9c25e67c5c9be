"""Large admin uploads, imported in the background: the job, its file, and the two batch loops.

A ledger CSV or bank statement above IMPORT_BACKGROUND_THRESHOLD_BYTES is stored in the
database in ~1 MiB chunks (`ImportJobChunk`: the web and worker services share PostgreSQL,
not a disk), then a worker streams it back and imports it batch by batch:

* ledger CSV: the backfill mappers, `RowPreparer` and `import_batch` (the same path as
  `manage.py import_revenue_csv`, through `ledger_rows_import`); rows with errors are
  reported by row and column and not imported, the others are;
* bank statement: the statement layouts of `reconciliation.bank_formats`; like the
  in-request import it is all or nothing, so a first pass checks every line and a
  second one writes the deposits.

Each batch commits on its own, so the progress page can show it and Cancel (honoured
between batches) keeps what is already booked; importing the same file again skips it.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date

import tablib
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from .audit import ledger_audit_record
from .backfill import (
    MAPPERS,
    FileFormatError,
    ImportReport,
    RowError,
    RowPreparer,
    check_columns,
    import_batch,
)
from .errors import ApplicationError
from .models import BankDeposit, Entity, ImportJob, ImportJobChunk, LedgerAuditEntry
from .reconciliation.bank_formats import (
    LAYOUTS,
    LINE_COLUMN,
    Layout,
    StatementError,
    _norm_header,
    assign_dedupe_keys,
    canonical_rows,
    ofx_rows,
)
from .reconciliation.services import statement_imported

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
MAX_ERRORS_KEPT = 500


# --- the shared ledger loop (also used by manage.py import_revenue_csv) ----------------------------


def ledger_rows_import(
    *,
    rows: Iterable[tuple[int, dict]],
    fmt: str,
    preparer: RowPreparer,
    report: ImportReport,
    file_name: str,
    batch_size: int,
    on_batch: Callable[[ImportReport], bool] | None = None,
) -> bool:
    """Map, prepare and insert `rows` (row number, row dict) in batches of `batch_size` rows read.

    After each batch `on_batch(report)` is called; when it returns False the import stops
    there. Returns True when every row was read. Errors are appended to `report.errors`.
    """
    mapper = MAPPERS[fmt]
    batch: list = []
    read_in_batch = 0
    for number, row in rows:
        report.rows += 1
        read_in_batch += 1
        try:
            mapped = mapper(row, file_name=file_name)
        except RowError as exc:
            report.errors.append((number, exc.column, exc.message))
        else:
            if mapped.skip_reason:
                report.skipped_other += 1
            else:
                batch.append((number, mapped))
        if read_in_batch >= batch_size:
            import_batch(batch=batch, preparer=preparer, report=report)
            batch, read_in_batch = [], 0
            if on_batch is not None and not on_batch(report):
                return False
    import_batch(batch=batch, preparer=preparer, report=report)
    if on_batch is not None:
        on_batch(report)
    return True


# --- creating, cancelling, reading ------------------------------------------------------------------


@transaction.atomic
def import_job_create(*, kind: str, upload: UploadedFile, options: dict, entity: Entity | None, user) -> ImportJob:
    """Store the upload in the database, chunk by chunk (never whole in memory), and queue the job after commit."""
    if kind not in ImportJob.Kind.values:
        raise ApplicationError(f"Unknown import kind '{kind}'", code="import_kind")
    if upload.size > settings.IMPORT_MAX_UPLOAD_BYTES:
        from .middleware import upload_limit_message

        raise ApplicationError(upload_limit_message(upload.size), code="upload_too_large")
    job = ImportJob.objects.create(
        kind=kind,
        file_name=(upload.name or "upload")[:255],
        file_size_bytes=upload.size,
        options=options,
        entity=entity,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        phase="Waiting for a worker",
    )
    for seq, data in enumerate(upload.chunks(CHUNK_BYTES)):
        ImportJobChunk.objects.create(job=job, seq=seq, data=data)
    transaction.on_commit(lambda: import_job_enqueue(job_id=job.pk))
    return job


def import_job_enqueue(*, job_id: int) -> None:
    """Hand the job to a worker; if the broker cannot take it, the job fails with a reason (nothing was booked)."""
    from .tasks import import_job_run_task  # tasks import this module

    try:
        import_job_run_task.delay(job_id)
    except Exception as exc:  # kombu/redis raise many kinds; the person needs a sentence either way
        logger.exception("could not queue import job %s", job_id)
        _finish(
            job_id,
            ImportJob.Status.FAILED,
            "The background worker could not be reached, so nothing was imported. "
            f"Try again in a minute; if it keeps failing, check the worker and Redis ({type(exc).__name__}).",
        )


@transaction.atomic
def import_job_cancel(*, job: ImportJob) -> ImportJob:
    """Ask the worker to stop after its current batch; a job still waiting is cancelled at once."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.finished:
        return job
    job.cancel_requested = True
    fields = ["cancel_requested"]
    if job.status == ImportJob.Status.QUEUED:
        job.status, job.finished_at = ImportJob.Status.CANCELLED, timezone.now()
        job.message = "Cancelled before it started: nothing was imported."
        fields += ["status", "finished_at", "message"]
    job.save(update_fields=fields)
    return job


def import_job_progress(job: ImportJob) -> dict:
    """What the progress page polls."""
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": job.get_status_display(),
        "phase": job.phase,
        "finished": job.finished,
        "percent": job.percent,
        "rows_done": job.rows_done,
        "total_rows": job.total_rows,
        "booked": job.booked,
        "skipped": job.skipped,
        "error_count": job.error_count,
        "errors": job.errors[:20],
        "message": job.message,
        "cancel_requested": job.cancel_requested,
    }


class _ChunkStream(io.RawIOBase):
    """The stored upload as a byte stream, one chunk in memory at a time."""

    def __init__(self, job_id: int):
        super().__init__()
        self.job_id, self.seq, self.buffer, self.pos = job_id, 0, b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        if self.pos >= len(self.buffer):
            data = (
                ImportJobChunk.objects.filter(job_id=self.job_id, seq=self.seq).values_list("data", flat=True).first()
            )
            if data is None:
                return 0
            self.buffer, self.pos, self.seq = bytes(data), 0, self.seq + 1
        size = min(len(target), len(self.buffer) - self.pos)
        target[:size] = self.buffer[self.pos : self.pos + size]
        self.pos += size
        return size


@contextmanager
def _text(job_id: int, *, encoding: str = "utf-8-sig", errors: str = "strict") -> Iterator[io.TextIOWrapper]:
    handle = io.TextIOWrapper(io.BufferedReader(_ChunkStream(job_id), 256 * 1024), encoding, errors, newline="")
    try:
        yield handle
    finally:
        handle.close()


def _file_bytes(job_id: int) -> bytes:
    """The whole file (OFX only: its parser needs it; the upload limit bounds it)."""
    return b"".join(
        bytes(data)
        for data in ImportJobChunk.objects.filter(job_id=job_id).order_by("seq").values_list("data", flat=True)
    )


# --- running ------------------------------------------------------------------------------------------


class _Cancelled(Exception):
    pass


class _Refused(Exception):
    """The file cannot be imported; the message says why and what to do."""


def _update(job: ImportJob, **fields) -> bool:
    """Save progress; True when someone asked to cancel."""
    for name, value in fields.items():
        setattr(job, name, value)
    ImportJob.objects.filter(pk=job.pk).update(**fields)
    return ImportJob.objects.filter(pk=job.pk, cancel_requested=True).exists()


def _finish(job_id: int, status: str, message: str, **fields) -> None:
    ImportJob.objects.filter(pk=job_id).update(
        status=status, message=message, finished_at=timezone.now(), phase="", **fields
    )


def _keep_errors(job: ImportJob, new: list[dict]) -> dict:
    room = MAX_ERRORS_KEPT - len(job.errors)
    return {"errors": job.errors + new[: max(room, 0)], "error_count": job.error_count + len(new)}


def import_job_run(*, job_id: int) -> ImportJob:
    """Run a queued job to the end, to a cancel, or to a failure with a reason. Safe to run again
    (a worker lost mid-way): rows already booked are skipped."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.finished:
            return job
        if job.cancel_requested:
            _finish(job.pk, ImportJob.Status.CANCELLED, "Cancelled before it started: nothing was imported.")
            return ImportJob.objects.get(pk=job_id)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.RUNNING,
            started_at=timezone.now(),
            rows_done=0,
            booked=0,
            skipped=0,
            error_count=0,
            errors=[],
            total_rows=None,
        )
    job.refresh_from_db()
    try:
        if job.kind == ImportJob.Kind.LEDGER:
            _run_ledger(job)
        else:
            _run_bank(job)
    except _Cancelled:
        _finish(
            job.pk,
            ImportJob.Status.CANCELLED,
            f"Cancelled after {job.rows_done} rows: {job.booked} added and kept. "
            "Import the same file again to finish it; rows already imported are skipped.",
        )
    except _Refused as exc:
        _finish(job.pk, ImportJob.Status.FAILED, str(exc))
    except Exception:
        logger.exception("import job %s failed", job.pk)
        _finish(
            job.pk,
            ImportJob.Status.FAILED,
            f"An unexpected error stopped the import after {job.rows_done} rows (it is logged for the developers). "
            f"{job.booked} rows added so far are kept; importing the same file again skips them.",
        )
    else:
        ImportJobChunk.objects.filter(job_id=job.pk).delete()  # the file is no longer needed
    return ImportJob.objects.get(pk=job_id)


def import_job_fail(*, job_id: int, message: str) -> None:
    """Mark a job failed from outside the run (e.g. the worker's time limit)."""
    _finish(job_id, ImportJob.Status.FAILED, message)


def _decode_refusal(exc: UnicodeDecodeError) -> _Refused:
    return _Refused(
        f"The file is not UTF-8 text (an undecodable byte near position {exc.start}). "
        "Save it as “CSV UTF-8” and import it again; nothing after that point was imported."
    )


def _csv_refusal(exc: csv.Error, line: int) -> _Refused:
    return _Refused(f"The file is not a readable CSV near line {line} ({exc}); fix that line and import it again.")


def _count_rows(job_id: int, *, encoding: str = "utf-8-sig", errors: str = "strict") -> tuple[list[str], int]:
    """The first row (header) and how many rows follow it."""
    with _text(job_id, encoding=encoding, errors=errors) as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, [])
            count = sum(1 for _ in reader)
        except csv.Error as exc:
            raise _csv_refusal(exc, reader.line_num) from None
    return header, count


def _run_ledger(job: ImportJob) -> None:
    fmt = job.options.get("format", "generic")
    _update(job, phase="Reading the file")
    try:
        header, total = _count_rows(job.pk)
    except UnicodeDecodeError as exc:
        raise _decode_refusal(exc) from None
    try:
        check_columns(header, fmt)
    except FileFormatError as exc:
        raise _Refused(f"{exc}. Nothing was imported.") from None
    _update(job, total_rows=total, phase="Importing")
    report = ImportReport()
    preparer = RowPreparer(default_entity=job.entity)
    duplicates = 0

    def on_batch(report: ImportReport) -> bool:
        nonlocal duplicates
        new_errors = [{"row": n, "column": column, "message": message} for n, column, message in report.errors]
        duplicates += len(report.duplicates)
        report.errors.clear()  # kept on the job (the first MAX_ERRORS_KEPT), not in memory
        report.duplicates.clear()
        cancel = _update(
            job,
            rows_done=report.rows,
            booked=report.inserted,
            skipped=report.skipped_existing + report.skipped_other,
            **_keep_errors(job, new_errors),
        )
        return not cancel

    with _text(job.pk) as handle:
        reader = csv.DictReader(handle)
        try:
            completed = ledger_rows_import(
                rows=enumerate(reader, 1),
                fmt=fmt,
                preparer=preparer,
                report=report,
                file_name=job.file_name,
                batch_size=settings.IMPORT_JOB_BATCH_ROWS,
                on_batch=on_batch,
            )
        except UnicodeDecodeError as exc:
            raise _decode_refusal(exc) from None
        except csv.Error as exc:
            raise _csv_refusal(exc, reader.line_num) from None
        finally:
            _ledger_audit(job, report, duplicates)
    if not completed:
        raise _Cancelled
    summary = (
        f"Import finished: {job.booked} ledger entries added, {report.skipped_existing} already in the ledger, "
        f"{report.skipped_other} rows with no money moved, {job.error_count} rows with errors NOT imported"
    )
    if duplicates:
        summary += f"; {duplicates} possible duplicate(s) raised a duplicate alert for review"
    if report.payouts_sentence:
        summary += f"; {report.payouts_sentence}"
    _finish(job.pk, ImportJob.Status.DONE, summary + ".")


def _ledger_audit(job: ImportJob, report: ImportReport, duplicates: int) -> None:
    if not report.rows:
        return
    ledger_audit_record(
        action=LedgerAuditEntry.Action.IMPORT,
        actor=job.created_by,
        entity=job.entity,
        summary=(
            f"Imported {job.file_name} ({job.options.get('format', 'generic')}, in the background): "
            f"{report.inserted} new, {report.skipped_existing} already in the ledger, "
            f"{job.error_count} rows with errors not imported"
        )[:255],
        metadata={
            "file": job.file_name,
            "format": job.options.get("format", "generic"),
            "via": "admin-background",
            "import_job": job.pk,
            "rows": report.rows,
            "inserted": report.inserted,
            "skipped_existing": report.skipped_existing,
            "errors": job.error_count,
            "possible_duplicates": duplicates,
        },
    )


# --- bank statements ---------------------------------------------------------------------------------


def _statement_batches(
    handle: io.TextIOWrapper, layout: Layout, *, mapping: dict | None, currency: str, batch_rows: int
) -> Iterator[list[dict]]:
    """Canonical statement rows, batch by batch, read as `read_table` + `canonical_rows` would read them."""
    reader = enumerate(csv.reader(handle), 1)
    if layout.has_header:
        # generic: the first non-empty row is the header (the mapping is checked against it)
        wanted = None if layout.key == "generic" else {_norm_header(c) for c in layout.mapping.values()}
        first: list[str] = []
        headers = None
        for _, row in reader:
            if not any(cell.strip() for cell in row):
                continue
            first = first or row
            if wanted is None or wanted <= {_norm_header(cell) for cell in row}:
                headers = [cell.strip() for cell in row]
                break
        if headers is None:
            if not first:
                raise StatementError("The file is empty")
            raise StatementError(
                f"No header row with the columns {', '.join(sorted(layout.mapping.values()))} "
                f"({layout.label}); the first row is: {', '.join(first)}"
            )
    else:
        headers = list(layout.headerless_columns)
    width = len(headers)
    dataset = tablib.Dataset(headers=[*headers, LINE_COLUMN], title=layout.key)
    for line, row in reader:
        if not any(cell.strip() for cell in row):
            continue
        cells = [cell.strip() for cell in row[:width]] + [""] * max(0, width - len(row))
        dataset.append([*cells, line])
        if len(dataset) >= batch_rows:
            yield canonical_rows(dataset, layout, mapping=mapping, currency=currency)
            dataset = tablib.Dataset(headers=[*headers, LINE_COLUMN], title=layout.key)
    yield canonical_rows(dataset, layout, mapping=mapping, currency=currency)  # also checks the mapping when empty


def _bank_source(job: ImportJob, encoding: str) -> Callable[[], Iterator[list[dict]]]:
    """A function giving the statement's canonical batches from the start, each time it is called."""
    layout_key = job.options.get("layout", "generic")
    mapping = job.options.get("mapping") or None
    currency = job.options.get("currency") or "USD"
    batch_rows = settings.IMPORT_JOB_BATCH_ROWS
    if layout_key == "ofx":
        rows = ofx_rows(_file_bytes(job.pk))

        def ofx_batches() -> Iterator[list[dict]]:
            for start in range(0, len(rows), batch_rows):
                yield rows[start : start + batch_rows]

        return ofx_batches
    if layout_key not in LAYOUTS:
        raise _Refused(f"Unknown statement format '{layout_key}'; use {', '.join(LAYOUTS)} or ofx.")
    layout = LAYOUTS[layout_key]

    def csv_batches() -> Iterator[list[dict]]:
        errors = "replace" if encoding == "cp1252" else "strict"
        with _text(job.pk, encoding=encoding, errors=errors) as handle:
            yield from _statement_batches(handle, layout, mapping=mapping, currency=currency, batch_rows=batch_rows)

    return csv_batches


def _run_bank(job: ImportJob) -> None:
    if job.entity is None:
        raise _Refused("Choose the entity whose bank account this statement is, then import it again.")
    _update(job, phase="Checking every line")
    encoding = "utf-8-sig"
    try:
        try:
            total, problems = _bank_check(_bank_source(job, encoding))
        except UnicodeDecodeError:  # as the in-request import does: not UTF-8, read it as Windows-1252
            encoding = "cp1252"
            total, problems = _bank_check(_bank_source(job, encoding))
    except StatementError as exc:
        raise _Refused(f"Statement not imported: {exc}") from None
    except csv.Error as exc:
        raise _Refused(f"Statement not imported: the file is not a readable CSV ({exc}).") from None
    if problems:
        _update(job, total_rows=total, **_keep_errors(job, problems))
        raise _Refused(
            f"Statement not imported: {len(problems)} line(s) have errors (listed below); nothing was imported. "
            "Fix them and import the file again."
        )
    _update(job, total_rows=total, rows_done=0, phase="Importing")
    counts: Counter = Counter()
    seen: Counter = Counter()
    for rows in _bank_source(job, encoding)():
        _dedupe_keys(rows, seen)
        _deposits_write(rows, job=job, counts=counts)
        if _update(
            job,
            rows_done=job.rows_done + len(rows),
            booked=counts["new"],
            skipped=counts["duplicates"] + counts["debits"],
        ):
            raise _Cancelled
    matched = statement_imported(
        entity=job.entity,
        user=job.created_by,
        statement_name=job.file_name,
        layout=job.options.get("layout", "generic"),
        counts=dict(counts),
    )
    _finish(
        job.pk,
        ImportJob.Status.DONE,
        f"Import finished: {counts['new']} new deposit(s), {counts['duplicates']} already imported, "
        f"{counts['debits']} debit line(s) skipped, {matched} matched automatically.",
    )


def _bank_check(batches: Callable[[], Iterator[list[dict]]]) -> tuple[int, list[dict]]:
    total, problems = 0, []
    for rows in batches():
        total += len(rows)
        problems.extend({"row": row["line"], "column": "", "message": row["error"]} for row in rows if row["error"])
    return total, problems


def _dedupe_keys(rows: list[dict], seen: Counter) -> None:
    """`assign_dedupe_keys` across batches: the n-th identical line is counted over the whole file."""
    for row in rows:
        assign_dedupe_keys([row])  # the line on its own: "ref:…", or "line:…:1"
        if not row["bank_reference"]:
            base = row["dedupe_key"].rsplit(":", 1)[0]
            seen[base] += 1
            row["dedupe_key"] = f"{base}:{seen[base]}"


@transaction.atomic
def _deposits_write(rows: list[dict], *, job: ImportJob, counts: Counter) -> None:
    """Credit lines become deposits; lines already imported (same dedupe key) and debits are counted and skipped."""
    existing = set(
        BankDeposit.objects.filter(entity=job.entity, dedupe_key__in=[r["dedupe_key"] for r in rows]).values_list(
            "dedupe_key", flat=True
        )
    )
    new: list[BankDeposit] = []
    for row in rows:
        if row["dedupe_key"] in existing:
            counts["duplicates"] += 1
            continue
        if int(row["amount_cents"]) <= 0:
            counts["debits"] += 1
            continue
        existing.add(row["dedupe_key"])
        new.append(
            BankDeposit(
                entity=job.entity,
                posted_on=date.fromisoformat(str(row["posted_on"])),
                amount_cents=int(row["amount_cents"]),
                currency=row["currency"],
                description=row["description"],
                bank_reference=row["bank_reference"],
                account=row["account"],
                dedupe_key=row["dedupe_key"],
                source_format=job.options.get("layout", "generic"),
                statement_name=job.file_name,
                statement_line=int(row["line"]),
                imported_by=job.created_by,
            )
        )
    BankDeposit.objects.bulk_create(new, ignore_conflicts=True)
    counts["new"] += len(new)

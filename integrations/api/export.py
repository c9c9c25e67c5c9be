"""Streaming export of ledger rows as CSV or JSON, in constant memory.

On PostgreSQL the database writes the final text and Python only relays bytes:
`COPY (<the filtered query>) TO STDOUT`, one line per row (CSV cells, or one JSON
object built in SQL), read straight from libpq and handed on in ~64 KiB chunks.
The SQL is written for speed (1,000,000 rows in a few seconds): no join (entity
slugs come from a CASE over the few entities), integer-to-decimal amounts by one
multiplication, formula guards on the first character's code, JSON text built by
concatenation with escaping only where text comes from outside.

Elsewhere (the SQLite zero-setup run) the same columns are formatted in Python from
a server-side iterator; tests hold the two to the same output.
"""

from __future__ import annotations

import csv
import io
import json
import selectors
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from psycopg import pq

from revenue.business_time import business_local, business_zone
from revenue.models import Entity, RevenueEvent
from revenue.money import ISO_4217_CODES, minor_unit_exponent
from revenue.selectors.buckets import KIND_BUCKET

COLUMNS = [
    "id",
    "event_id",
    "provider",
    "event_type",
    "kind",
    "entity",
    "amount",
    "amount_cents",
    "currency",
    "amount_usd_cents",
    "occurred_at_utc",
    "occurred_at_local",
    "business_date",
    "time_zone",
    "customer_email",
    "customer_id",
    "reference",
    "parent_event_id",
    "created_at_utc",
    "bucket",  # API 1.1: appended, so CSV readers by position keep working
]
# Text that comes from outside (providers, CSV files, people) is guarded against formula injection.
GUARDED = ("event_id", "event_type", "customer_email", "customer_id", "reference", "parent_event_id")
CHUNK_BYTES = 64 * 1024
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Python's csv module quotes a cell holding CR only when CR is part of the line terminator.
PYTHON_CSV_LINE_END = "\r\n"


def csv_safe(value: str | None) -> str:
    """Neutralise spreadsheet formulas (OWASP): prefix ' to cells starting with = + - @ TAB CR."""
    if not value:
        return "" if value is None else value
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def export_csv(queryset: QuerySet[RevenueEvent]) -> Iterator[bytes]:
    """CSV with a header row; `queryset` is revenue_events_list(...) (its filters are kept)."""
    postgresql = connection.vendor == "postgresql"
    header = io.StringIO()
    csv.writer(header, lineterminator="\n" if postgresql else PYTHON_CSV_LINE_END).writerow(COLUMNS)
    yield header.getvalue().encode()
    yield from _copy_out(_pg_csv_query(queryset), "(FORMAT csv)") if postgresql else _python_csv(queryset)


def export_json(queryset: QuerySet[RevenueEvent]) -> Iterator[bytes]:
    """A JSON array of objects with the CSV's columns: "[", then one object per line, then "]".

    Every line after the first starts with its separating comma (",{...}"), so the lines
    are written independently and only the stream's first byte is dropped.
    """
    if connection.vendor == "postgresql":
        lines = _unescape_copy_text(_copy_out(_pg_json_query(queryset), ""))
    else:
        lines = _python_json(queryset)
    yield b"[\n"
    first = True
    for chunk in lines:
        yield chunk[1:] if first else chunk
        first = False
    yield b"]\n"


# ---------------------------------------------------------------------------- PostgreSQL


_TABLE = RevenueEvent._meta.db_table
_UTC_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
_LOCAL_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'


def _col(name: str) -> str:
    return f"{_TABLE}.{name}"


def _literal(value: str) -> str:
    """A SQL string literal of one of this module's constants (never request input)."""
    return "'" + value.replace("'", "''") + "'"


def _text_array(values: Iterable[str]) -> str:
    return _literal("{" + ",".join(sorted(values)) + "}") + "::text[]"


def _guarded(name: str) -> str:
    """SQL twin of csv_safe: ascii() of the first character is one integer comparison per row."""
    codes = ", ".join(str(ord(trigger)) for trigger in FORMULA_TRIGGERS)
    column = _col(name)
    return f"CASE WHEN ascii({column}) IN ({codes}) THEN '''' || {column} ELSE {column} END"


def _amount() -> str:
    """amount_cents as a decimal string with the currency's minor-unit digits ('-25.00', '5000', '-0.234').

    bigint * 0.01 is numeric with scale 2, and so on: the same text as round(cents / 10^e, e).
    """
    by_exponent: dict[int, list[str]] = {}
    for code in ISO_4217_CODES:
        exponent = minor_unit_exponent(code)
        if exponent != 2:
            by_exponent.setdefault(exponent, []).append(code)
    cents, currency = _col("amount_cents"), _col("currency")

    def scaled(exponent: int) -> str:
        return f"{cents}::text" if exponent == 0 else f"({cents} * 0.{'0' * (exponent - 1)}1)::text"

    rare = " ".join(
        f"WHEN {currency} = ANY({_text_array(codes)}) THEN {scaled(exponent)}"
        for exponent, codes in sorted(by_exponent.items())
    )
    others = [code for codes in by_exponent.values() for code in codes]
    return f"CASE WHEN {currency} = ANY({_text_array(others)}) THEN CASE {rare} END ELSE {scaled(2)} END"


def _entity_slug(entities: list[tuple[int, str]], *, as_json: bool) -> tuple[str, list]:
    """The entity's slug without a join: a CASE over the entities (a handful), a lookup for any other."""
    render = json.dumps if as_json else str
    whens = " ".join(f"WHEN {int(pk)} THEN %s" for pk, _slug in entities)
    lookup = f"(SELECT slug FROM {Entity._meta.db_table} WHERE id = {_col('entity_id')})"  # noqa: S608 (constants)
    fallback = f"to_json({lookup})::text" if as_json else lookup
    sql = f"CASE {_col('entity_id')} {whens} ELSE {fallback} END" if entities else fallback
    return sql, [render(slug) for _pk, slug in entities]


def _text_expressions() -> dict[str, str]:
    """Per column (except entity and time_zone), SQL giving its text. Local times use the session zone."""
    expressions = {
        "id": f"{_col('id')}::text",
        "provider": _col("provider"),
        "kind": _col("kind"),
        "bucket": _bucket_sql(),
        "amount": _amount(),
        "amount_cents": f"{_col('amount_cents')}::text",
        "currency": _col("currency"),
        "amount_usd_cents": f"{_col('amount_usd_cents')}::text",
        "occurred_at_utc": f"to_char({_col('occurred_at')} AT TIME ZONE 'UTC', '{_UTC_FORMAT}')",
        "occurred_at_local": f"to_char({_col('occurred_at')}, '{_LOCAL_FORMAT}')",
        "business_date": f"{_col('occurred_at')}::date::text",
        "created_at_utc": f"to_char({_col('created_at')} AT TIME ZONE 'UTC', '{_UTC_FORMAT}')",
    }
    expressions.update({name: _guarded(name) for name in GUARDED})
    return expressions


def _bucket_sql() -> str:
    """The row's money bucket from its kind (the vocabulary of revenue.selectors.buckets)."""
    whens = " ".join(f"WHEN {_literal(kind)} THEN {_literal(bucket)}" for kind, bucket in sorted(KIND_BUCKET.items()))
    return f"CASE {_col('kind')} {whens} ELSE '' END"  # a kind outside the vocabulary has no bucket


def _entities() -> list[tuple[int, str]]:
    return list(Entity.objects.order_by("pk").values_list("pk", "slug"))


def _pg_csv_query(queryset: QuerySet[RevenueEvent]) -> QuerySet:
    """The rows as text columns in COLUMNS order (aliases prefixed: they may not shadow model fields)."""
    expressions = _text_expressions()
    entity_sql, entity_params = _entity_slug(_entities(), as_json=False)
    annotations = {}
    for name in COLUMNS:
        if name == "entity":
            annotations[f"x_{name}"] = RawSQL(entity_sql, entity_params)  # noqa: S611 (slugs are parameters)
        elif name == "time_zone":
            annotations[f"x_{name}"] = RawSQL("%s", [str(business_zone())])
        else:
            annotations[f"x_{name}"] = RawSQL(expressions[name], [])  # noqa: S611 (module constants only)
    rows = queryset.order_by().annotate(**annotations).order_by("occurred_at", "id")
    return rows.values_list(*annotations)


def _pg_json_query(queryset: QuerySet[RevenueEvent]) -> QuerySet:
    """One column: "," + the row as a JSON object, written by concatenation.

    Text from outside goes through to_json (escaping); provider, kind and currency take a
    pre-quoted literal when they are one of the known values (to_json for anything else);
    our own formatted values (uuid, numbers, times, dates) need no escaping.
    """
    expressions = _text_expressions()
    entity_sql, entity_params = _entity_slug(_entities(), as_json=True)

    def known(column: str, values: Iterable[str]) -> str:
        whens = " ".join(f"WHEN {_literal(value)} THEN {_literal(json.dumps(value))}" for value in sorted(values))
        return f"CASE {_col(column)} {whens} ELSE to_json({_col(column)})::text END"

    def guarded(name: str) -> str:
        escaped = f"to_json({expressions[name]})::text"
        return f"coalesce({escaped}, 'null')" if RevenueEvent._meta.get_field(name).null else escaped

    currency = _col("currency")
    values = {
        "entity": entity_sql,
        "provider": known("provider", RevenueEvent.Provider.values),
        "kind": known("kind", RevenueEvent.Kind.values),
        "currency": (
            f"CASE WHEN {currency} = ANY({_text_array(ISO_4217_CODES)}) THEN '\"' || {currency} || '\"' "
            f"ELSE to_json({currency})::text END"
        ),
        "amount_cents": expressions["amount_cents"],
        "amount_usd_cents": f"coalesce({expressions['amount_usd_cents']}, 'null')",
        **{name: guarded(name) for name in GUARDED},
    }
    pieces: list[str | tuple[str]] = []  # literal text, or (SQL,)
    for index, name in enumerate(COLUMNS):
        key = (",{" if index == 0 else ",") + json.dumps(name) + ":"
        if name == "time_zone":
            pieces.append(key + json.dumps(str(business_zone())))
        elif name in values:
            pieces += [key, (values[name],)]
        else:  # our own text (uuid, decimal, times, date): nothing to escape
            pieces += [key + '"', (expressions[name],), '"']
    pieces.append("}")
    merged: list[str | tuple[str]] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    parts = [_literal(piece) if isinstance(piece, str) else f"({piece[0]})" for piece in merged]
    annotated = queryset.order_by().annotate(x_json=RawSQL(_concat_tree(parts), entity_params))  # noqa: S611
    return annotated.order_by("occurred_at", "id").values_list("x_json", flat=True)


def _unescape_copy_text(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Undo COPY's text format on JSON lines: it doubles every backslash, and JSON text holds no
    other character COPY escapes (no raw control characters). Chunks end at row ends."""
    for chunk in chunks:
        yield chunk.replace(b"\\\\", b"\\") if b"\\" in chunk else chunk


def _concat_tree(parts: list[str]) -> str:
    """a || b || c ... as a balanced tree: each row's text is copied O(log n) times, not O(n)."""
    if len(parts) == 1:
        return parts[0]
    middle = len(parts) // 2
    return f"({_concat_tree(parts[:middle])} || {_concat_tree(parts[middle:])})"


def _copy_out(queryset: QuerySet, options: str) -> Iterator[bytes]:
    """COPY (queryset) TO STDOUT, relayed in chunks of about CHUNK_BYTES, in one transaction.

    The session time zone is the business zone for the transaction (local times, business
    dates). Rows are read with libpq's non-blocking PQgetCopyData in a tight loop (psycopg's
    documented `pq` layer): psycopg's Copy.read() costs a generator round trip per row,
    which is most of the Python time at a million rows.
    """
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('TimeZone', %s, true)", [str(business_zone())])
        raw = cursor.connection
        # COPY takes no bind parameters: psycopg's client-side binding quotes them into the text.
        statement = f"COPY ({psycopg.ClientCursor(raw).mogrify(sql, params)}) TO STDOUT {options}"
        with raw.cursor() as copy_cursor, copy_cursor.copy(statement) as copy:
            yield from _copy_chunks(copy, raw.pgconn)
        cursor.execute("SELECT set_config('TimeZone', 'UTC', true)")


def _copy_chunks(copy: psycopg.Copy, pgconn: pq.abc.PGconn) -> Iterator[bytes]:
    """The COPY's rows joined into chunks; raises the server's error if the COPY failed."""
    buffer: list[memoryview] = []
    size = 0
    with selectors.DefaultSelector() as readable:
        readable.register(pgconn.socket, selectors.EVENT_READ)
        while True:
            nbytes, data = pgconn.get_copy_data(1)
            if nbytes > 0:
                buffer.append(data)
                size += nbytes
                if size >= CHUNK_BYTES:
                    yield b"".join(buffer)
                    buffer, size = [], 0
            elif nbytes == 0:  # no whole row in libpq's buffer: wait for the socket
                readable.select(timeout=1.0)
                pgconn.consume_input()
            else:  # the data is over: the command's result says whether it succeeded
                break
    if buffer:
        yield b"".join(buffer)
    failed = None
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK and failed is None:
            failed = psycopg.errors.error_from_result(result, encoding=copy.connection.info.encoding)
    if failed is not None:
        raise failed


# ---------------------------------------------------------------------------- elsewhere (SQLite)


def _decimal_text(cents: int, currency: str) -> str:
    code = (currency or "").upper()
    exponent = minor_unit_exponent(code) if code in ISO_4217_CODES else 2
    return str(Decimal(cents).scaleb(-exponent))


def _utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _python_rows(queryset: QuerySet[RevenueEvent]) -> Iterator[list]:
    zone = business_zone()
    slugs = dict(_entities())
    fields = [field for field in RevenueEvent._meta.concrete_fields if field.name != "metadata"]
    rows = queryset.order_by("occurred_at", "id").only(*[field.name for field in fields])
    for event in rows.iterator(chunk_size=2000):
        local = business_local(event.occurred_at, zone)
        values = {
            "id": str(event.id),
            "provider": event.provider,
            "kind": event.kind,
            "bucket": KIND_BUCKET.get(event.kind, ""),
            "entity": slugs.get(event.entity_id) or Entity.objects.get(pk=event.entity_id).slug,
            "amount": _decimal_text(event.amount_cents, event.currency),
            "amount_cents": event.amount_cents,
            "currency": event.currency,
            "amount_usd_cents": event.amount_usd_cents,
            "occurred_at_utc": _utc_text(event.occurred_at),
            "occurred_at_local": local.isoformat(timespec="microseconds"),
            "business_date": local.date().isoformat(),
            "time_zone": str(zone),
            "created_at_utc": _utc_text(event.created_at),
        }
        for name in GUARDED:
            value = getattr(event, name)
            values[name] = None if value is None else csv_safe(value)
        yield [values[name] for name in COLUMNS]


def _python_csv(queryset: QuerySet[RevenueEvent]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=PYTHON_CSV_LINE_END)
    for row in _python_rows(queryset):
        writer.writerow(row)
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def _python_json(queryset: QuerySet[RevenueEvent]) -> Iterator[bytes]:
    lines: list[str] = []
    size = 0
    for row in _python_rows(queryset):
        line = json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False, separators=(",", ":"))
        lines.append("," + line + "\n")
        size += len(line) + 2
        if size >= CHUNK_BYTES:
            yield "".join(lines).encode()
            lines, size = [], 0
    if lines:
        yield "".join(lines).encode()

"""Streaming export of ledger rows as CSV or JSON, in constant memory.

Each row is formatted by PostgreSQL (text in the business time zone, amounts as
decimal strings, formula-guarded cells), so Python only moves bytes:
- CSV: `COPY (<the filtered query>) TO STDOUT (FORMAT csv)`, relayed chunk by chunk;
- JSON: one json_build_object per row read through a server-side cursor
  (QuerySet.iterator inside a transaction, so nothing is materialised).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Func, QuerySet, TextField, Value
from django.db.models.expressions import RawSQL

from revenue.business_time import business_zone
from revenue.money import ISO_4217_CODES, minor_unit_exponent

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
]
# Text that comes from outside (providers, CSV files, people) is guarded against formula injection.
GUARDED = {"event_id", "event_type", "customer_email", "customer_id", "reference", "parent_event_id"}
CHUNK_BYTES = 64 * 1024
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str | None) -> str:
    """Neutralise spreadsheet formulas (OWASP): prefix ' to cells starting with = + - @ TAB CR."""
    if not value:
        return "" if value is None else value
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


class CsvSafe(Func):
    """SQL twin of csv_safe."""

    template = (
        "CASE WHEN left(%(expressions)s, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
        "THEN '''' || %(expressions)s ELSE %(expressions)s END"
    )
    output_field = TextField()


class JsonText(Func):
    """json_build_object(...) as text: the driver hands back the string, not a parsed dict."""

    function = "json_build_object"
    template = "%(function)s(%(expressions)s)::text"
    output_field = TextField()


def _exponent_case() -> str:
    other = sorted((code, minor_unit_exponent(code)) for code in ISO_4217_CODES if minor_unit_exponent(code) != 2)
    whens = " ".join(f"WHEN '{code}' THEN {exponent}" for code, exponent in other)
    return f"(CASE revenue_events.currency {whens} ELSE 2 END)"


def _sql(expression: str, params: tuple = ()) -> RawSQL:
    """A SQL expression built from this module's constants only: no request input reaches it."""
    return RawSQL(expression, list(params))  # noqa: S611


_UTC_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def export_queryset(queryset: QuerySet) -> QuerySet:
    """The rows as text columns in COLUMNS order (aliases prefixed: they may not shadow model fields).

    The local time uses the session time zone, which `_business_session` sets for the transaction.
    """
    exponent = _exponent_case()
    text = {
        "id": _sql("revenue_events.id::text"),
        "event_id": CsvSafe(F("event_id")),
        "provider": F("provider"),
        "event_type": CsvSafe(F("event_type")),
        "kind": F("kind"),
        "entity": F("entity__slug"),
        "amount": _sql(
            f"round(revenue_events.amount_cents::numeric / power(10::numeric, {exponent}), {exponent})::text"
        ),
        "amount_cents": F("amount_cents"),
        "currency": F("currency"),
        "amount_usd_cents": F("amount_usd_cents"),
        "occurred_at_utc": _sql(f"to_char(revenue_events.occurred_at AT TIME ZONE 'UTC', '{_UTC_FORMAT}')"),
        "occurred_at_local": _sql("""to_char(revenue_events.occurred_at, 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM')"""),
        "business_date": _sql("(revenue_events.occurred_at AT TIME ZONE %s)::date::text", (str(business_zone()),)),
        "time_zone": Value(str(business_zone()), output_field=TextField()),
        "customer_email": CsvSafe(F("customer_email")),
        "customer_id": CsvSafe(F("customer_id")),
        "reference": CsvSafe(F("reference")),
        "parent_event_id": CsvSafe(F("parent_event_id")),
        "created_at_utc": _sql(f"to_char(revenue_events.created_at AT TIME ZONE 'UTC', '{_UTC_FORMAT}')"),
    }
    annotated = queryset.order_by().annotate(**{f"x_{name}": expression for name, expression in text.items()})
    return annotated.order_by("occurred_at", "id").values_list(*[f"x_{name}" for name in COLUMNS])


def _business_session(cursor) -> None:
    cursor.execute("SELECT set_config('TimeZone', %s, true)", [str(business_zone())])


def _utc_session(cursor) -> None:
    cursor.execute("SELECT set_config('TimeZone', 'UTC', true)")


def export_csv(queryset: QuerySet) -> Iterator[bytes]:
    """CSV with a header row, streamed by PostgreSQL's COPY."""
    header = io.StringIO()
    csv.writer(header).writerow(COLUMNS)
    yield header.getvalue().encode()
    sql, params = export_queryset(queryset).query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        _business_session(cursor)
        raw = cursor.connection
        # COPY takes no bind parameters: psycopg's client-side binding quotes them into the text.
        statement = psycopg.ClientCursor(raw).mogrify(sql, params)
        with raw.cursor() as copy_cursor, copy_cursor.copy(f"COPY ({statement}) TO STDOUT (FORMAT csv)") as copy:
            # COPY hands over about one row per message: relay ~64 KiB at a time.
            buffer, size = [], 0
            for data in copy:
                buffer.append(data)
                size += len(data)
                if size >= CHUNK_BYTES:
                    yield b"".join(buffer)
                    buffer, size = [], 0
            if buffer:
                yield b"".join(buffer)
        _utc_session(cursor)


def export_json(queryset: QuerySet, *, rows_per_chunk: int = 1000) -> Iterator[bytes]:
    """A JSON array of objects with the CSV's columns, element by element."""
    rows = export_queryset(queryset)
    pairs = []
    for name in COLUMNS:
        pairs += [Value(name), F(f"x_{name}")]
    objects = rows.annotate(x_json=JsonText(*pairs)).values_list("x_json", flat=True).order_by("occurred_at", "id")
    yield b"["
    buffer: list[str] = []
    separator = "\n"
    with transaction.atomic(), connection.cursor() as cursor:
        _business_session(cursor)
        for text in objects.iterator(chunk_size=settings.ATLAS_EXPORT_CHUNK_ROWS):
            buffer.append(separator)
            buffer.append(text)
            separator = ",\n"
            if len(buffer) >= rows_per_chunk:
                yield "".join(buffer).encode()
                buffer.clear()
        _utc_session(cursor)
    buffer.append("\n]\n")
    yield "".join(buffer).encode()

"""Streaming export of ledger rows as CSV or JSON, in constant memory.

Rows come from a server-side cursor (QuerySet.iterator inside a transaction,
so PostgreSQL streams instead of materialising a WITH HOLD cursor) and are
written out chunk by chunk.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from revenue.business_time import business_zone
from revenue.money import minor_unit_exponent

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
_FIELDS = [
    "id",
    "event_id",
    "provider",
    "event_type",
    "kind",
    "entity__slug",
    "amount_cents",
    "currency",
    "amount_usd_cents",
    "occurred_at",
    "customer_email",
    "customer_id",
    "reference",
    "parent_event_id",
    "created_at",
]
# Columns whose text comes from outside (providers, CSV files, people): guarded against formula injection.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str | None) -> str:
    """Neutralise spreadsheet formulas (OWASP): prefix a quote to cells starting with = + - @ TAB CR."""
    if not value:
        return "" if value is None else value
    return "'" + value if value.startswith(_FORMULA_TRIGGERS) else value


def _amount_text(amount_cents: int, exponent: int) -> str:
    if exponent == 0:
        return str(amount_cents)
    sign = "-" if amount_cents < 0 else ""
    whole, fraction = divmod(abs(amount_cents), 10**exponent)
    return f"{sign}{whole}.{fraction:0{exponent}d}"


def export_rows(queryset: QuerySet) -> Iterator[dict]:
    """Rows as dicts of text/ints, read through a server-side cursor."""
    zone = business_zone()
    zone_name = str(zone)
    exponents: dict[str, int] = {}
    rows = queryset.order_by("occurred_at", "id").values_list(*_FIELDS)
    with transaction.atomic():
        for (pk, event_id, provider, event_type, kind, entity, amount_cents, currency, usd_cents, occurred_at,
             email, customer_id, reference, parent, created_at) in rows.iterator(chunk_size=settings.ATLAS_EXPORT_CHUNK_ROWS):  # fmt: skip
            exponent = exponents.get(currency)
            if exponent is None:
                exponent = exponents[currency] = minor_unit_exponent(currency)
            local = occurred_at.astimezone(zone)
            yield {
                "id": str(pk),
                "event_id": event_id,
                "provider": provider,
                "event_type": event_type,
                "kind": kind,
                "entity": entity,
                "amount": _amount_text(amount_cents, exponent),
                "amount_cents": amount_cents,
                "currency": currency,
                "amount_usd_cents": usd_cents,
                "occurred_at_utc": occurred_at.astimezone(UTC).isoformat(),
                "occurred_at_local": local.isoformat(),
                "business_date": local.date().isoformat(),
                "time_zone": zone_name,
                "customer_email": email,
                "customer_id": customer_id,
                "reference": reference,
                "parent_event_id": parent,
                "created_at_utc": created_at.astimezone(UTC).isoformat(),
            }


class _Line:
    """csv.writer target that hands back what was just written."""

    def write(self, value: str) -> str:
        return value


_GUARDED = ("event_id", "event_type", "customer_email", "customer_id", "reference", "parent_event_id")


def export_csv(queryset: QuerySet, *, rows_per_chunk: int = 500) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    buffer: list[str] = []
    for row in export_rows(queryset):
        for column in _GUARDED:
            row[column] = csv_safe(row[column])
        buffer.append(writer.writerow([row[column] for column in COLUMNS]))
        if len(buffer) >= rows_per_chunk:
            yield "".join(buffer)
            buffer.clear()
    if buffer:
        yield "".join(buffer)


def export_json(queryset: QuerySet, *, rows_per_chunk: int = 500) -> Iterator[str]:
    """A JSON array, written element by element."""
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    yield "["
    buffer: list[str] = []
    first = True
    for row in export_rows(queryset):
        buffer.append(("" if first else ",") + "\n" + encode(row))
        first = False
        if len(buffer) >= rows_per_chunk:
            yield "".join(buffer)
            buffer.clear()
    buffer.append("\n]\n")
    yield "".join(buffer)

# ruff: noqa: F811  (pytest fixtures imported from api_fixtures are used as arguments)
"""GET /api/v1/revenue/export: streamed CSV / JSON, formula-safe, time zone named."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import psycopg
import pytest
from django.db import connection
from django.db.models.expressions import RawSQL
from django.http import StreamingHttpResponse

from integrations.api import export
from integrations.api.export import csv_safe
from revenue.models import RevenueEvent
from revenue.selectors import revenue_events_list
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

from .api_fixtures import LEDGER, api, ledger, read_key  # noqa: F401

pytestmark = pytest.mark.django_db

IN_ORDER = [name for name, *_ in sorted(LEDGER, key=lambda row: row[1])]


def streamed(response) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()


def test_csv_export(api, ledger):
    response = api.get("/api/v1/revenue/export", {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["X-Business-Time-Zone"] == "America/Chicago"
    rows = list(csv.DictReader(io.StringIO(streamed(response))))
    assert [row["event_id"].removeprefix("ledger:") for row in rows] == IN_ORDER
    by_name = {row["event_id"].removeprefix("ledger:"): row for row in rows}
    e5 = by_name["E5"]  # 01:30 CST, the second 01:30 of the fall-back night
    assert (e5["amount"], e5["amount_cents"], e5["currency"]) == ("-0.234", "-234", "KWD")
    assert e5["occurred_at_utc"] == "2026-11-01T07:30:00.000000Z"
    assert e5["occurred_at_local"] == "2026-11-01T01:30:00.000000-06:00"
    assert by_name["E4"]["occurred_at_local"] == "2026-11-01T01:30:00.000000-05:00"
    assert e5["business_date"] == "2026-11-01" and e5["time_zone"] == "America/Chicago"
    assert by_name["E2"]["business_date"] == "2026-10-31"  # Nov 1 in UTC, Oct 31 in Chicago
    assert by_name["E3"]["amount"] == "5000" and by_name["E6"]["amount"] == "-25.00"
    assert sum(int(row["amount_cents"]) for row in rows if row["currency"] == "USD") == 139199


def test_export_filters_and_default_format(api, ledger):
    response = api.get("/api/v1/revenue/export", {"currency": "JPY"})
    rows = list(csv.DictReader(io.StringIO(streamed(response))))
    assert [row["event_id"] for row in rows] == ["ledger:E11", "ledger:E3"]


def test_json_export(api, ledger):
    response = api.get("/api/v1/revenue/export", {"format": "json", "kind": "refund"})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    rows = json.loads(streamed(response))
    assert [row["event_id"] for row in rows] == ["ledger:E5", "ledger:E6", "ledger:E11"]
    assert rows[0]["amount_cents"] == -234 and rows[0]["amount"] == "-0.234"
    assert rows[0]["time_zone"] == "America/Chicago" and rows[0]["occurred_at_local"].endswith("-06:00")
    assert rows[2]["amount"] == "-1500" and rows[2]["amount_usd_cents"] is None
    empty = api.get("/api/v1/revenue/export", {"format": "json", "currency": "EUR"})
    assert json.loads(streamed(empty)) == []


def test_csv_cells_are_guarded_against_formula_injection(api, entities):
    hostile = {
        "event_id": '=HYPERLINK("http://evil")',
        "customer_id": "+1-555-0100",
        "reference": "-2+3",
        "customer_email": "@sum(a1)",
        "parent_event_id": "\tcmd",
    }
    revenue_event_record(
        entry=ledger_entry(
            event_id=hostile["event_id"],
            customer_id=hostile["customer_id"],
            reference=hostile["reference"],
            customer_email=hostile["customer_email"],
            parent_event_id=hostile["parent_event_id"],
            event_type="\rsale",
            occurred_at=datetime(2026, 11, 1, 12, tzinfo=UTC),
            amount_cents=0,
        )
    )
    revenue_event_record(entry=ledger_entry(kind="refund", amount_cents=-500, customer_id="plain"))
    rows = list(csv.DictReader(io.StringIO(streamed(api.get("/api/v1/revenue/export")))))
    row = next(r for r in rows if r["event_id"].startswith("'="))
    for column, value in hostile.items():
        assert row[column] == "'" + value, column
    assert row["event_type"] == "'\rsale"
    refund = next(r for r in rows if r["customer_id"] == "plain")
    assert refund["amount"] == "-5.00" and refund["amount_cents"] == "-500"  # our own numbers stay numbers


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@a", "\t1", "\r1"])
def test_csv_safe(value):
    assert csv_safe(value) == "'" + value
    assert csv_safe("ok" + value) == "ok" + value
    assert csv_safe(None) == "" and csv_safe("") == ""


def test_export_bad_format_is_a_json_400(api):
    response = api.get("/api/v1/revenue/export", {"format": "xlsx"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "format" in response.json()["errors"]


def test_export_is_one_copy_relayed_in_chunks(api, ledger, monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(export, "CHUNK_BYTES", 1)  # every row becomes its own chunk
    api.get("/api/v1/revenue/totals")  # marks the key used, so the export does not write
    # The key lookup, the entity slugs, a savepoint, the session time zone set and reset, the release;
    # the COPY itself runs on the raw connection, whatever the number of rows.
    with django_assert_max_num_queries(6):
        csv_chunks = list(api.get("/api/v1/revenue/export").streaming_content)
    with django_assert_max_num_queries(6):
        json_chunks = list(api.get("/api/v1/revenue/export", {"format": "json"}).streaming_content)
    assert len(csv_chunks) == 1 + len(LEDGER)  # the header, then one chunk per row
    assert len(json_chunks) == 2 + len(LEDGER)  # "[", the rows, "]"
    assert json_chunks[1].startswith(b"{") and all(chunk.startswith(b",{") for chunk in json_chunks[2:-1])


HOSTILE = [
    '=HYPERLINK("http://evil")',
    'say "hi"',
    "back\\slash \\u0041",
    "tab\tinside",
    "new\nline",
    "\rcr first",
    "bell\x07 and \x1f",
    "é ünicode ✓ 💸",
    "quote'single, comma",
    "-1",
]


@pytest.fixture
def varied_ledger(entities, settings):
    """Rows that stress the SQL formatting: hostile text, every minor-unit class, edge instants
    (the edges of the database's CHECK; the service's window is widened to reach them)."""
    settings.LEDGER_EARLIEST_DATE = date(1970, 1, 1)
    settings.LEDGER_FUTURE_LEEWAY_HOURS = 24 * 366 * 200
    aplus = entities["aplus-enterprise"]
    instants = [
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC),  # 01:30 CDT
        datetime(2026, 11, 1, 7, 30, tzinfo=UTC),  # 01:30 CST
        datetime(2026, 3, 8, 8, 0, 0, 10, tzinfo=UTC),  # spring forward; trailing zeros in the microseconds
        datetime(2026, 6, 1, 0, 0, 0, 123450, tzinfo=UTC),
        datetime(1970, 1, 2, tzinfo=UTC),
        datetime(2199, 12, 30, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    amounts = [("USD", 0), ("USD", -1), ("JPY", 123456789), ("KWD", -1), ("CLF", 12345), ("BHD", 10**15), ("EUR", 5)]
    for n, text in enumerate(HOSTILE):
        currency, amount = amounts[n % len(amounts)]
        revenue_event_record(
            entry=ledger_entry(
                event_id=f"{text}#{n}",
                event_type=text,
                kind="adjustment",
                amount_cents=amount,
                currency=currency,
                occurred_at=instants[n % len(instants)],
                customer_email=None if n % 3 == 0 else text,
                customer_id=text if n % 2 else None,
                reference=text,
                parent_event_id=text,
            )
        )
    # Values no service writes, straight into the table: unknown provider, kind and currency.
    RevenueEvent.objects.bulk_create(
        [
            RevenueEvent(
                event_id="raw:odd",
                provider='we"ird',
                event_type="x",
                kind="odd\\kind",
                amount_cents=-123,
                currency='X"Z',
                amount_usd_cents=-7,
                entity=aplus,
                occurred_at=instants[0],
            )
        ]
    )


def test_postgresql_export_equals_the_python_formatter(api, varied_ledger, ledger, monkeypatch):
    """The SQL-built CSV and JSON read back exactly like the Python twin used off PostgreSQL."""

    def both(params: dict) -> tuple[str, str]:
        produced = streamed(api.get("/api/v1/revenue/export", params))
        with monkeypatch.context() as patch:
            patch.setattr(connection, "vendor", "sqlite")  # the fallback path, run against the same rows
            fallback = streamed(api.get("/api/v1/revenue/export", params))
        return produced, fallback

    for params in ({}, {"currency": "USD"}, {"kind": "adjustment"}):
        produced, fallback = both({**params, "format": "csv"})
        rows = list(csv.reader(io.StringIO(produced, newline="")))
        assert rows == list(csv.reader(io.StringIO(fallback, newline="")))
        assert len(rows) > 1 and rows[0] == export.COLUMNS
        produced, fallback = both({**params, "format": "json"})
        assert json.loads(produced) == json.loads(fallback)
    rows = json.loads(both({"format": "json"})[0])
    odd = next(row for row in rows if row["event_id"] == "raw:odd")
    assert (odd["provider"], odd["kind"], odd["currency"], odd["amount"]) == ('we"ird', "odd\\kind", 'X"Z', "-1.23")
    assert {row["event_type"] for row in rows} >= {export.csv_safe(text) for text in HOSTILE}
    formatted = {(row["currency"], row["amount"]) for row in rows if "#" in row["event_id"]}
    assert formatted == {
        ("USD", "0.00"),
        ("USD", "-0.01"),
        ("JPY", "123456789"),
        ("KWD", "-0.001"),
        ("CLF", "1.2345"),
        ("BHD", "1000000000000.000"),
        ("EUR", "0.05"),
    }


def test_a_copy_that_fails_midway_raises_and_leaves_the_connection_usable(ledger, monkeypatch):
    monkeypatch.setattr(export, "CHUNK_BYTES", 1)
    # E10 (99,999 cents) makes the division fail: COPY stops with an error, not with a short file.
    failing = (
        RevenueEvent.objects.annotate(x=RawSQL("(1 / (amount_cents - 99999))::text", []))
        .order_by("occurred_at", "id")
        .values_list("x")
    )
    monkeypatch.setattr(export, "_pg_csv_query", lambda queryset: failing)
    chunks = []
    with pytest.raises(psycopg.errors.DivisionByZero):
        for chunk in export.export_csv(revenue_events_list()):
            chunks.append(chunk)
    assert chunks[0].startswith(b"id,event_id,") and len(chunks) < 1 + len(LEDGER)
    assert RevenueEvent.objects.count() == len(LEDGER)


def test_closing_the_stream_early_stops_the_copy(ledger, monkeypatch):
    monkeypatch.setattr(export, "CHUNK_BYTES", 1)
    stream = export.export_json(revenue_events_list())
    assert next(stream) == b"[\n" and next(stream).startswith(b"{")
    stream.close()  # the client went away
    assert RevenueEvent.objects.count() == len(LEDGER)
    assert json.loads(b"".join(export.export_json(revenue_events_list()))) != []

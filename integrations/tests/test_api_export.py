# ruff: noqa: F811  (pytest fixtures imported from api_fixtures are used as arguments)
"""GET /api/v1/revenue/export: streamed CSV / JSON, formula-safe, time zone named."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from django.http import StreamingHttpResponse

from integrations.api.export import csv_safe
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


def test_export_reads_through_a_server_side_cursor(api, ledger, django_assert_max_num_queries, settings):
    settings.ATLAS_EXPORT_CHUNK_ROWS = 2
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        rows = json.loads(streamed(api.get("/api/v1/revenue/export", {"format": "json"})))
    assert len(rows) == len(LEDGER)
    # Django declares a named cursor for QuerySet.iterator() on PostgreSQL: one SELECT, fetched in chunks of 2.
    selects = [q["sql"] for q in captured.captured_queries if 'FROM "revenue_events"' in q["sql"]]
    assert len(selects) == 1

# ruff: noqa: F811  (pytest fixtures imported from api_fixtures are used as arguments)
"""GET /api/v1/revenue/events: keyset cursor on (occurred_at, id), filters, bounded queries, no COUNT."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

from .api_fixtures import LEDGER, NOW, api, ledger, read_key  # noqa: F401

pytestmark = pytest.mark.django_db

IN_ORDER = [name for name, *_ in sorted(LEDGER, key=lambda row: row[1])]


def names(results):
    return [row["event_id"].removeprefix("ledger:") for row in results]


def walk(api, params):
    """Follow next_cursor to the end; return every row and the number of pages."""
    rows, pages, cursor = [], 0, None
    while True:
        response = api.get("/api/v1/revenue/events", {**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.content
        body = response.json()
        rows += body["results"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            assert body["next"] is None
            return rows, pages
        assert f"cursor={cursor}" in body["next"]


def test_cursor_walk_returns_every_row_once_in_order(api, ledger):
    rows, pages = walk(api, {"limit": 3})
    assert names(rows) == IN_ORDER
    assert pages == 4  # 11 rows: 3 + 3 + 3 + 2


def test_ties_on_occurred_at_are_broken_by_id(api, entities):
    same_instant = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    created = [
        revenue_event_record(entry=ledger_entry(occurred_at=same_instant, amount_cents=100 + n)).event for n in range(7)
    ]
    rows, pages = walk(api, {"limit": 2})
    assert [row["id"] for row in rows] == sorted(str(event.id) for event in created)
    assert pages == 4


def test_event_fields(api, ledger):
    body = api.get("/api/v1/revenue/events", {"currency": "KWD"}).json()
    assert names(body["results"]) == ["E4", "E5"]
    refund = body["results"][1]
    assert refund["amount_cents"] == -234 and refund["amount"] == "-0.234" and refund["kind"] == "refund"
    assert refund["occurred_at"] == "2026-11-01T07:30:00Z"
    assert refund["business_date"] == "2026-11-01" and refund["entity"] == "aplus-enterprise"
    jpy = api.get("/api/v1/revenue/events", {"currency": "jpy"}).json()["results"]
    assert [row["amount"] for row in jpy] == ["-1500", "5000"]  # E11, then E3


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"provider": "gumroad"}, ["E7", "E11", "E3"]),
        ({"entity": "legacy-unchained"}, ["E7", "E11", "E3"]),
        ({"kind": "refund"}, ["E5", "E6", "E11"]),
        ({"currency": "USD", "kind": "payment"}, ["E8", "E7", "E2", "E1", "E10"]),
        # occurred_at range is half-open: the fall-back business day, [05:00Z Nov 1, 06:00Z Nov 2)
        (
            {"occurred_from": "2026-11-01T05:00:00Z", "occurred_to": "2026-11-02T06:00:00Z"},
            ["E1", "E4", "E5", "E6", "E9", "E11", "E3"],
        ),
        ({"occurred_from": "2026-11-01T00:30:00-05:00", "occurred_to": "2026-11-01T00:30:01-05:00"}, ["E1"]),
    ],
)
def test_filters(api, ledger, params, expected):
    rows, _ = walk(api, {**params, "limit": 2})
    assert names(rows) == expected


def test_updated_since_uses_the_time_the_row_was_written(api, entities):
    with time_machine.travel(datetime(2026, 11, 1, 10, 0, tzinfo=UTC), tick=False):
        early = revenue_event_record(entry=ledger_entry(occurred_at=datetime(2026, 10, 1, tzinfo=UTC))).event
    with time_machine.travel(datetime(2026, 11, 2, 10, 0, tzinfo=UTC), tick=False):
        late = revenue_event_record(entry=ledger_entry(occurred_at=datetime(2026, 9, 1, tzinfo=UTC))).event
    body = api.get("/api/v1/revenue/events", {"updated_since": "2026-11-02T00:00:00Z"}).json()
    assert [row["id"] for row in body["results"]] == [str(late.id)]
    body = api.get("/api/v1/revenue/events", {"updated_since": "2026-11-01T00:00:00Z"}).json()
    assert [row["id"] for row in body["results"]] == [str(late.id), str(early.id)]  # occurred_at order


def test_page_queries_are_bounded_and_never_count(api, ledger, django_assert_max_num_queries):
    first = api.get("/api/v1/revenue/events", {"limit": 2}).json()
    with django_assert_max_num_queries(3), CaptureQueriesContext(connection) as captured:
        response = api.get(
            "/api/v1/revenue/events", {"limit": 5, "cursor": first["next_cursor"], "entity": "aplus-enterprise"}
        )
    assert response.status_code == 200
    sql = " ".join(query["sql"].upper() for query in captured.captured_queries)
    assert "COUNT(" not in sql and "OFFSET" not in sql
    page_sql = next(q["sql"] for q in captured.captured_queries if "revenue_events" in q["sql"])
    assert 'ORDER BY "revenue_events"."occurred_at" ASC, "revenue_events"."id" ASC' in page_sql
    assert "LIMIT 6" in page_sql


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "W10"},
        {"limit": 0},
        {"limit": 1001},
        {"provider": "paypal"},
        {"currency": "US"},
        {"currency": "U\x00D"},
        {"occurred_from": "soon"},
        {"occurred_from": "0001-01-01T00:00:00Z"},
        {"entity": "nobody"},
    ],
)
def test_bad_input_is_a_json_400(api, params):
    response = api.get("/api/v1/revenue/events", params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) >= {"code", "message"}


def test_events_with_frozen_clock_do_not_depend_on_now(api, ledger):
    with time_machine.travel(NOW, tick=False):
        assert names(walk(api, {"limit": 100})[0]) == IN_ORDER

# ruff: noqa: F811  (pytest fixtures imported from api_fixtures are used as arguments)
"""Totals and trends against a hand-computed ledger: USD, JPY (no minor unit), KWD (three),
refunds, fees, and the 25-hour business day 2026-11-01 (America/Chicago falls back)."""

from __future__ import annotations

import pytest
import time_machine

from .api_fixtures import NOW, api, ledger, read_key  # noqa: F401

pytestmark = pytest.mark.django_db


def amounts(currency, gross, refunds, other, count, **extra):
    """The API 1.0 fields and the buckets. This ledger has only payments, refunds and fees (no
    disputes or adjustments), so gross = payments, refunds = refunds and other debits = fees."""
    return {
        **extra,
        "currency": currency,
        "gross_cents": gross,
        "refunds_cents": refunds,
        "other_debits_cents": other,
        "net_cents": gross + refunds + other,
        "count": count,
        "buckets": {
            "payments_cents": gross,
            "refunds_cents": refunds,
            "disputes_cents": 0,
            "disputes_won_cents": 0,
            "fees_cents": other,
            "adjustments_cents": 0,
            "net_cents": gross + refunds + other,
        },
    }


TODAY_ROWS = [
    amounts("USD", 10000, -2500, -300, 3, entity="aplus-enterprise", provider="stripe"),  # E1 E6 E9
    amounts("KWD", 1234, -234, 0, 2, entity="aplus-enterprise", provider="manual"),  # E4 E5 (01:30 twice)
    amounts("JPY", 5000, -1500, 0, 2, entity="legacy-unchained", provider="gumroad"),  # E3 (23:15 CST) E11
]


def by_key(rows):
    return {(row["entity"], row["provider"], row["currency"]): row for row in rows}


def test_totals_today_week_and_month_to_date_on_the_dst_day(api, ledger):
    with time_machine.travel(NOW, tick=False):
        response = api.get("/api/v1/revenue/totals")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["business_date"] == "2026-11-01"
    assert body["time_zone"] == "America/Chicago"
    assert body["as_of"] == "2026-11-02T05:30:00Z"
    today, week, month = (body["periods"][name] for name in ("today", "week_to_date", "month_to_date"))
    # Local midnight of the fall-back day is 05:00 UTC (CDT); the day ends 25 hours later.
    assert today["start_at"] == "2026-11-01T05:00:00Z"
    assert week["first_day"] == "2026-10-26" and week["start_at"] == "2026-10-26T05:00:00Z"
    assert month["first_day"] == "2026-11-01"

    assert by_key(today["rows"]) == by_key(TODAY_ROWS)
    assert by_key(month["rows"]) == by_key(TODAY_ROWS)  # E2 is Oct 31 in Chicago although Nov 1 in UTC
    week_expected = by_key(TODAY_ROWS)
    week_expected[("aplus-enterprise", "stripe", "USD")] = amounts(
        "USD", 15000, -2500, -300, 4, entity="aplus-enterprise", provider="stripe"
    )  # + E2
    week_expected[("legacy-unchained", "gumroad", "USD")] = amounts(
        "USD", 20000, 0, 0, 1, entity="legacy-unchained", provider="gumroad"
    )  # E7; E8 (Sunday 23:59 CDT) belongs to the previous week
    assert by_key(week["rows"]) == week_expected

    assert today["by_currency"] == [
        amounts("JPY", 5000, -1500, 0, 2),
        amounts("KWD", 1234, -234, 0, 2),
        amounts("USD", 10000, -2500, -300, 3),
    ]
    assert week["by_currency"][2] == amounts("USD", 35000, -2500, -300, 5)


def test_totals_as_of_and_entity(api, ledger):
    with time_machine.travel(NOW, tick=False):
        response = api.get("/api/v1/revenue/totals", {"as_of": "2026-10-31T12:00:00Z"})
    body = response.json()
    assert body["business_date"] == "2026-10-31"
    assert body["periods"]["today"]["rows"] == []
    assert body["periods"]["week_to_date"]["rows"] == [
        amounts("USD", 20000, 0, 0, 1, entity="legacy-unchained", provider="gumroad")
    ]
    assert by_key(body["periods"]["month_to_date"]["rows"]) == {
        ("aplus-enterprise", "stripe", "USD"): amounts(
            "USD", 7000, 0, 0, 1, entity="aplus-enterprise", provider="stripe"
        ),
        ("legacy-unchained", "gumroad", "USD"): amounts(
            "USD", 20000, 0, 0, 1, entity="legacy-unchained", provider="gumroad"
        ),
    }

    with time_machine.travel(NOW, tick=False):
        response = api.get("/api/v1/revenue/totals", {"entity": "legacy-unchained"})
    body = response.json()
    assert body["entity"] == "legacy-unchained"
    assert body["periods"]["today"]["rows"] == [TODAY_ROWS[2]]

    response = api.get("/api/v1/revenue/totals", {"entity": "nobody"})
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_entity"
    response = api.get("/api/v1/revenue/totals", {"as_of": "yesterday"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "as_of" in response.json()["errors"]


def test_totals_is_one_query_after_authentication(api, ledger, django_assert_max_num_queries):
    api.get("/api/v1/revenue/totals")  # marks the key used, so the next call does not write
    with django_assert_max_num_queries(2):  # key lookup + the grouped totals (ledger UNION ALL rollup)
        assert api.get("/api/v1/revenue/totals").status_code == 200


@pytest.mark.parametrize("as_of", [None, "2026-11-01T12:00:00.123456-05:00", "2026-10-31T12:00:00Z"])
def test_totals_representation_is_what_drf_would_write(ledger, as_of):
    """TotalsSerializer builds its dict directly for speed; DRF's generic walk gives the same thing."""
    from datetime import datetime

    from integrations.api.serializers import TotalsSerializer
    from revenue.business_time import business_zone
    from revenue.selectors import revenue_totals

    with time_machine.travel(NOW, tick=False):
        totals = revenue_totals(as_of=datetime.fromisoformat(as_of) if as_of else None)
    body = {
        "as_of": totals.as_of,
        "business_date": totals.business_date,
        "time_zone": str(business_zone()),
        "entity": None,
        "periods": {
            p.name: {
                "first_day": p.first_day,
                "start_at": p.start_at,
                "end_at": p.end_at,
                "rows": totals.rows[p.name],
                "by_currency": totals.by_currency[p.name],
            }
            for p in totals.periods
        },
    }
    serializer = TotalsSerializer(body)
    generic = super(TotalsSerializer, serializer).to_representation(body)
    assert serializer.data == generic and list(serializer.data) == list(generic)
    assert serializer.data["periods"]["month_to_date"]["rows"]


def points(body, currency):
    series = {s["currency"]: s["points"] for s in body["series"]}
    return [(p["period_start"], p["net_cents"], p["count"], p["growth"], p["complete"]) for p in series[currency]]


def test_daily_trends_across_the_dst_day(api, ledger):
    with time_machine.travel(NOW, tick=False):
        response = api.get(
            "/api/v1/revenue/trends", {"granularity": "daily", "start": "2026-10-30", "end": "2026-11-02"}
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["start"], body["end"], body["time_zone"]) == ("2026-10-30", "2026-11-02", "America/Chicago")
    assert [s["currency"] for s in body["series"]] == ["JPY", "KWD", "USD"]
    assert points(body, "USD") == [
        ("2026-10-30", 0, 0, None, True),
        ("2026-10-31", 5000, 1, None, True),  # E2: 23:30 CDT on Oct 31
        ("2026-11-01", 7200, 3, "0.4400", False),  # E1 + E6 + E9, (7200 - 5000) / 5000
        ("2026-11-02", 99999, 1, "12.8888", False),  # E10; 92799 / 7200 = 12.88875, half-even
    ]
    assert points(body, "JPY") == [
        ("2026-10-30", 0, 0, None, True),
        ("2026-10-31", 0, 0, None, True),
        ("2026-11-01", 3500, 2, None, False),  # E3 at 23:15 CST is still Nov 1
        ("2026-11-02", 0, 0, "-1.0000", False),
    ]
    usd_nov1 = next(s for s in body["series"] if s["currency"] == "USD")["points"][2]
    assert (usd_nov1["gross_cents"], usd_nov1["refunds_cents"], usd_nov1["other_debits_cents"]) == (10000, -2500, -300)
    kwd = points(body, "KWD")
    assert kwd[2] == ("2026-11-01", 1000, 2, None, False)


def test_weekly_and_monthly_trends(api, ledger):
    with time_machine.travel(NOW, tick=False):
        weekly = api.get(
            "/api/v1/revenue/trends", {"granularity": "weekly", "start": "2026-10-28", "end": "2026-11-01"}
        )
        monthly = api.get(
            "/api/v1/revenue/trends", {"granularity": "monthly", "start": "2026-10-15", "end": "2026-11-20"}
        )
    # Week of Mon Oct 26: E2 + E7 + E1 + E6 + E9 = 32200; the week before holds E8 = 7000.
    assert points(weekly.json(), "USD") == [("2026-10-26", 32200, 5, "3.6000", False)]
    # October (Chicago) includes E2, which is November in UTC: 20000 + 7000 + 5000.
    assert points(monthly.json(), "USD") == [
        ("2026-10-01", 32000, 3, None, True),
        ("2026-11-01", 107199, 4, "2.3500", False),  # 7200 + 99999; 75199 / 32000 = 2.34996875
    ]
    assert monthly.json()["end"] == "2026-11-30"


def test_trends_filters_and_bad_input(api, ledger):
    with time_machine.travel(NOW, tick=False):
        response = api.get(
            "/api/v1/revenue/trends",
            {"start": "2026-11-01", "end": "2026-11-01", "provider": "gumroad", "entity": "legacy-unchained"},
        )
    assert [s["currency"] for s in response.json()["series"]] == ["JPY"]
    assert api.get("/api/v1/revenue/trends", {"start": "2026-11-02", "end": "2026-11-01"}).json()["code"] == (
        "invalid_range"
    )
    response = api.get("/api/v1/revenue/trends", {"start": "1990-01-01", "end": "2026-11-01"})
    assert (response.status_code, response.json()["code"]) == (400, "range_too_long")
    response = api.get("/api/v1/revenue/trends", {"granularity": "hourly"})
    assert response.status_code == 400 and "granularity" in response.json()["errors"]


def test_trends_default_window_is_thirty_days(api, ledger):
    with time_machine.travel(NOW, tick=False):
        body = api.get("/api/v1/revenue/trends").json()
    assert (body["start"], body["end"]) == ("2026-10-03", "2026-11-01")
    assert all(len(s["points"]) == 30 for s in body["series"])

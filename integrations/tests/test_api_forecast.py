# ruff: noqa: F811  (pytest fixtures imported from api_fixtures are used as arguments)
"""GET /api/v1/revenue/forecast (issue 19): the stored forecast and the month / quarter projections."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from forecasts.services import forecasts_fit
from forecasts.tests.factories import CENTRAL, record_days, weekly_amount

from .api_fixtures import api, read_key  # noqa: F401

pytestmark = pytest.mark.django_db

TODAY = date(2026, 6, 17)  # as_of_day June 16; the nightly fit saw through June 15


@pytest.fixture
def fitted(entities, time_machine):
    aplus, legacy = entities["aplus-enterprise"], entities["legacy-unchained"]
    record_days(entity=aplus, first_day=date(2026, 3, 30), last_day=date(2026, 6, 16), amount=weekly_amount())
    record_days(entity=legacy, first_day=date(2026, 6, 1), last_day=date(2026, 6, 16), amount=lambda day: 5_000)
    forecasts_fit(last_day=date(2026, 6, 15))
    time_machine.move_to(datetime.combine(TODAY, time(12), tzinfo=CENTRAL), tick=False)


def test_forecast_gives_days_bounds_and_projections_per_entity_and_currency(api, fitted, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):  # key, forecasts, month and quarter actuals (+ key touch)
        response = api.get("/api/v1/revenue/forecast")
    assert response.status_code == 200
    body = response.json()
    assert body["as_of_day"] == "2026-06-16" and body["time_zone"] == "America/Chicago"
    aplus, legacy = body["series"]
    assert (aplus["entity"], aplus["currency"], aplus["status"]) == ("aplus-enterprise", "USD", "ok")
    assert aplus["model"] == "ETS(A,Ad,A) weekly"
    assert (aplus["fit_first_day"], aplus["fit_last_day"]) == ("2026-03-30", "2026-06-15")
    assert aplus["days"][0]["day"] == "2026-06-16" and len(aplus["days"]) == 100
    first = aplus["days"][0]
    assert first["lower95_cents"] <= first["lower80_cents"] <= first["mean_cents"] <= first["upper80_cents"]
    month = aplus["month"]
    june_to_16 = 1_000_000 + 600_000  # not exact: sixteen days of about 100,000 minor units
    assert month["actual_through"] == "2026-06-16" and abs(month["actual_cents"] - june_to_16) < 200_000
    assert month["lower80_cents"] < month["projected_cents"] < month["upper80_cents"]
    assert month["projected_cents"] - month["actual_cents"] > 10 * 80_000  # fourteen days still to come
    quarter = aplus["quarter"]
    assert (quarter["first_day"], quarter["last_day"]) == ("2026-04-01", "2026-06-30")
    assert quarter["projected_cents"] > month["projected_cents"]
    assert legacy["status"] == "not_enough_history" and legacy["days"] == [] and legacy["month"] is None


def test_forecast_filters_by_entity_and_currency(api, fitted):
    body = api.get("/api/v1/revenue/forecast", {"entity": "aplus-enterprise", "currency": "usd"}).json()
    assert [(s["entity"], s["currency"]) for s in body["series"]] == [("aplus-enterprise", "USD")]
    assert api.get("/api/v1/revenue/forecast", {"currency": "EUR"}).json()["series"] == []


def test_unknown_entity_is_a_400(api, fitted):
    response = api.get("/api/v1/revenue/forecast", {"entity": "nobody"})
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_entity"


def test_forecast_needs_a_key(client, fitted):
    assert client.get("/api/v1/revenue/forecast").status_code == 401


def test_schema_documents_the_forecast(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/revenue/forecast"]["get"]
    assert operation["operationId"] == "revenue_forecast"
    assert {p["name"] for p in operation["parameters"]} == {"entity", "currency"}
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    components = schema["components"]["schemas"]
    series = components[ref.rsplit("/", 1)[1]]["properties"]["series"]["items"]["$ref"].rsplit("/", 1)[1]
    fields = components[series]["properties"]
    assert {"status", "model", "fit_first_day", "fit_last_day", "parameters", "days", "month", "quarter"} <= set(fields)
    projection = components["Projection"]["properties"]
    assert {"actual_cents", "projected_cents", "lower80_cents", "upper80_cents"} <= set(projection)
    assert set(operation["responses"]) >= {"200", "400", "401", "403", "429"}

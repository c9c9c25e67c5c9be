"""Anomalies judged against the forecast (issue 19), with the same-weekday rule as the fallback."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from alerts.models import RevenueAlert
from alerts.services import alerts_evaluate
from forecasts.services import forecasts_fit
from forecasts.tests.factories import central, record_days, weekly_amount
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

pytestmark = pytest.mark.django_db

DAY = date(2026, 6, 30)  # a Tuesday: usual net about 1,100.00 USD


def anomalies() -> list[RevenueAlert]:
    return list(RevenueAlert.objects.filter(alert_type="anomaly"))


def history_then(day_amount: int, *, entity, weeks: int = 10) -> None:
    record_days(
        entity=entity,
        first_day=DAY - timedelta(weeks=weeks),
        last_day=DAY - timedelta(days=1),
        amount=weekly_amount(noise=0.03),
    )
    revenue_event_record(entry=ledger_entry(entity_hint=entity.slug, amount_cents=day_amount, occurred_at=central(DAY)))


def test_a_day_outside_the_95_interval_raises_the_anomaly_with_expected_value_and_interval(entities):
    entity = entities["aplus-enterprise"]
    history_then(66_000, entity=entity)  # 40% below the usual Tuesday
    forecasts_fit(last_day=DAY - timedelta(days=1))

    alerts_evaluate(now=central(DAY + timedelta(days=1), 8))

    [alert] = anomalies()
    assert alert.fingerprint == f"anomaly:{entity.pk}:USD:2026-06-30"
    assert alert.metadata["method"] == "forecast"
    expected = alert.metadata["expected_cents"]
    assert 100_000 < expected < 120_000
    assert alert.metadata["lower_cents"] > 66_000 and alert.metadata["interval_percent"] == 99
    # The 99% bounds are the stored 95% ones widened about the mean.
    assert alert.metadata["lower_cents"] < alert.metadata["lower95_cents"] < expected
    assert "below the expected" in alert.message and "99% interval" in alert.message
    assert "ETS(A,Ad,A) weekly fitted through 2026-06-29" in alert.message
    assert "webhook delivery logs" in alert.message


def test_an_ordinary_day_inside_the_interval_raises_nothing(entities):
    history_then(112_000, entity=entities["aplus-enterprise"])
    forecasts_fit(last_day=DAY - timedelta(days=1))

    alerts_evaluate(now=central(DAY + timedelta(days=1), 8))

    assert anomalies() == []


def test_a_forecast_that_has_seen_the_day_is_not_used_to_judge_it(entities):
    """Only a fit through the day before counts; with none, the same-weekday rule judges."""
    history_then(400_000, entity=entities["aplus-enterprise"])
    forecasts_fit(last_day=DAY)  # has seen the spike: unusable for DAY

    alerts_evaluate(now=central(DAY + timedelta(days=1), 8))

    [alert] = anomalies()
    assert "median_cents" in alert.metadata and "method" not in alert.metadata


def test_short_history_falls_back_to_the_same_weekday_rule(entities):
    entity = entities["aplus-enterprise"]
    history_then(400_000, entity=entity, weeks=6)
    report = forecasts_fit(last_day=DAY - timedelta(days=1))
    assert report.stored == 1  # a "not enough history" row, which judges nothing

    alerts_evaluate(now=central(DAY + timedelta(days=1), 8))

    [alert] = anomalies()
    assert alert.fingerprint == f"anomaly:{entity.pk}:USD:2026-06-30"
    assert "above the usual Tuesday" in alert.message


def test_a_contract_every_1st_is_expected_and_a_missing_one_is_reported_as_such(entities):
    """Months of a 5,000.00 contract on the 1st: the forecast learns it (forecasts.calendar), so the
    next 1st with its contract is no anomaly, and a 1st without it is, naming the effect."""
    entity = entities["aplus-enterprise"]
    first = date(2025, 12, 1)
    usual = weekly_amount(noise=0.03)
    record_days(
        entity=entity,
        first_day=first,
        last_day=date(2026, 6, 30),
        amount=lambda day: usual(day) + (500_000 if day.day == 1 else 0),
    )
    forecasts_fit(last_day=date(2026, 6, 30))

    revenue_event_record(
        entry=ledger_entry(entity_hint=entity.slug, amount_cents=610_000, occurred_at=central(date(2026, 7, 1)))
    )
    alerts_evaluate(now=central(date(2026, 7, 2), 8))
    assert anomalies() == []

    record_days(entity=entity, first_day=date(2026, 7, 2), last_day=date(2026, 7, 31), amount=usual)
    forecasts_fit(last_day=date(2026, 7, 31))
    revenue_event_record(
        entry=ledger_entry(entity_hint=entity.slug, amount_cents=110_000, occurred_at=central(date(2026, 8, 1)))
    )
    # August 1st is a Saturday (usual net about 70,000): the contract is what was missed.
    alerts_evaluate(now=central(date(2026, 8, 2), 8))
    [alert] = anomalies()
    assert "below the expected" in alert.message
    assert "day 1 of the month included" in alert.message
    assert alert.metadata["expected_cents"] > 500_000 and alert.metadata["lower_cents"] > 110_000

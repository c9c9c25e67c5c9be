"""The nightly fit against the real ledger (PostgreSQL): what is stored, when, and only once."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from forecasts.models import RevenueForecast
from forecasts.selectors import daily_histories, day_forecasts
from forecasts.services import forecasts_fit, forecasts_fit_due
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

from .factories import CENTRAL, record_days, weekly_amount

pytestmark = pytest.mark.django_db

LAST = date(2026, 6, 30)


def at_central(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CENTRAL)


def test_seven_weeks_of_history_say_not_enough_history_and_draw_no_line(entities):
    record_days(
        entity=entities["aplus-enterprise"], first_day=LAST - timedelta(days=48), last_day=LAST, amount=weekly_amount()
    )
    report = forecasts_fit(last_day=LAST)
    assert report.stored == 1
    forecast = RevenueForecast.objects.get()
    assert forecast.status == RevenueForecast.Status.NOT_ENOUGH_HISTORY
    assert forecast.history_days == 49
    assert forecast.mean_cents == [] and forecast.period_tails == [] and forecast.model_name == ""


def test_ten_weeks_give_a_stored_model_per_entity_and_currency(entities, django_assert_max_num_queries):
    first = LAST - timedelta(days=69)
    record_days(entity=entities["aplus-enterprise"], first_day=first, last_day=LAST, amount=weekly_amount())
    record_days(
        entity=entities["aplus-enterprise"],
        first_day=first,
        last_day=LAST,
        currency="EUR",
        amount=weekly_amount(base=9_000, seed=2),
    )
    with django_assert_max_num_queries(6):
        report = forecasts_fit(last_day=LAST)
    assert report.stored == 2
    usd = RevenueForecast.objects.get(currency="USD")
    eur = RevenueForecast.objects.get(currency="EUR")
    assert usd.status == eur.status == RevenueForecast.Status.OK
    assert usd.model_name == "ETS(A,Ad,A) weekly"
    assert (usd.fit_first_day, usd.last_actual_day, usd.first_forecast_day) == (first, LAST, date(2026, 7, 1))
    assert "smoothing_level" in usd.parameters
    assert len(usd.mean_cents) == len(usd.upper95_cents) == 100
    # Never summed across currencies: each series sits at its own level (a July Wednesday ~ 115,000 / 10,350).
    assert 80_000 < usd.mean_cents[0] < 150_000
    assert 6_000 < eur.mean_cents[0] < 14_000
    assert {t["cadence"] for t in usd.period_tails} == {"month", "quarter"}


def test_a_second_fit_of_the_same_night_stores_nothing(entities):
    record_days(
        entity=entities["aplus-enterprise"], first_day=LAST - timedelta(days=69), last_day=LAST, amount=weekly_amount()
    )
    assert forecasts_fit(last_day=LAST).stored == 1
    again = forecasts_fit(last_day=LAST)
    assert (again.stored, again.skipped) == (0, 1)
    assert RevenueForecast.objects.count() == 1


def test_the_tick_fits_after_the_summary_at_0610_central_for_yesterday(entities):
    record_days(
        entity=entities["aplus-enterprise"], first_day=LAST - timedelta(days=69), last_day=LAST, amount=weekly_amount()
    )
    assert forecasts_fit_due(now=at_central(date(2026, 7, 1), 6, 5)) is None
    report = forecasts_fit_due(now=at_central(date(2026, 7, 1), 6, 15))
    assert report is not None and report.last_day == LAST and report.stored == 1
    assert forecasts_fit_due(now=at_central(date(2026, 7, 1), 6, 30)).stored == 0


def test_history_counts_business_days_in_central_time(entities):
    """A sale at 23:30 Central on June 30 is June 30's, though it is July 1 in UTC."""
    entity = entities["aplus-enterprise"]
    record_days(
        entity=entity, first_day=LAST - timedelta(days=9), last_day=LAST - timedelta(days=1), amount=lambda day: 100
    )
    revenue_event_record(
        entry=ledger_entry(entity_hint=entity.slug, amount_cents=777, occurred_at=at_central(LAST, 23, 30))
    )
    [history] = daily_histories(last_day=LAST)
    assert history.values[-1] == 777
    assert history.history_days == 10


def test_day_forecasts_only_use_a_fit_that_has_not_seen_the_day(entities):
    record_days(
        entity=entities["aplus-enterprise"], first_day=LAST - timedelta(days=69), last_day=LAST, amount=weekly_amount()
    )
    forecasts_fit(last_day=LAST - timedelta(days=1))
    forecasts_fit(last_day=LAST)
    found = day_forecasts(day=LAST)
    [expected] = found.values()
    assert expected.last_actual_day == LAST - timedelta(days=1)
    assert expected.lower95_cents < expected.mean_cents < expected.upper95_cents


def test_beat_schedule_has_the_forecast_tick():
    call_command("setup_periodic_tasks", stdout=io.StringIO())
    task = PeriodicTask.objects.get(task="forecasts.tick")
    assert task.interval.every == 15 * 60

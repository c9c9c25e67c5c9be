"""Calendar effects: holidays and recurring days of the month are learned only when they repeat,
and the forecast, its intervals, the month sums and the anomaly check all carry them (no database)."""

from __future__ import annotations

import random
from datetime import date, timedelta

from forecasts import engine
from forecasts.calendar import calendar_effects, holiday_calendar

from .factories import WEEKLY

FIRST = date(2024, 12, 2)  # a Monday
CONTRACT = 900_000  # a contract on the 1st and the 15th, on top of ~100,000 a day


def series(days: int, *, contract_days: tuple[int, ...] = (), holiday_factor: float = 1.0, seed: int = 7) -> list[int]:
    rng = random.Random(seed)
    holidays = holiday_calendar("US", FIRST, FIRST + timedelta(days=days))
    values = []
    for n in range(days):
        day = FIRST + timedelta(days=n)
        value = 100_000 * WEEKLY[day.weekday()] * (1 + rng.gauss(0, 0.05))
        if holidays.get(day) == "Thanksgiving Day":
            value *= holiday_factor
        if day.day in contract_days:
            value += CONTRACT + rng.choice([-300_000, 0, 300_000])
        values.append(round(value))
    return values


def test_the_calendar_has_public_and_unofficial_days_and_none_without_a_country():
    calendar = holiday_calendar("US", date(2025, 11, 1), date(2025, 12, 31))
    assert calendar[date(2025, 11, 27)] == "Thanksgiving Day"
    assert calendar[date(2025, 12, 24)] == "Christmas Eve"
    assert holiday_calendar("", date(2025, 11, 1), date(2025, 12, 31)) == {}


def test_contracts_on_the_1st_and_15th_are_expected_with_their_spread_and_a_one_off_is_not():
    values = series(365, contract_days=(1, 15))
    values[(date(2025, 9, 9) - FIRST).days] += 900_000  # one odd day: not a pattern
    fit = engine.fit_forecast(values, first_day=FIRST, horizon=40, simulations=400, country="US")
    first_forecast_day = fit.last_day + timedelta(days=1)  # 2025-12-02
    learned = {effect["day"]: effect for effect in fit.parameters["calendar_effects"]}
    assert set(learned) == {"2025-12-15", "2026-01-01"}
    assert learned["2025-12-15"]["label"] == "day 15 of the month"
    # New Year's Day 2025 stood out for its contract, not for the holiday: 2026's is the contract only.
    assert learned["2026-01-01"]["label"] == "day 1 of the month" and learned["2026-01-01"]["ratio"] == 1.0
    assert 550_000 <= learned["2025-12-15"]["shift_cents"] <= 1_250_000  # the median contract seen

    on_15th = (date(2025, 12, 15) - first_forecast_day).days
    usual_monday = (date(2025, 12, 8) - first_forecast_day).days
    assert fit.band.mean[on_15th] - fit.band.mean[usual_monday] > 550_000
    # The interval spans the contract amounts seen (600,000 to 1,200,000 on top of the day).
    assert fit.band.lower95[on_15th] < fit.band.mean[usual_monday] + 700_000
    assert fit.band.upper95[on_15th] > fit.band.mean[usual_monday] + 1_150_000
    # The month's simulated sum carries the contract on the 15th.
    [december] = [t for t in fit.tails if t.cadence == "month" and t.first_day == date(2025, 12, 1)]
    assert december.mean[0] - sum(fit.band.mean[:on_15th]) - sum(fit.band.mean[on_15th + 1 : 30]) > 550_000


def test_a_contract_day_is_no_anomaly_but_a_missing_contract_is():
    values = series(400, contract_days=(1, 15))
    fitted = engine.fit_results(values[:380], FIRST, horizon=20)
    cleaned = list(fitted.cleaned)
    for index in range(380, 400):
        day = FIRST + timedelta(days=index)
        step = engine.one_step(fitted, cleaned, values[index], z=1.96)
        flagged = engine.is_anomaly(
            actual=values[index],
            mean=round(step.mean),
            lower=round(step.lower),
            upper=round(step.upper),
            min_deviation=0,
        )
        assert not flagged, (day, values[index], step)
        cleaned.append(step.seen)
    contract_day = (date(2026, 1, 1) - FIRST).days  # index 395
    assert 380 <= contract_day < 400
    fitted = engine.fit_results(values[:contract_day], FIRST, horizon=5)
    ordinary = round(100_000 * WEEKLY[date(2026, 1, 1).weekday()])
    step = engine.one_step(fitted, list(fitted.cleaned), ordinary, z=1.96)
    assert engine.is_anomaly(
        actual=ordinary, mean=round(step.mean), lower=round(step.lower), upper=round(step.upper), min_deviation=0
    )


def test_a_holiday_that_dipped_last_year_is_expected_to_dip_again():
    values = series(400, holiday_factor=0.45)  # Thanksgiving 2024-11-28 is before FIRST; 2025-11-27 is in
    thanksgiving = (date(2025, 11, 27) - FIRST).days
    assert values[thanksgiving] < 0.6 * values[thanksgiving - 7]
    effects = calendar_effects(
        values=values[: thanksgiving + 1],
        expected=[v / 0.45 if i == thanksgiving else v for i, v in enumerate(values[: thanksgiving + 1])],
        first_day=FIRST,
        sigma=5_000,
        through=date(2026, 11, 30),
        country="US",
    )
    next_year = effects[date(2026, 11, 26)]
    assert next_year.label == "Thanksgiving Day"
    assert abs(next_year.ratio - 0.45) < 0.01
    # Seen once as an ordinary day: no effect (Columbus Day 2025 was a usual Monday here).
    assert date(2026, 10, 12) not in effects

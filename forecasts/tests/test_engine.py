"""The model on synthetic series: shapes, orderings, honest sums, projections (no database)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import date, timedelta

import pytest

from forecasts import engine

from .factories import WEEKLY

FIRST = date(2025, 1, 6)  # a Monday


def weekly_series(days: int, *, base: int = 100_000, noise: float = 0.05, seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    return [round(base * WEEKLY[n % 7] * (1 + rng.gauss(0, noise))) for n in range(days)]


def test_quarter_and_month_bounds():
    assert engine.quarter_bounds(date(2026, 11, 15)) == (date(2026, 10, 1), date(2026, 12, 31))
    assert engine.quarter_bounds(date(2026, 2, 1)) == (date(2026, 1, 1), date(2026, 3, 31))
    assert engine.month_bounds(date(2028, 2, 10)) == (date(2028, 2, 1), date(2028, 2, 29))


def test_too_little_history_is_refused_not_drawn():
    assert not engine.has_enough_history(55)
    with pytest.raises(ValueError, match="at least 56"):
        engine.fit_forecast(weekly_series(55), first_day=FIRST)


def test_fit_gives_integer_ordered_bands_with_the_weekly_shape():
    values = weekly_series(140)
    fit = engine.fit_forecast(values, first_day=FIRST, horizon=35, simulations=400)
    band = fit.band
    assert fit.last_day == FIRST + timedelta(days=139)
    assert len(band.mean) == 35 and all(isinstance(v, int) for v in band.mean + band.lower95 + band.upper95)
    for i in range(35):
        assert band.lower95[i] <= band.lower80[i] <= band.mean[i] <= band.upper80[i] <= band.upper95[i]
    # Day 140 is a Monday (100%), day 145 a Saturday (70%): the season is kept.
    assert band.mean[0] > band.mean[5] * 1.3
    assert set(fit.parameters) >= {"smoothing_level", "smoothing_seasonal", "damping_trend", "sigma_cents"}


def test_the_month_sum_interval_is_simulated_not_a_sum_of_daily_bounds():
    values = weekly_series(140)
    fit = engine.fit_forecast(values, first_day=FIRST, horizon=60, simulations=1000)
    first_forecast_day = fit.last_day + timedelta(days=1)
    [month] = [t for t in fit.tails if t.cadence == "month" and t.first_day <= first_forecast_day <= t.last_day]
    days = (month.last_day - first_forecast_day).days + 1
    assert len(month.mean) == days
    width = month.upper80[0] - month.lower80[0]
    summed_daily_width = sum(fit.band.upper80[:days]) - sum(fit.band.lower80[:days])
    assert 0 < width < summed_daily_width
    assert abs(month.mean[0] - sum(fit.band.mean[:days])) < 0.02 * sum(fit.band.mean[:days])
    # The tail from the last day of the month is one day's forecast.
    assert month.mean[-1] == pytest.approx(fit.band.mean[days - 1], rel=0.05)


def test_projection_adds_the_actual_to_date_to_the_simulated_rest():
    tails = [
        engine.PeriodTail(
            "month", date(2026, 6, 1), date(2026, 6, 30), [300, 200, 100], [250, 150, 80], [350, 260, 130]
        ).as_json()
    ]
    projection = engine.project_period(
        cadence="month", day=date(2026, 6, 28), actual_cents=5_000, first_forecast_day=date(2026, 6, 28), tails=tails
    )
    assert projection is not None
    assert (projection.projected_cents, projection.lower80_cents, projection.upper80_cents) == (5_200, 5_150, 5_260)
    done = engine.project_period(
        cadence="month", day=date(2026, 6, 30), actual_cents=5_400, first_forecast_day=date(2026, 6, 28), tails=tails
    )
    assert done is not None and done.complete and done.projected_cents == done.lower80_cents == 5_400
    # A forecast that does not reach the asked period projects nothing.
    assert (
        engine.project_period(
            cadence="quarter", day=date(2026, 6, 28), actual_cents=0, first_forecast_day=date(2026, 6, 28), tails=tails
        )
        is None
    )


def test_seasonal_naive_repeats_last_week():
    values = list(range(1, 15))
    assert engine.seasonal_naive(values, 9) == [8, 9, 10, 11, 12, 13, 14, 8, 9]


@pytest.mark.slow  # a Python subprocess
def test_the_app_loads_without_the_model_libraries():
    """pandas, statsmodels and the holiday calendar (~130 MB a process) load where a fit runs, not in
    every web, booking and beat process that imports the forecasts app."""
    code = (
        "import sys, django; django.setup(); import branchberg.celery, branchberg.urls; "
        "print(sorted(m for m in ('pandas', 'statsmodels', 'holidays') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"

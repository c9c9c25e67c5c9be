"""The forecasting model itself: pure functions over a daily net series (no database).

Model: exponential smoothing with additive errors, an additive damped trend and an
additive weekly season, ETS(A,Ad,A) with period 7, fitted by maximum likelihood
(statsmodels `ETSModel`). Additive, not multiplicative: a day's net can be zero or
negative (refunds, disputes, fees). Damped, so a trend fitted on the last months does
not run away over a quarter's horizon.

Daily bounds are the model's analytic prediction intervals. The interval of a SUM of
days (month, quarter) comes from simulating whole future paths from the fitted model
(`ETSResults.simulate`) and taking quantiles of each path's sum: errors of consecutive
days are correlated through the level and trend, so summing daily bounds would be far
too wide, and summing daily variances as if independent far too narrow.

Floats live only inside the fit; everything returned for storage is rounded to integer
minor units.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import NormalDist
from typing import Any

import numpy as np

from .calendar import Effect, calendar_effects

MODEL_NAME = "ETS(A,Ad,A) weekly"
SEASON_DAYS = 7
MIN_HISTORY_DAYS = 56  # eight weeks: fewer and we say "not enough history", never draw a line
MAX_FIT_DAYS = 730  # two years: older days say little about next month
HORIZON_DAYS = 100  # the longest quarter (92 days) plus a week of staleness
SIMULATIONS = 1000
SIMULATION_SEED = 19  # the same data gives the same stored interval
OUTLIER_SIGMAS = 3.0


@dataclass(frozen=True)
class Band:
    """Per forecast day, integer minor units, aligned with `first_day`, `first_day + 1`, …"""

    mean: list[int]
    lower80: list[int]
    upper80: list[int]
    lower95: list[int]
    upper95: list[int]


@dataclass(frozen=True)
class PeriodTail:
    """Sums from forecast day i through `last_day` of a period: index 0 is the first forecast day.

    mean / lower80 / upper80 are the mean and the 10th / 90th percentiles of the simulated sums.
    """

    cadence: str  # "month" or "quarter"
    first_day: date
    last_day: date
    mean: list[int]
    lower80: list[int]
    upper80: list[int]

    def as_json(self) -> dict[str, Any]:
        return {
            "cadence": self.cadence,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "mean": self.mean,
            "lower80": self.lower80,
            "upper80": self.upper80,
        }


@dataclass(frozen=True)
class Fit:
    model_name: str
    first_day: date  # first day of the fitted window
    last_day: date  # last actual day; the forecast starts the next day
    parameters: dict[str, Any]
    band: Band
    tails: list[PeriodTail] = field(default_factory=list)


def quarter_bounds(day: date) -> tuple[date, date]:
    first_month = 3 * ((day.month - 1) // 3) + 1
    first = date(day.year, first_month, 1)
    following = date(day.year + (first_month + 3 > 12), (first_month + 3 - 1) % 12 + 1, 1)
    return first, following - timedelta(days=1)


def month_bounds(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def period_bounds(cadence: str, day: date) -> tuple[date, date]:
    return month_bounds(day) if cadence == "month" else quarter_bounds(day)


def has_enough_history(days: int) -> bool:
    return days >= MIN_HISTORY_DAYS


def _to_int(values: Any) -> list[int]:
    return [round(float(v)) for v in np.asarray(values, dtype=float)]


def _model(values: Sequence[float], first_day: date) -> Any:
    # pandas and statsmodels (~110 MB per process) load in the process that fits, not in every web
    # and booking process that imports the forecasts app for its selectors.
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    index = pd.date_range(first_day, periods=len(values), freq="D")
    series = pd.Series(np.asarray(values, dtype=float), index=index)
    return ETSModel(series, error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=SEASON_DAYS)


def _fit(values: list[float], first_day: date) -> Any:
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    model = _model(values, first_day)
    with warnings.catch_warnings():
        # A flat or short series may not converge to the optimum; the fit is still a valid ETS model.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return model.fit(disp=False, maxiter=200)


def robust_sigma(residuals: Any) -> float:
    """1.4826 x the median absolute deviation: the spread of ordinary days, blind to the odd outlier."""
    array = np.asarray(residuals, dtype=float)
    return float(1.4826 * np.median(np.abs(array - np.median(array))))


@dataclass(frozen=True)
class Fitted:
    """A fitted model: statsmodels' ETS results on the history as the weekly model saw it
    (`cleaned`: calendar effects taken out, outlier days replaced), and the calendar effects
    of every day from the first fitted day through the forecast's last."""

    results: Any
    cleaned: list[float]
    effects: dict[date, Effect]
    first_day: date

    @property
    def sigma(self) -> float:
        return math.sqrt(max(float(self.results.mse), 0.0))

    def effect(self, index: int) -> Effect | None:
        return self.effects.get(self.first_day + timedelta(days=index))


BASELINE_WEEKS = 4


def weekly_baseline(values: np.ndarray) -> np.ndarray:
    """Each day's robust expectation: the median of the same weekday up to BASELINE_WEEKS weeks either
    side (at the ends, the nearest 2 x BASELINE_WEEKS such days). Unlike a fitted model's one-step
    expectation, odd days (up to three of the eight) never move it, so it is what odd days are
    measured against."""
    n = len(values)
    wanted = 2 * BASELINE_WEEKS
    baseline = np.empty(n)
    for index in range(n):
        around = [
            index + SEASON_DAYS * k
            for k in range(-BASELINE_WEEKS, BASELINE_WEEKS + 1)
            if k and 0 <= index + SEASON_DAYS * k < n
        ]
        if len(around) < wanted:
            nearest = sorted(range(index % SEASON_DAYS, n, SEASON_DAYS), key=lambda other: abs(other - index))
            around = [other for other in nearest if other != index][:wanted]
        baseline[index] = float(np.median(values[around])) if around else float(values[index])
    return baseline


def fit_results(
    values: Sequence[float], first_day: date, *, horizon: int = HORIZON_DAYS, country: str | None = None
) -> Fitted:
    """Fit ETS to `values` (daily, from `first_day`), with `country`'s calendar effects for the
    history and the next `horizon` days.

    Against each day's robust weekly baseline (`weekly_baseline`), the calendar effects are
    learned (`forecasts.calendar`: holidays and recurring days of the month that repeat) and
    taken out of their days, and the outlier days (further than OUTLIER_SIGMAS robust standard
    deviations from it: an unknown holiday, a one-off contract, an anomaly) are replaced by the
    baseline. ETS is fitted on what remains, so one odd day neither bends the weekly season nor
    widens every interval; it is exactly what the anomaly check is there to report.
    """
    raw = np.asarray(values, dtype=float)
    last_day = first_day + timedelta(days=len(raw) - 1)
    baseline = weekly_baseline(raw)
    spread = robust_sigma(raw - baseline)
    effects = calendar_effects(
        values=raw,
        expected=baseline,
        first_day=first_day,
        sigma=spread,
        through=last_day + timedelta(days=horizon),
        country=country,
    )
    cleaned = raw.copy()
    for index in range(len(raw)):
        effect = effects.get(first_day + timedelta(days=index))
        if effect is not None:
            cleaned[index] = effect.underlying(raw[index])
    if spread > 0:
        cleaned = np.where(np.abs(cleaned - baseline) > OUTLIER_SIGMAS * spread, baseline, cleaned)
    results = _fit(list(cleaned), first_day)
    return Fitted(results=results, cleaned=[float(v) for v in cleaned], effects=effects, first_day=first_day)


@dataclass(frozen=True)
class OneStep:
    """A day's expectation made without seeing it, its interval, and the day as the weekly model
    sees it afterwards (calendar effect taken out, an outlier replaced by the expectation)."""

    mean: float
    lower: float
    upper: float
    seen: float


def one_step(fitted: Fitted, cleaned: list[float], actual: int, *, z: float) -> OneStep:
    """The day after `cleaned` with `fitted`'s parameters, its interval `z` sigmas wide."""
    smoothed = _model([*cleaned, float(actual)], fitted.first_day).smooth(fitted.results.params)
    base = float(np.asarray(smoothed.fittedvalues, dtype=float)[-1])
    lower, upper = base - z * fitted.sigma, base + z * fitted.sigma
    effect = fitted.effect(len(cleaned))
    underlying = effect.underlying(actual) if effect else float(actual)
    seen = base if abs(underlying - base) > OUTLIER_SIGMAS * fitted.sigma else underlying
    if effect:
        return OneStep(effect.mean(base), *effect.bounds(lower, upper), seen=seen)
    return OneStep(base, lower, upper, seen)


def forecast_band(fitted: Fitted, start: int, horizon: int) -> Band:
    """Daily mean and 80/95% bounds for days `start` .. `start + horizon - 1` (indexes from the first
    fitted day): the model's analytic intervals, each day moved by its calendar effect."""
    end = start + horizon - 1
    frame80 = fitted.results.get_prediction(start=start, end=end).summary_frame(alpha=0.2)
    frame95 = fitted.results.get_prediction(start=start, end=end).summary_frame(alpha=0.05)
    columns: dict[str, list[float]] = {name: [] for name in ("mean", "lower80", "upper80", "lower95", "upper95")}
    for h in range(horizon):
        effect = fitted.effect(start + h)
        mean = float(frame80["mean"].iloc[h])
        bounds80 = (float(frame80["pi_lower"].iloc[h]), float(frame80["pi_upper"].iloc[h]))
        bounds95 = (float(frame95["pi_lower"].iloc[h]), float(frame95["pi_upper"].iloc[h]))
        if effect:
            mean, bounds80, bounds95 = effect.mean(mean), effect.bounds(*bounds80), effect.bounds(*bounds95)
        for name, value in zip(columns, (mean, *bounds80, *bounds95), strict=True):
            columns[name].append(value)
    return Band(**{name: _to_int(column) for name, column in columns.items()})


def _parameters(fitted: Fitted, outlier_days: int, forecast_first_day: date) -> dict[str, Any]:
    """Smoothing parameters as floats (they are not money); states and spread in minor units."""
    results = fitted.results
    parameters: dict[str, Any] = {}
    for name, value in zip(results.param_names, np.asarray(results.params, dtype=float), strict=True):
        if name.startswith("initial_"):
            parameters[f"{name}_cents"] = round(float(value))
        else:
            parameters[name] = round(float(value), 6)
    parameters["sigma_cents"] = round(math.sqrt(max(float(results.mse), 0.0)))
    parameters["aic"] = round(float(results.aic), 2)
    parameters["outlier_days"] = outlier_days
    parameters["calendar_effects"] = [
        effect.as_json(day) for day, effect in sorted(fitted.effects.items()) if day >= forecast_first_day
    ]
    return parameters


def _tails(paths: np.ndarray, first_day: date) -> list[PeriodTail]:
    """Month and quarter sums for the periods a week-stale forecast may still be asked about."""
    tails: list[PeriodTail] = []
    seen: set[tuple[str, date]] = set()
    for offset in range(SEASON_DAYS + 1):
        day = first_day + timedelta(days=offset)
        for cadence in ("month", "quarter"):
            period_first, period_last = period_bounds(cadence, day)
            if (cadence, period_first) in seen:
                continue
            seen.add((cadence, period_first))
            count = (period_last - first_day).days + 1
            if count > paths.shape[0]:
                continue
            # Reverse cumulative sums: row i is the sum of days i .. period_last of each path.
            sums = np.cumsum(paths[:count][::-1], axis=0)[::-1]
            tails.append(
                PeriodTail(
                    cadence=cadence,
                    first_day=period_first,
                    last_day=period_last,
                    mean=_to_int(sums.mean(axis=1)),
                    lower80=_to_int(np.percentile(sums, 10, axis=1)),
                    upper80=_to_int(np.percentile(sums, 90, axis=1)),
                )
            )
    return tails


def fit_forecast(
    values: list[int],
    *,
    first_day: date,
    horizon: int = HORIZON_DAYS,
    simulations: int = SIMULATIONS,
    country: str | None = None,
) -> Fit:
    """Fit ETS(A,Ad,A) to daily nets (minor units, `first_day` onwards, no gaps) and forecast `horizon`
    days, with `country`'s holidays and recurring days of the month (`forecasts.calendar`).

    The caller checks `has_enough_history` first; at most the last MAX_FIT_DAYS are used.
    """
    if not has_enough_history(len(values)):
        raise ValueError(f"{len(values)} days of history; at least {MIN_HISTORY_DAYS} are needed")
    if len(values) > MAX_FIT_DAYS:
        first_day += timedelta(days=len(values) - MAX_FIT_DAYS)
        values = values[-MAX_FIT_DAYS:]
    fitted = fit_results(values, first_day, horizon=horizon, country=country)
    n = len(values)
    paths = np.asarray(
        fitted.results.simulate(
            nsimulations=horizon, repetitions=simulations, anchor="end", random_state=SIMULATION_SEED
        ),
        dtype=float,
    ).reshape(horizon, simulations)
    for h in range(horizon):
        if effect := fitted.effect(n + h):
            paths[h] = effect.path(paths[h])
    last_day = first_day + timedelta(days=n - 1)
    return Fit(
        model_name=MODEL_NAME,
        first_day=first_day,
        last_day=last_day,
        parameters=_parameters(
            fitted, sum(c != v for c, v in zip(fitted.cleaned, values, strict=True)), last_day + timedelta(days=1)
        ),
        band=forecast_band(fitted, n, horizon),
        tails=_tails(paths, last_day + timedelta(days=1)),
    )


def seasonal_naive(values: list[int], horizon: int) -> list[int]:
    """The baseline: every future day repeats the same weekday of the last observed week."""
    last_week = values[-SEASON_DAYS:]
    return [last_week[h % SEASON_DAYS] for h in range(horizon)]


@dataclass(frozen=True)
class Projection:
    """A period's projected total: actual through `actual_through`, forecast for the rest."""

    cadence: str
    first_day: date
    last_day: date
    actual_through: date
    actual_cents: int
    projected_cents: int
    lower80_cents: int
    upper80_cents: int

    @property
    def complete(self) -> bool:
        return self.actual_through >= self.last_day


def project_period(
    *,
    cadence: str,
    day: date,
    actual_cents: int,
    first_forecast_day: date,
    tails: list[dict[str, Any]],
) -> Projection | None:
    """The period of `cadence` containing `day`: `actual_cents` (its first day through `day`) plus the
    simulated sum of the days after `day`. None when the stored forecast does not cover those days."""
    period_first, period_last = period_bounds(cadence, day)
    if day >= period_last:
        return Projection(
            cadence, period_first, period_last, day, actual_cents, actual_cents, actual_cents, actual_cents
        )
    offset = (day + timedelta(days=1) - first_forecast_day).days
    for tail in tails:
        if tail["cadence"] == cadence and tail["first_day"] == period_first.isoformat():
            if not 0 <= offset < len(tail["mean"]):
                return None
            return Projection(
                cadence=cadence,
                first_day=period_first,
                last_day=period_last,
                actual_through=day,
                actual_cents=actual_cents,
                projected_cents=actual_cents + int(tail["mean"][offset]),
                lower80_cents=actual_cents + int(tail["lower80"][offset]),
                upper80_cents=actual_cents + int(tail["upper80"][offset]),
            )
    return None


Z95 = NormalDist().inv_cdf(0.975)


def anomaly_bounds(*, mean: int, lower95: int, upper95: int, interval: float) -> tuple[int, int]:
    """The `interval`% bounds of a day from its stored 95% ones, each side scaled about the mean:
    exact for the model's normal interval; a calendar effect's spread is scaled too (only wider)."""
    factor = NormalDist().inv_cdf(0.5 + interval / 200) / Z95
    return round(mean - (mean - lower95) * factor), round(mean + (upper95 - mean) * factor)


def is_anomaly(
    *, actual: int, mean: int, lower: int, upper: int, min_deviation: int, min_relative: float = 0.25
) -> bool:
    """A day outside the forecast's anomaly interval (`anomaly_bounds`) that is also far in money: at
    least `min_deviation` minor units and `min_relative` of the expected day away from it. The money
    floor keeps the odd day that an interval misses by chance from becoming an alert on a steady
    series; on a noisy one, the interval's level does (ALERTS_ANOMALY_INTERVAL, docs/forecasts.md)."""
    if lower <= actual <= upper:
        return False
    return abs(actual - mean) >= max(min_deviation, min_relative * abs(mean))

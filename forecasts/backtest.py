"""Rolling-origin backtest of the forecast on one daily net series (pure: no database).

Three questions, each against a baseline:

1. Month-end projection, 28 days ahead: for every month with enough history before it, stand
   28 days before its last day, fit on what was known then, project the month (actual so far +
   simulated rest) and compare with the month's actual total. Baseline: seasonal naive (every
   remaining day repeats the same weekday of the last week). Scores: MAPE, and how often the
   month's 80% interval held the actual total.
2. Daily intervals: every 14 days, fit and forecast the next 28 days; the share of actual days
   inside the 80% (and 95%) daily bounds.
3. Anomalies, one day ahead as in production: with the parameters of the last fortnightly fit, the
   model's one-step-ahead expectation of each day and its anomaly interval (`engine.is_anomaly`),
   against the injected anomaly days when they are known; baseline: the same-weekday median/MAD
   rule (passed in by the caller, alerts' detector).
"""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from . import engine

HORIZON = 28
REFIT_DAYS = 14  # the nightly fit refits every day; here parameters are refreshed fortnightly, states daily

# A baseline anomaly rule: (values, index of the day judged) -> flagged.
AnomalyRule = Callable[[Sequence[int], int], bool]


@dataclass(frozen=True)
class MonthCase:
    first_day: date
    last_day: date
    origin: date  # last day known when projecting
    actual: int
    projected: int
    lower80: int
    upper80: int
    naive: int

    @property
    def covered(self) -> bool:
        return self.lower80 <= self.actual <= self.upper80


@dataclass
class Backtest:
    first_day: date
    values: list[int]
    months: list[MonthCase] = field(default_factory=list)
    daily_inside80: int = 0
    daily_inside95: int = 0
    daily_count: int = 0
    # One step ahead, per judged day index: (mean, lower95, upper95).
    one_step: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    flagged: set[int] = field(default_factory=set)
    baseline_flagged: set[int] = field(default_factory=set)
    fit_count: int = 0

    def day(self, index: int) -> date:
        return self.first_day + timedelta(days=index)

    @staticmethod
    def _mape(pairs: list[tuple[int, int]]) -> float | None:
        pairs = [(a, p) for a, p in pairs if a != 0]
        return 100 * statistics.fmean(abs(p - a) / abs(a) for a, p in pairs) if pairs else None

    @property
    def mape(self) -> float | None:
        return self._mape([(m.actual, m.projected) for m in self.months])

    @property
    def naive_mape(self) -> float | None:
        return self._mape([(m.actual, m.naive) for m in self.months])

    @property
    def month_coverage80(self) -> float | None:
        return 100 * sum(m.covered for m in self.months) / len(self.months) if self.months else None

    @property
    def daily_coverage80(self) -> float | None:
        return 100 * self.daily_inside80 / self.daily_count if self.daily_count else None

    @property
    def daily_coverage95(self) -> float | None:
        return 100 * self.daily_inside95 / self.daily_count if self.daily_count else None

    @property
    def judged_days(self) -> int:
        return len(self.one_step)

    def anomaly_score(self, flagged: set[int], injected: set[int]) -> dict[str, Any]:
        """Caught share of the injected days judged, and false alerts per 30 judged days."""
        judged_injected = injected & set(self.one_step)
        false = flagged - injected
        months = self.judged_days / 30 if self.judged_days else 0
        return {
            "flagged": len(flagged),
            "injected": len(judged_injected),
            "caught": len(flagged & judged_injected),
            "caught_pct": 100 * len(flagged & judged_injected) / len(judged_injected) if judged_injected else None,
            "false": len(false),
            "false_per_month": len(false) / months if months else None,
        }


def _month_cases(result: Backtest, warmup: int, country: str | None) -> None:
    values, first_day = result.values, result.first_day
    last_day = result.day(len(values) - 1)
    month_first, _ = engine.month_bounds(first_day)
    while True:
        month_first, month_last = engine.month_bounds(month_first)
        if month_last > last_day:
            break
        origin = month_last - timedelta(days=HORIZON)
        known = (origin - first_day).days + 1
        if known >= warmup:
            fit = engine.fit_forecast(values[:known], first_day=first_day, horizon=HORIZON, country=country)
            result.fit_count += 1
            to_date_from = max((month_first - first_day).days, 0)
            to_date = sum(values[to_date_from:known]) if origin >= month_first else 0
            [tail] = [t for t in fit.tails if t.cadence == "month" and t.first_day == month_first]
            month_values = values[(month_first - first_day).days : (month_last - first_day).days + 1]
            naive_rest = engine.seasonal_naive(values[:known], HORIZON)
            result.months.append(
                MonthCase(
                    first_day=month_first,
                    last_day=month_last,
                    origin=origin,
                    actual=sum(month_values),
                    projected=to_date + tail.mean[0],
                    lower80=to_date + tail.lower80[0],
                    upper80=to_date + tail.upper80[0],
                    naive=to_date + sum(naive_rest),
                )
            )
        month_first = month_last + timedelta(days=1)


def _weekly_origins(
    result: Backtest,
    warmup: int,
    baseline: AnomalyRule | None,
    anomaly_floor: int,
    country: str | None,
    interval: float,
) -> None:
    values, n, first_day = result.values, len(result.values), result.first_day
    for known in range(warmup, n, REFIT_DAYS):
        fitted = engine.fit_results(values[:known], first_day, horizon=HORIZON, country=country)
        result.fit_count += 1
        horizon = min(HORIZON, n - known)
        band = engine.forecast_band(fitted, known, horizon)
        for h in range(horizon):
            actual = values[known + h]
            result.daily_count += 1
            result.daily_inside80 += band.lower80[h] <= actual <= band.upper80[h]
            result.daily_inside95 += band.lower95[h] <= actual <= band.upper95[h]
        # One step ahead for the fortnight's days, as the nightly fit does: these parameters, the
        # history as the weekly model sees it, extended day by day.
        cleaned = list(fitted.cleaned)
        for index in range(known, min(known + REFIT_DAYS, n)):
            actual = values[index]
            step = engine.one_step(fitted, cleaned, actual, z=engine.Z95)
            mean, lower95, upper95 = round(step.mean), round(step.lower), round(step.upper)
            result.one_step[index] = (mean, lower95, upper95)
            lower, upper = engine.anomaly_bounds(mean=mean, lower95=lower95, upper95=upper95, interval=interval)
            if engine.is_anomaly(actual=actual, mean=mean, lower=lower, upper=upper, min_deviation=anomaly_floor):
                result.flagged.add(index)
            if baseline is not None and baseline(values, index):
                result.baseline_flagged.add(index)
            cleaned.append(step.seen)


def backtest(
    values: list[int],
    *,
    first_day: date,
    anomaly_floor: int,
    baseline: AnomalyRule | None = None,
    warmup: int = engine.MIN_HISTORY_DAYS,
    country: str | None = None,
    interval: float = 99.0,
) -> Backtest:
    """Run the three backtests over `values` (daily net, minor units, from `first_day`), with
    `country`'s holiday calendar (None: no holidays); anomalies are days outside the `interval`%
    interval, as ALERTS_ANOMALY_INTERVAL sets it in production."""
    result = Backtest(first_day=first_day, values=values)
    if len(values) < warmup + 1:
        return result
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _month_cases(result, warmup, country)
        _weekly_origins(result, warmup, baseline, anomaly_floor, country, interval)
    return result


def report_lines(result: Backtest, *, label: str, injected: set[int] | None = None) -> list[str]:
    """The printed report: figures with their baselines."""

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f}%"

    lines = [
        f"{label}: {len(result.values)} days from {result.first_day} ({result.fit_count} fits)",
        f"  month-end projection 28 days ahead, {len(result.months)} months: "
        f"MAPE {pct(result.mape)} vs seasonal naive {pct(result.naive_mape)}; "
        f"80% month interval covered {pct(result.month_coverage80)}",
        f"  daily intervals, 1-28 days ahead, {result.daily_count} days: 80% covered {pct(result.daily_coverage80)}, "
        f"95% covered {pct(result.daily_coverage95)}",
    ]
    months = result.judged_days / 30
    if injected is not None:
        for name, flagged in (("forecast", result.flagged), ("median/MAD", result.baseline_flagged)):
            score = result.anomaly_score(flagged, injected)
            lines.append(
                f"  anomalies ({name}), {result.judged_days} days judged one day ahead: caught "
                f"{score['caught']}/{score['injected']} ({pct(score['caught_pct'])}), "
                f"{score['false']} false alerts = {score['false_per_month']:.2f} per month"
            )
    else:
        lines.append(
            f"  anomaly alerts, {result.judged_days} days judged one day ahead: forecast "
            f"{len(result.flagged)} ({len(result.flagged) / months if months else 0:.2f} per month), "
            f"median/MAD {len(result.baseline_flagged)} ({len(result.baseline_flagged) / months if months else 0:.2f} per month)"
        )
    return lines

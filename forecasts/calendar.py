"""Calendar effects a weekly model cannot see, learned from the series itself (pure: no database).

Two kinds, each applied on top of the ETS expectation of a day:

- **A named holiday** (the `holidays` library's calendar for the business's country, public and
  unofficial days, so Christmas Eve is one) whose last occurrence in the history was an outlier
  day: the day is expected to repeat what it did, as a **ratio** to the model's expectation
  (a holiday scales with the business, e.g. Thanksgiving at 45% of a usual Thursday).
- **A recurring day of the month** (contracts invoiced on the 1st and the 15th): over its last
  RECENT_OCCURRENCES occurrences, at least two thirds were more than one sigma off in the same
  direction and the mean excess is clear of noise (three standard errors). The day is expected
  to add the median **excess** in minor units (it does not scale with the rest of the business),
  and its intervals widen by the smallest and largest excess seen.

A holiday seen once as an ordinary day, or a day of the month off once or twice (an anomaly),
has no effect: only what repeats is learned.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

HOLIDAY_CATEGORIES = ("public", "unofficial")  # the holidays library's PUBLIC and UNOFFICIAL
OUTLIER_SIGMAS = 3.0
RECENT_OCCURRENCES = 6
MIN_OCCURRENCES = 4
SAME_SIGN_SHARE = 2 / 3
MAX_RATIO = 5.0


@dataclass(frozen=True)
class Effect:
    """What one calendar day does to the model's expectation m: `m * ratio + shift`, its bounds
    moving with it and widening to the `low` (lower) and `high` (upper) excess seen; a holiday has
    only a ratio, a day of the month only excesses (minor units)."""

    label: str
    ratio: float = 1.0
    shift: int = 0
    low: int = 0
    high: int = 0

    def mean(self, expected: float) -> float:
        return expected * self.ratio + self.shift

    def bounds(self, lower: float, upper: float) -> tuple[float, float]:
        """An interval symmetric about the model's expectation moved with it. A holiday's interval
        keeps its width: the ratio is learned from a year or two of occurrences and is itself
        uncertain, so the day is not judged more tightly than an ordinary one."""
        move = (lower + upper) / 2 * (self.ratio - 1)
        return lower + move + self.low, upper + move + self.high

    def path(self, values: np.ndarray) -> np.ndarray:
        """Simulated values of the day moved as its interval is (mean scaled, spread kept)."""
        return values + float(values.mean()) * (self.ratio - 1) + self.shift

    def underlying(self, actual: float) -> float:
        """The day as the weekly model would have seen it without the effect."""
        return (actual - self.shift) / self.ratio

    def as_json(self, day: date) -> dict[str, Any]:
        return {
            "day": day.isoformat(),
            "label": self.label,
            "ratio": round(self.ratio, 4),
            "shift_cents": self.shift,
            "low_cents": self.low,
            "high_cents": self.high,
        }


def holiday_calendar(country: str | None, first: date, last: date) -> dict[date, str]:
    """Named holidays of `country` from `first` to `last` ({} without a country)."""
    if not country:
        return {}
    import holidays  # loaded by the process that fits, as statsmodels is (forecasts.engine._model)

    calendar = holidays.country_holidays(country, years=range(first.year, last.year + 1), categories=HOLIDAY_CATEGORIES)
    return {day: str(name) for day, name in calendar.items() if first <= day <= last}


def _day_of_month_effect(day_of_month: int, excesses: list[float], sigma: float) -> Effect | None:
    recent = excesses[-RECENT_OCCURRENCES:]
    if len(recent) < MIN_OCCURRENCES or sigma <= 0:
        return None
    mean = statistics.fmean(recent)
    if abs(mean) < OUTLIER_SIGMAS * sigma / len(recent) ** 0.5:
        return None
    same_sign = sum(1 for excess in recent if excess * mean > 0 and abs(excess) > sigma)
    if same_sign < SAME_SIGN_SHARE * len(recent):
        return None
    return Effect(
        label=f"day {day_of_month} of the month",
        shift=round(statistics.median(recent)),
        low=round(min(recent)),
        high=round(max(recent)),
    )


def _holiday_effect(name: str, past: list[tuple[float, float]], sigma: float) -> Effect | None:
    """`past`: (actual, expected) of the holiday's earlier occurrences, oldest first."""
    if not past or sigma <= 0:
        return None
    outliers = [(actual, expected) for actual, expected in past if abs(actual - expected) > OUTLIER_SIGMAS * sigma]
    last_actual, last_expected = past[-1]
    if not outliers or abs(last_actual - last_expected) <= OUTLIER_SIGMAS * sigma:
        return None
    ratios = [actual / expected for actual, expected in outliers if expected > 0]
    if not ratios:
        return None
    return Effect(label=name, ratio=min(max(statistics.median(ratios), 0.0), MAX_RATIO))


def calendar_effects(
    *,
    values: Sequence[float] | np.ndarray[Any, Any],
    expected: Sequence[float] | np.ndarray[Any, Any],
    first_day: date,
    sigma: float,
    through: date,
    country: str | None,
) -> dict[date, Effect]:
    """Effects for every day from `first_day` through `through` (history and future alike), learned
    from the history `values` against the model's one-step `expected` values; `sigma` is the spread
    of an ordinary day. A day's effect is learned from occurrences before it only."""
    actual = np.asarray(values, dtype=float)
    excess = actual - np.asarray(expected, dtype=float)
    history_days = len(actual)
    by_day_of_month: dict[int, list[float]] = {}
    by_holiday: dict[str, list[tuple[float, float, int]]] = {}
    names = holiday_calendar(country, first_day, through)
    effects: dict[date, Effect] = {}
    day = first_day
    for index in range((through - first_day).days + 1):
        name = names.get(day)
        effect = _day_of_month_effect(day.day, by_day_of_month.get(day.day, []), sigma)
        holiday = None
        if name:
            # A past holiday on a recurring day of the month as known now (a contract on New Year's
            # Day) says nothing about the holiday: the two cannot be told apart on that day.
            past = [
                (actual_then, expected_then)
                for actual_then, expected_then, day_of_month in by_holiday.get(name, [])
                if _day_of_month_effect(day_of_month, by_day_of_month.get(day_of_month, []), sigma) is None
            ]
            holiday = _holiday_effect(name, past, sigma)
        if holiday is not None:
            effect = holiday if effect is None else Effect(name, holiday.ratio, effect.shift, effect.low, effect.high)
        if effect is not None:
            effects[day] = effect
        if index < history_days:
            by_day_of_month.setdefault(day.day, []).append(float(excess[index]))
            if name:
                by_holiday.setdefault(name, []).append(
                    (float(actual[index]), float(actual[index] - excess[index]), day.day)
                )
        day += timedelta(days=1)
    return effects

"""Business periods: the one `Cadence` (daily, weekly, monthly) and the one `Period` type.

A period is a run of whole business days (REVENUE_TIME_ZONE, DST-correct): a day, a
Monday-to-Sunday week or a calendar month, `first_day` to `last_day` inclusive. Its UTC
range is half-open, so a 23- or 25-hour day is still one day. Reports (trends),
summaries and the API all cut time with these; scheduling (when a summary is due)
lives in `summaries.periods`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import models

from .business_time import day_bounds, month_end, month_start, week_start


class Cadence(models.TextChoices):
    """How long a period is. The API's `granularity` and the `revenue_summaries.period` column hold these values."""

    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


@dataclass(frozen=True)
class Period:
    """One business period of `cadence`, `first_day` to `last_day` inclusive."""

    cadence: Cadence
    first_day: date
    last_day: date

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """Half-open UTC range [local midnight of first_day, local midnight after last_day)."""
        return day_bounds(self.first_day, self.last_day)

    def previous(self) -> Period:
        return period_containing(self.cadence, self.first_day - timedelta(days=1))

    def next(self) -> Period:
        return period_containing(self.cadence, self.last_day + timedelta(days=1))

    def label(self) -> str:
        if self.cadence == Cadence.DAILY:
            return self.first_day.isoformat()
        if self.cadence == Cadence.WEEKLY:
            return f"{self.first_day.isoformat()} to {self.last_day.isoformat()}"
        return self.first_day.strftime("%B %Y")


def cadence_of(value: str) -> Cadence:
    """`value` as a Cadence; a sentence naming the allowed values otherwise (ValueError)."""
    try:
        return Cadence(value)
    except ValueError:
        raise ValueError(f"unknown period '{value}' (expected one of {', '.join(Cadence.values)})") from None


def period_containing(cadence: str, day: date) -> Period:
    """The period of `cadence` that contains the business date `day`."""
    cadence = cadence_of(cadence)
    if cadence == Cadence.DAILY:
        return Period(cadence, day, day)
    if cadence == Cadence.WEEKLY:
        first = week_start(day)
        return Period(cadence, first, first + timedelta(days=6))
    return Period(cadence, month_start(day), month_end(day))


def periods_between(cadence: str, first_day: date, last_day: date) -> list[Period]:
    """Every period of `cadence` that overlaps [first_day, last_day], oldest first."""
    periods, current = [], period_containing(cadence, first_day)
    while current.first_day <= last_day:
        periods.append(current)
        current = current.next()
    return periods


def period_count(cadence: str, first_day: date, last_day: date) -> int:
    """How many periods of `cadence` overlap [first_day, last_day], without listing them."""
    cadence = cadence_of(cadence)
    if cadence == Cadence.DAILY:
        return (last_day - first_day).days + 1
    if cadence == Cadence.WEEKLY:
        return (week_start(last_day) - week_start(first_day)).days // 7 + 1
    return (last_day.year - first_day.year) * 12 + last_day.month - first_day.month + 1

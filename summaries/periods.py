"""Period maths in business time (REVENUE_TIME_ZONE, DST-correct).

A summary for a period is due at 06:00 business time on the day after the
period ends: daily for day D at 06:00 on D+1, weekly (Monday to Sunday) on Monday,
monthly on the 1st. "06:00" is local wall-clock time, so the UTC instant moves
with DST and a 23- or 25-hour day is still one day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from revenue.business_time import business_zone, day_bounds, month_end, month_start, week_start

DAILY, WEEKLY, MONTHLY = "daily", "weekly", "monthly"
PERIODS = (DAILY, WEEKLY, MONTHLY)

SEND_AT = time(6, 0)

# How far back a tick looks for periods that should have been sent but were not
# (a beat that was down). A fresh installation sends only the latest due period.
CATCH_UP = {DAILY: 7, WEEKLY: 4, MONTHLY: 2}


@dataclass(frozen=True, order=True)
class Period:
    start_date: date
    kind: str
    end_date: date

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """Half-open UTC range [local midnight of start_date, local midnight after end_date)."""
        return day_bounds(self.start_date, self.end_date)

    @property
    def due_at(self) -> datetime:
        """The aware instant (business zone) at which this period's summary becomes due."""
        return datetime.combine(self.end_date + timedelta(days=1), SEND_AT, tzinfo=business_zone())

    def previous(self) -> Period:
        return period_containing(self.kind, self.start_date - timedelta(days=1))

    def next(self) -> Period:
        return period_containing(self.kind, self.end_date + timedelta(days=1))

    def label(self) -> str:
        if self.kind == DAILY:
            return self.start_date.isoformat()
        if self.kind == WEEKLY:
            return f"{self.start_date.isoformat()} to {self.end_date.isoformat()}"
        return self.start_date.strftime("%B %Y")


def period_containing(kind: str, day: date) -> Period:
    if kind == DAILY:
        return Period(day, DAILY, day)
    if kind == WEEKLY:
        start = week_start(day)
        return Period(start, WEEKLY, start + timedelta(days=6))
    if kind == MONTHLY:
        return Period(month_start(day), MONTHLY, month_end(day))
    raise ValueError(f"unknown period '{kind}' (expected one of {', '.join(PERIODS)})")


def periods_between(kind: str, first_day: date, last_day: date) -> list[Period]:
    """Every period of `kind` that overlaps [first_day, last_day], oldest first."""
    periods, current = [], period_containing(kind, first_day)
    while current.start_date <= last_day:
        periods.append(current)
        current = current.next()
    return periods


def send_day(now: datetime) -> date:
    """The latest business date whose 06:00 (local wall clock) is at or before `now`."""
    local = now.astimezone(business_zone())
    return local.date() if local.time() >= SEND_AT else local.date() - timedelta(days=1)


def latest_due(kind: str, now: datetime) -> Period:
    """The most recent period of `kind` whose summary is due at `now` (it ended before the last 06:00)."""
    last_complete_day = send_day(now) - timedelta(days=1)
    period = period_containing(kind, last_complete_day)
    return period if period.end_date <= last_complete_day else period.previous()


def due_periods(kind: str, now: datetime, *, last_sent: date | None) -> list[Period]:
    """Periods due at `now` that come after the last sent one, oldest first, within the catch-up window.

    `last_sent` is the start date of the newest period already sent (None on a
    fresh installation, which then sends only the latest due period).
    """
    latest = latest_due(kind, now)
    if last_sent is None:
        return [latest]
    window = [latest]
    while len(window) < CATCH_UP[kind]:
        window.insert(0, window[0].previous())
    return [period for period in window if period.start_date > last_sent]

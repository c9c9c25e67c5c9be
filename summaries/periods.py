"""When summaries are due, in business time (REVENUE_TIME_ZONE, DST-correct); periods are `revenue.periods`.

A summary for a period is due at 06:00 business time on the day after the
period ends: daily for day D at 06:00 on D+1, weekly (Monday to Sunday) on Monday,
monthly on the 1st. "06:00" is local wall-clock time, so the UTC instant moves
with DST and a 23- or 25-hour day is still one day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from revenue.business_time import business_zone
from revenue.periods import Cadence, Period, period_containing

SEND_AT = time(6, 0)

# How far back a tick looks for periods that should have been sent but were not
# (a beat that was down). A fresh installation sends only the latest due period.
CATCH_UP = {Cadence.DAILY: 7, Cadence.WEEKLY: 4, Cadence.MONTHLY: 2}


def due_at(period: Period) -> datetime:
    """The aware instant (business zone) at which `period`'s summary becomes due."""
    return datetime.combine(period.last_day + timedelta(days=1), SEND_AT, tzinfo=business_zone())


def send_day(now: datetime) -> date:
    """The latest business date whose 06:00 (local wall clock) is at or before `now`."""
    local = now.astimezone(business_zone())
    return local.date() if local.time() >= SEND_AT else local.date() - timedelta(days=1)


def latest_due(cadence: str, now: datetime) -> Period:
    """The most recent period of `cadence` whose summary is due at `now` (it ended before the last 06:00)."""
    last_complete_day = send_day(now) - timedelta(days=1)
    period = period_containing(cadence, last_complete_day)
    return period if period.last_day <= last_complete_day else period.previous()


def due_periods(cadence: str, now: datetime, *, last_sent: date | None) -> list[Period]:
    """Periods due at `now` that come after the last sent one, oldest first, within the catch-up window.

    `last_sent` is the first day of the newest period already sent (None on a
    fresh installation, which then sends only the latest due period).
    """
    latest = latest_due(cadence, now)
    if last_sent is None:
        return [latest]
    window = [latest]
    while len(window) < CATCH_UP[Cadence(cadence)]:
        window.insert(0, window[0].previous())
    return [period for period in window if period.first_day > last_sent]

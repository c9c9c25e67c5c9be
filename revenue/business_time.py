"""Business time: days run midnight to midnight in REVENUE_TIME_ZONE (DST-correct).

Stored times are UTC; this module is the only place that turns business dates
into UTC instants and back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def business_zone() -> ZoneInfo:
    return ZoneInfo(settings.REVENUE_TIME_ZONE)


def business_now() -> datetime:
    return timezone.now().astimezone(business_zone())


def business_today() -> date:
    return business_now().date()


def business_local(instant: datetime, zone: ZoneInfo | None = None) -> datetime:
    """`instant` in the business zone (or `zone`); total: where the conversion would leave
    Python's date range (year 1, year 9999), the instant is returned in UTC instead."""
    try:
        return instant.astimezone(zone or business_zone())
    except (OverflowError, ValueError):
        try:
            return instant.astimezone(UTC)
        except (OverflowError, ValueError):
            return SAFE_MAX if instant.year > 1 else SAFE_MIN


def business_date_of(instant: datetime) -> date:
    return business_local(instant).date()


# Every reader can convert these to any time zone (offsets are under 26 hours).
SAFE_MIN = datetime(1, 1, 3, tzinfo=UTC)
SAFE_MAX = datetime(9999, 12, 29, tzinfo=UTC)


def ledger_time_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The plausible range for when money moved: LEDGER_EARLIEST_DATE (UTC midnight)
    to now + LEDGER_FUTURE_LEEWAY_HOURS. Every write path checks it (revenue.services)."""
    earliest = datetime.combine(settings.LEDGER_EARLIEST_DATE, time.min, tzinfo=UTC)
    latest = (now or timezone.now()) + timedelta(hours=settings.LEDGER_FUTURE_LEEWAY_HOURS)
    return earliest, latest


def time_window_problem(instant: datetime, *, now: datetime | None = None) -> str:
    """Why `instant` cannot be a ledger time ('' when it can). Safe for any aware datetime."""
    earliest, latest = ledger_time_window(now)
    if instant < earliest:
        return f"{instant.isoformat()} is before {earliest.date().isoformat()}, the earliest date the ledger accepts"
    if instant > latest:
        return (
            f"{instant.isoformat()} is more than {settings.LEDGER_FUTURE_LEEWAY_HOURS} hours in the future "
            f"(latest accepted: {latest.replace(microsecond=0).isoformat()})"
        )
    return ""


def day_start(day: date) -> datetime:
    """The UTC instant at which business day `day` starts (local midnight)."""
    return datetime.combine(day, time.min, tzinfo=business_zone()).astimezone(ZoneInfo("UTC"))


def day_bounds(first_day: date, last_day: date | None = None) -> tuple[datetime, datetime]:
    """Half-open UTC range [start of first_day, start of the day after last_day)."""
    last_day = last_day or first_day
    return day_start(first_day), day_start(last_day + timedelta(days=1))


def week_start(day: date) -> date:
    """The Monday of the business week containing `day`."""
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)

"""Business time: days run midnight to midnight in REVENUE_TIME_ZONE (DST-correct).

Stored times are UTC; this module is the only place that turns business dates
into UTC instants and back.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def business_zone() -> ZoneInfo:
    return ZoneInfo(settings.REVENUE_TIME_ZONE)


def business_now() -> datetime:
    return timezone.now().astimezone(business_zone())


def business_today() -> date:
    return business_now().date()


def business_date_of(instant: datetime) -> date:
    return instant.astimezone(business_zone()).date()


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

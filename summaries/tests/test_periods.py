from datetime import UTC, date, datetime, timedelta

import pytest

from revenue.periods import Cadence, period_containing, periods_between
from summaries.periods import due_periods, latest_due, send_day

DAILY, WEEKLY, MONTHLY = Cadence.DAILY, Cadence.WEEKLY, Cadence.MONTHLY


def test_periods_contain_their_day():
    assert period_containing(DAILY, date(2026, 3, 8)).last_day == date(2026, 3, 8)
    week = period_containing(WEEKLY, date(2026, 3, 8))  # a Sunday
    assert (week.first_day, week.last_day) == (date(2026, 3, 2), date(2026, 3, 8))
    month = period_containing(MONTHLY, date(2026, 2, 14))
    assert (month.first_day, month.last_day) == (date(2026, 2, 1), date(2026, 2, 28))
    with pytest.raises(ValueError, match="unknown period"):
        period_containing("hourly", date(2026, 1, 1))


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 8), 23), (date(2026, 11, 1), 25), (date(2026, 3, 9), 24), (date(2026, 10, 31), 24)],
)
def test_daily_bounds_follow_dst(day, hours):
    start, end = period_containing(DAILY, day).bounds
    assert end - start == timedelta(hours=hours)


def test_week_and_month_bounds_across_dst():
    start, end = period_containing(WEEKLY, date(2026, 3, 8)).bounds
    assert end - start == timedelta(days=7, hours=-1)
    start, end = period_containing(MONTHLY, date(2026, 11, 15)).bounds
    assert end - start == timedelta(days=30, hours=1)
    assert start == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)  # CDT midnight
    assert end == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # CST midnight


@pytest.mark.parametrize(
    ("now_utc", "expected"),
    [
        # Before the March change: 06:00 CST is 12:00 UTC.
        (datetime(2026, 3, 7, 11, 59, tzinfo=UTC), date(2026, 3, 6)),
        (datetime(2026, 3, 7, 12, 0, tzinfo=UTC), date(2026, 3, 7)),
        # The 23-hour day itself: clocks jumped at 02:00, so 06:00 CDT is 11:00 UTC.
        (datetime(2026, 3, 8, 10, 59, tzinfo=UTC), date(2026, 3, 7)),
        (datetime(2026, 3, 8, 11, 0, tzinfo=UTC), date(2026, 3, 8)),
        # The morning after the 23-hour day: 06:00 CDT is 11:00 UTC.
        (datetime(2026, 3, 9, 10, 59, tzinfo=UTC), date(2026, 3, 8)),
        (datetime(2026, 3, 9, 11, 0, tzinfo=UTC), date(2026, 3, 9)),
        # The morning of the 25-hour day: 06:00 CST on Nov 1 is 12:00 UTC.
        (datetime(2026, 11, 1, 11, 59, tzinfo=UTC), date(2026, 10, 31)),
        (datetime(2026, 11, 1, 12, 0, tzinfo=UTC), date(2026, 11, 1)),
    ],
)
def test_send_day_turns_at_six_local(now_utc, expected):
    assert send_day(now_utc) == expected


def test_latest_due_periods():
    monday_six = datetime(2026, 3, 9, 11, 0, tzinfo=UTC)  # 06:00 CDT, Monday
    assert latest_due(DAILY, monday_six).first_day == date(2026, 3, 8)
    assert latest_due(WEEKLY, monday_six).first_day == date(2026, 3, 2)
    assert latest_due(WEEKLY, monday_six - timedelta(minutes=1)).first_day == date(2026, 2, 23)
    first_six = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # 06:00 CST on Dec 1
    assert latest_due(MONTHLY, first_six).first_day == date(2026, 11, 1)
    assert latest_due(MONTHLY, first_six - timedelta(seconds=1)).first_day == date(2026, 10, 1)


def test_due_periods_catch_up_within_the_window():
    now = datetime(2026, 3, 12, 15, 0, tzinfo=UTC)
    assert [p.first_day for p in due_periods(DAILY, now, last_sent=None)] == [date(2026, 3, 11)]
    assert [p.first_day for p in due_periods(DAILY, now, last_sent=date(2026, 3, 8))] == [
        date(2026, 3, 9),
        date(2026, 3, 10),
        date(2026, 3, 11),
    ]
    assert due_periods(DAILY, now, last_sent=date(2026, 3, 11)) == []
    # Down for a month: only the catch-up window is sent.
    assert len(due_periods(DAILY, now, last_sent=date(2026, 2, 1))) == 7


def test_periods_between():
    weeks = periods_between(WEEKLY, date(2026, 3, 1), date(2026, 3, 31))
    assert weeks[0].first_day == date(2026, 2, 23) and weeks[-1].first_day == date(2026, 3, 30)
    assert len(periods_between(DAILY, date(2024, 1, 1), date(2025, 12, 31))) == 731

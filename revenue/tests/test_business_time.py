from datetime import UTC, date, datetime

from revenue.business_time import business_date_of, day_bounds, month_end, week_start


def test_dst_days_have_23_and_25_hours():
    spring_start, spring_end = day_bounds(date(2026, 3, 8))
    fall_start, fall_end = day_bounds(date(2026, 11, 1))
    assert (spring_end - spring_start).total_seconds() == 23 * 3600
    assert (fall_end - fall_start).total_seconds() == 25 * 3600
    assert spring_start == datetime(2026, 3, 8, 6, tzinfo=UTC)
    assert fall_end == datetime(2026, 11, 2, 6, tzinfo=UTC)


def test_business_date_of_late_evening_utc():
    assert business_date_of(datetime(2026, 7, 2, 3, 30, tzinfo=UTC)) == date(2026, 7, 1)


def test_week_and_month_helpers():
    assert week_start(date(2026, 11, 25)) == date(2026, 11, 23)
    assert month_end(date(2026, 2, 10)) == date(2026, 2, 28)
    assert month_end(date(2026, 12, 31)) == date(2026, 12, 31)

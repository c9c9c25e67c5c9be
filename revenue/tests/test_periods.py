"""The one period type: Cadence, Period, periods_between, period_count (pure, no database)."""

from datetime import date, timedelta
from itertools import pairwise

import pytest

from revenue.periods import Cadence, Period, cadence_of, period_containing, period_count, periods_between


@pytest.mark.parametrize("cadence", list(Cadence))
@pytest.mark.parametrize(
    ("first_day", "last_day"),
    [
        (date(2026, 3, 8), date(2026, 3, 8)),  # the 23-hour day
        (date(2026, 2, 27), date(2026, 3, 2)),  # across a month end, Friday to Monday
        (date(2025, 12, 29), date(2027, 1, 3)),  # more than a year
    ],
)
def test_period_count_is_the_length_of_periods_between(cadence, first_day, last_day):
    periods = periods_between(cadence, first_day, last_day)
    assert period_count(cadence, first_day, last_day) == len(periods)
    assert periods[0].first_day <= first_day <= periods[0].last_day
    assert periods[-1].first_day <= last_day <= periods[-1].last_day
    for earlier, later in pairwise(periods):
        assert later.first_day == earlier.last_day + timedelta(days=1)
        assert earlier.next() == later and later.previous() == earlier


def test_periods_are_one_type_with_cadence_first_and_last_day():
    assert period_containing("weekly", date(2026, 3, 8)) == Period(Cadence.WEEKLY, date(2026, 3, 2), date(2026, 3, 8))
    assert period_containing(Cadence.MONTHLY, date(2024, 2, 10)).last_day == date(2024, 2, 29)
    assert period_containing("monthly", date(2026, 2, 10)).label() == "February 2026"
    assert period_containing("weekly", date(2026, 3, 8)).label() == "2026-03-02 to 2026-03-08"


def test_an_unknown_cadence_is_refused_with_the_allowed_values():
    with pytest.raises(ValueError, match=r"unknown period 'hourly' \(expected one of daily, weekly, monthly\)"):
        cadence_of("hourly")
    with pytest.raises(ValueError, match="unknown period"):
        periods_between("yearly", date(2026, 1, 1), date(2026, 2, 1))

# ruff: noqa: F811  (pytest fixtures imported from summary_fixtures are used as arguments)
"""The daily digest's forecast lines (issue 19), as a Slack receiver (pytest-httpserver) gets them."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from forecasts.selectors import forecast_outlooks
from forecasts.services import forecasts_fit
from forecasts.tests.factories import record_days, weekly_amount

from .summary_fixtures import DAILY_TITLE, day_of_revenue, run, slack, tick  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 8)  # the digest's day (summary_fixtures)


def whole(cents: int) -> str:
    return f"{(Decimal(cents) / 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN):,f}"


@pytest.fixture
def forecast_history(entities):
    record_days(
        entity=entities["aplus-enterprise"],
        first_day=date(2025, 12, 29),
        last_day=date(2026, 3, 7),
        amount=weekly_amount(),
    )
    record_days(
        entity=entities["legacy-unchained"],
        first_day=date(2026, 3, 1),
        last_day=date(2026, 3, 7),
        amount=lambda day: 20_000,
    )
    forecasts_fit(last_day=date(2026, 3, 7))  # the 06:10 fit of March 8


def test_digest_shows_month_to_date_and_the_projected_month_and_quarter(forecast_history, day_of_revenue, slack, tick):
    tick()
    [post] = slack.titled(DAILY_TITLE)
    aplus = next(o for o in forecast_outlooks(day=DAY) if o.entity.slug == "aplus-enterprise")
    month, quarter = aplus.month, aplus.quarter
    assert month is not None and quarter is not None
    assert month.actual_through == DAY and month.lower80_cents < month.projected_cents < month.upper80_cents
    expected = (
        f"A+ Enterprise LLC USD: Month to date {whole(month.actual_cents)} USD; "
        f"projected month {whole(month.projected_cents)} USD, "
        f"80% range {whole(month.lower80_cents)}\u2013{whole(month.upper80_cents)}; "
        f"projected quarter {whole(quarter.projected_cents)} USD, "
        f"80% range {whole(quarter.lower80_cents)}\u2013{whole(quarter.upper80_cents)}"
    )
    lines = post["text"].split("\n")
    assert "Forecast (actual to date + forecast rest):" in lines
    assert expected in lines
    assert "Legacy Unchained Inc USD: not enough history (7 days; 56 needed)" in lines
    # The same lines in a Block Kit section.
    assert any(expected in block.get("text", {}).get("text", "") for block in post["blocks"])


def test_a_digest_without_forecasts_has_no_forecast_lines(day_of_revenue, slack, tick):
    tick()
    [post] = slack.titled(DAILY_TITLE)
    assert "Forecast" not in post["text"]

"""The backtest (pure) and `manage.py backtest_forecast` over the real ledger."""

from __future__ import annotations

import io
import random
from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command

from forecasts.backtest import backtest, report_lines
from forecasts.engine import seasonal_naive
from forecasts.management.commands.backtest_forecast import MedianMadRule
from revenue.business_time import business_today

from .factories import WEEKLY, record_days, weekly_amount

FIRST = date(2025, 9, 1)  # a Monday


def series(days: int, injected: set[int]) -> list[int]:
    rng = random.Random(7)
    values = []
    for n in range(days):
        value = 200_000 * (1 + 0.3 * n / 365) * WEEKLY[n % 7] * (1 + rng.gauss(0, 0.05))
        values.append(round(value * (1.4 if n in injected else 1)))
    return values


def test_backtest_scores_projection_intervals_and_anomalies_against_baselines():
    injected = {70, 95, 120}
    values = series(150, injected)
    rule = MedianMadRule(first_day=FIRST, currency="USD")
    result = backtest(values, first_day=FIRST, anomaly_floor=rule.floor, baseline=rule)
    # Months whose origin (28 days before the end) has 56 days behind it: October is too early.
    assert [m.first_day for m in result.months] == [date(2025, 11, 1), date(2025, 12, 1)]
    november = result.months[0]
    assert november.origin == date(2025, 11, 2)
    assert november.actual == sum(values[61:91])
    assert november.naive == sum(values[61:63]) + sum(seasonal_naive(values[:63], 28))
    assert november.lower80 < november.projected < november.upper80
    assert result.mape is not None and result.naive_mape is not None
    assert result.judged_days == 150 - 56 and result.daily_count > 0
    assert injected <= result.flagged  # +40% days on a 5%-noise series
    assert result.anomaly_score(result.flagged, injected)["caught"] == 3
    lines = report_lines(result, label="synthetic", injected=injected)
    assert lines[1].startswith("  month-end projection 28 days ahead, 2 months: MAPE ")
    assert "vs seasonal naive" in lines[1] and "80% month interval covered" in lines[1]
    assert "caught 3/3 (100.0%)" in lines[3]


@pytest.mark.django_db
def test_command_prints_the_backtest_and_writes_the_plot(entities, tmp_path):
    yesterday = business_today() - timedelta(days=1)
    record_days(
        entity=entities["aplus-enterprise"],
        first_day=yesterday - timedelta(days=99),
        last_day=yesterday,
        amount=weekly_amount(),
    )
    out = io.StringIO()
    plot = tmp_path / "backtest.png"
    call_command("backtest_forecast", entity="aplus-enterprise", currency="usd", plot=plot, stdout=out)
    text = out.getvalue()
    assert text.startswith("A+ Enterprise LLC USD: 100 days from ")
    assert "month-end projection 28 days ahead" in text and "vs seasonal naive" in text
    assert "daily intervals, 1-28 days ahead" in text and "80% covered" in text
    assert "median/MAD" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.django_db
def test_command_refuses_unknown_entities_and_empty_series(entities):
    with pytest.raises(CommandError, match="no entity"):
        call_command("backtest_forecast", entity="nobody", currency="USD")
    with pytest.raises(CommandError, match="no EUR ledger rows"):
        call_command("backtest_forecast", entity="aplus-enterprise", currency="EUR")

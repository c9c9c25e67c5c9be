"""The backtest's picture: actual daily net against the one-day-ahead 95% band, and the month-end
projections (28 days ahead, with their 80% interval) against the actual month and seasonal naive."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: PNG files only

import matplotlib.pyplot as plt

from .backtest import Backtest


def backtest_plot(
    result: Backtest, *, title: str, path: Path, exponent: int = 2, injected: set[int] | None = None
) -> Path:
    scale = 10**exponent
    figure, (days_axis, months_axis) = plt.subplots(2, 1, figsize=(12, 8), height_ratios=(3, 2))
    judged = sorted(result.one_step)
    if judged:
        days = [result.day(i) for i in judged]
        days_axis.fill_between(
            days,
            [result.one_step[i][1] / scale for i in judged],
            [result.one_step[i][2] / scale for i in judged],
            color="#0072B2",
            alpha=0.2,
            label="forecast 95% (one day ahead)",
        )
        days_axis.plot(days, [result.one_step[i][0] / scale for i in judged], color="#0072B2", lw=1, label="expected")
    every = [result.day(i) for i in range(len(result.values))]
    days_axis.plot(every, [v / scale for v in result.values], color="#222", lw=0.8, label="actual")
    if result.flagged:
        flagged = sorted(result.flagged)
        days_axis.scatter(
            [result.day(i) for i in flagged],
            [result.values[i] / scale for i in flagged],
            color="#D55E00",
            s=18,
            zorder=3,
            label="anomaly alert",
        )
    if injected:
        marks = sorted(injected)
        days_axis.scatter(
            [result.day(i) for i in marks],
            [result.values[i] / scale for i in marks],
            facecolors="none",
            edgecolors="#009E73",
            s=50,
            zorder=4,
            label="injected anomaly",
        )
    days_axis.set_title(f"{title}: daily net, actual vs forecast band")
    days_axis.legend(loc="upper left", fontsize=8)
    months = result.months
    if months:
        x = [m.last_day - timedelta(days=14) for m in months]
        months_axis.bar(x, [m.actual / scale for m in months], width=20, color="#ccc", label="actual month")
        months_axis.errorbar(
            x,
            [m.projected / scale for m in months],
            yerr=[
                [(m.projected - m.lower80) / scale for m in months],
                [(m.upper80 - m.projected) / scale for m in months],
            ],
            fmt="o",
            color="#0072B2",
            capsize=3,
            label="forecast (80% interval)",
        )
        months_axis.scatter(x, [m.naive / scale for m in months], marker="x", color="#E69F00", label="seasonal naive")
    months_axis.set_title("Month-end projection made 28 days before month end")
    months_axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path

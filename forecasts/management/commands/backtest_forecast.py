"""Rolling-origin backtest of the forecast over the ledger, for one entity and currency.

    manage.py backtest_forecast --entity aplus-enterprise --currency USD [--plot artifacts/forecasts/x.png]

Prints the month-end projection's MAPE (28 days ahead) against seasonal naive, the 80% interval
coverage, and the anomaly alerts the forecast and the same-weekday median/MAD rule would have raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# The baseline is the alerts app's own rule, run as is (the one import of an outer app in forecasts,
# allowed for this command alone in pyproject.toml's import contract).
from alerts.detectors import AnomalyPolicy, detect_anomaly
from alerts.selectors import DailySeries
from forecasts.backtest import backtest, report_lines
from forecasts.plot import backtest_plot
from forecasts.selectors import daily_histories
from revenue.business_time import business_today
from revenue.models import Entity
from revenue.money import minor_unit_exponent, normalize_currency


@dataclass(frozen=True)
class MedianMadRule:
    """The same-weekday median/MAD anomaly rule (alerts.detectors.detect_anomaly) over a plain series."""

    first_day: date
    currency: str

    @property
    def policy(self) -> AnomalyPolicy:
        return AnomalyPolicy(
            min_deviation_major=settings.ALERTS_ANOMALY_MIN_DEVIATION,
            forecast_interval=settings.ALERTS_ANOMALY_INTERVAL,
        )

    @property
    def floor(self) -> int:
        """The policy's money floor in minor units: the forecast rule uses the same one."""
        return self.policy.min_deviation_major * 10 ** minor_unit_exponent(self.currency)

    def __call__(self, values: Sequence[int], index: int) -> bool:
        day = self.first_day + timedelta(days=index)
        indexes = [index - 7 * k for k in range(self.policy.weeks + 1) if index - 7 * k >= 0]
        series = DailySeries(
            entity_id=0,
            currency=self.currency,
            first_day=self.first_day,
            nets={self.first_day + timedelta(days=i): values[i] for i in indexes},
            counts={},
        )
        return detect_anomaly(series=series, day=day, entity_name="", policy=self.policy) is not None


class Command(BaseCommand):
    help = "Backtest the revenue forecast (rolling origin) against seasonal naive and the median/MAD anomaly rule."

    def add_arguments(self, parser):
        parser.add_argument("--entity", required=True, help="Entity slug.")
        parser.add_argument("--currency", required=True)
        parser.add_argument("--plot", type=Path, help="Write a PNG of actual vs forecast band here.")

    def handle(self, *args, entity: str, currency: str, plot: Path | None, **options):
        found = Entity.objects.filter(slug=entity).first()
        if found is None:
            raise CommandError(f"no entity with slug {entity!r}")
        currency = normalize_currency(currency)
        last_day = business_today() - timedelta(days=1)
        histories = daily_histories(last_day=last_day, entity=found, currency=currency)
        if not histories:
            raise CommandError(f"{found.name} has no {currency} ledger rows")
        [history] = histories
        rule = MedianMadRule(first_day=history.first_day, currency=currency)
        result = backtest(
            history.values,
            first_day=history.first_day,
            anomaly_floor=rule.floor,
            baseline=rule,
            country=settings.FORECAST_HOLIDAY_COUNTRY,
            interval=settings.ALERTS_ANOMALY_INTERVAL,
        )
        if not result.judged_days:
            raise CommandError(f"not enough history: {history.history_days} days (at least 57 are needed to backtest)")
        for line in report_lines(result, label=f"{found.name} {currency}"):
            self.stdout.write(line)
        if plot is not None:
            backtest_plot(result, title=f"{found.name} {currency}", path=plot, exponent=minor_unit_exponent(currency))
            self.stdout.write(f"plot: {plot}")

"""Exchange rates: refresh the ECB reference rates, then one alert per currency whose ledger rows
have no rate ("no rate": left out of every USD figure, never converted at zero or a guess)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from revenue.business_time import business_today
from revenue.errors import ApplicationError
from revenue.selectors.rates import rows_without_rate
from revenue.services.exchange_rates import exchange_rates_fetch_ecb

from .models import RevenueAlert
from .services import alert_raise

# How far back rows without a rate are looked for: a rate stored later converts new rows only
# (the ledger is append-only), so old ones stay "no rate" and are reported until resolved by hand.
NO_RATE_LOOKBACK_DAYS = 35


def exchange_rates_refresh() -> dict[str, int]:
    """Fetch the ECB rates (an unreachable ECB is one alert per day), then alert on rows with no rate."""
    fetched = 0
    try:
        fetched = exchange_rates_fetch_ecb().created
    except ApplicationError as exc:
        with transaction.atomic():
            alert_raise(
                alert_type=RevenueAlert.AlertType.INGESTION,
                severity=RevenueAlert.Severity.WARNING,
                message=f"{exc.message}. Rows in other currencies get no USD amount until a rate exists.",
                fingerprint=f"fx:ecb-unavailable:{business_today().isoformat()}",
                metadata={"code": exc.code},
            )
    missing = no_rate_alerts_raise()
    return {"rates_created": fetched, "currencies_without_rate": missing}


@transaction.atomic
def no_rate_alerts_raise() -> int:
    """One alert per currency with rows that have no rate (the fingerprint names the currency)."""
    since = business_today() - timedelta(days=NO_RATE_LOOKBACK_DAYS)
    found = rows_without_rate(since=since)
    for missing in found:
        alert_raise(
            alert_type=RevenueAlert.AlertType.RECONCILIATION,
            severity=RevenueAlert.Severity.WARNING,
            message=(
                f"No rate: {missing.rows} ledger row(s) in {missing.currency} since {missing.first_on:%Y-%m-%d} "
                f"have no USD amount and are left out of USD totals (never counted as zero). Add the rate in "
                "Admin > Revenue > Exchange rates, or check the ECB fetch."
            ),
            fingerprint=f"fx:no-rate:{missing.currency}",
            metadata={"currency": missing.currency, "rows": missing.rows, "first_on": missing.first_on.isoformat()},
        )
    return len(found)

"""Reconciliation alerts: money expected in the bank (or seen in the bank) and unmatched past the window.

Lives in alerts because alerts may import revenue, never the reverse. One alert per entity
(fingerprint `reconciliation:stale:<entity>`), updated while the condition lasts.
"""

from __future__ import annotations

from datetime import date

from celery import shared_task

from revenue.money import format_money
from revenue.reconciliation.selectors import stale_unmatched
from revenue.reconciliation.services import reconciliation_run, window_business_days

from .models import RevenueAlert
from .services import alert_raise


def _amounts(rows: list[dict]) -> str:
    return ", ".join(format_money(r["total"], r["currency"]) for r in sorted(rows, key=lambda r: r["currency"]))


def reconciliation_check(*, today: date | None = None) -> list[RevenueAlert]:
    """Refresh expectations and auto-match first, then raise one alert per entity with stale unmatched items."""
    reconciliation_run()
    alerts = []
    window = window_business_days()
    for stale in stale_unmatched(today=today):
        parts = []
        if stale.expected:
            n = sum(r["n"] for r in stale.expected)
            parts.append(f"{n} expected deposit{'s' if n != 1 else ''} not in the bank ({_amounts(stale.expected)})")
        if stale.deposits:
            n = sum(r["n"] for r in stale.deposits)
            parts.append(f"{n} bank deposit{'s' if n != 1 else ''} with no source ({_amounts(stale.deposits)})")
        message = f"{stale.entity.name}: " + " and ".join(parts) + f", unmatched for more than {window} business days"
        alert, _ = alert_raise(
            alert_type=RevenueAlert.AlertType.RECONCILIATION,
            severity=RevenueAlert.Severity.WARNING,
            message=message,
            fingerprint=f"reconciliation:stale:{stale.entity.slug}",
            metadata={
                "cutoff": stale.cutoff.isoformat(),
                "window_business_days": window,
                "expected": [
                    {"currency": r["currency"], "amount_cents": r["total"], "count": r["n"]} for r in stale.expected
                ],
                "deposits": [
                    {"currency": r["currency"], "amount_cents": r["total"], "count": r["n"]} for r in stale.deposits
                ],
                "expected_ids": stale.expected_ids,
                "deposit_ids": stale.deposit_ids,
            },
            entity=stale.entity,
        )
        alerts.append(alert)
    return alerts


@shared_task(name="alerts.reconciliation_check")
def reconciliation_check_task() -> int:
    return len(reconciliation_check())

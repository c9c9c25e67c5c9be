"""The admin index overview: yesterday (the morning view), today's revenue per entity and currency,
open alerts and the day's tasks.

Lives in branchberg because it composes revenue and alerts.
"""

from __future__ import annotations

from django import template
from django.db.models import Count
from django.urls import NoReverseMatch, reverse

from alerts.models import RevenueAlert
from alerts.morning import morning_view
from revenue.business_time import business_today, business_zone
from revenue.selectors import ledger_rows_path, revenue_by_entity_and_currency

register = template.Library()


@register.simple_tag
def backoffice_overview() -> dict:
    today = business_today()
    rows = revenue_by_entity_and_currency(day=today)
    for row in rows:
        row["url"] = ledger_rows_path(
            first_day=today, last_day=today, entity_id=row["entity_id"], currency=row["currency"]
        )
    by_severity = dict(
        RevenueAlert.objects.filter(status__in=RevenueAlert.ACTIVE_STATUSES)
        .values_list("severity")
        .annotate(n=Count("id"))
        .values_list("severity", "n")
    )
    order = [RevenueAlert.Severity.CRITICAL, RevenueAlert.Severity.WARNING, RevenueAlert.Severity.INFO]
    try:
        alerts_url = reverse("admin:alerts_revenuealert_changelist") + "?status__in=open,acknowledged"
    except NoReverseMatch:  # the alerts admin is registered by the alerts app when present
        alerts_url = ""
    return {
        "morning": morning_view(),
        "today": today,
        "zone": str(business_zone()),
        "rows": rows,
        "open_alerts": sum(by_severity.values()),
        "alerts_by_severity": [(str(s), by_severity[s]) for s in order if by_severity.get(s)],
        "alerts_url": alerts_url,
    }

"""The admin index overview: today's revenue per entity and currency, and open alerts.

Lives in branchberg because it composes revenue and alerts.
"""

from __future__ import annotations

from django import template
from django.db.models import Count
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode

from alerts.models import RevenueAlert
from revenue.business_time import business_today, business_zone, day_bounds
from revenue.selectors import revenue_by_entity_and_currency

register = template.Library()


@register.simple_tag
def backoffice_overview() -> dict:
    today = business_today()
    start, end = day_bounds(today)
    ledger_url = reverse("admin:revenue_revenueevent_changelist")
    rows = revenue_by_entity_and_currency(day=today)
    for row in rows:
        query = {
            "entity__id__exact": row["entity_id"],
            "currency": row["currency"],
            "occurred_at__gte": start.isoformat(),
            "occurred_at__lt": end.isoformat(),
        }
        row["url"] = f"{ledger_url}?{urlencode(query)}"
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
        "today": today,
        "zone": str(business_zone()),
        "rows": rows,
        "open_alerts": sum(by_severity.values()),
        "alerts_by_severity": [(str(s), by_severity[s]) for s in order if by_severity.get(s)],
        "alerts_url": alerts_url,
    }

"""The owner's morning view: yesterday's figures (revenue.selectors.morning) and the open alerts.

One selector, `morning_view`, feeds the dashboard's morning panel and the daily
digest (Slack, Notion: `morning_payload` is its JSON form in the outbox message).
It lives here because alerts is the innermost app that sees both the ledger and
the alerts. Every figure and alert carries the back office path of its rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.urls import reverse

from revenue.models import Entity
from revenue.selectors.morning import WINDOWS, MorningFigures, morning_figures

from .models import RevenueAlert
from .selectors import active_alerts, open_alerts

ALERT_LIMIT = 5


@dataclass(frozen=True)
class MorningAlert:
    severity: str
    severity_label: str
    type_label: str
    message: str
    entity_name: str
    created_at: datetime
    url: str  # the alert's admin page


@dataclass(frozen=True)
class MorningView:
    figures: MorningFigures
    alerts: list[MorningAlert]  # most severe, then newest, first; at most ALERT_LIMIT
    open_alert_count: int
    alerts_url: str  # every open and acknowledged alert in the admin


def _morning_alert(alert: RevenueAlert) -> MorningAlert:
    return MorningAlert(
        severity=alert.severity,
        severity_label=alert.get_severity_display(),
        type_label=alert.get_alert_type_display(),
        message=alert.message,
        entity_name=alert.entity.name if alert.entity else "",
        created_at=alert.created_at,
        url=reverse("admin:alerts_revenuealert_change", args=[alert.pk]),
    )


def morning_view(
    *, day: date | None = None, entity: Entity | None = None, entities: list[Entity] | None = None
) -> MorningView:
    """Yesterday (or `day`) per entity and in total, and the open alerts. Five queries at most
    (four when the caller passes `entities`, every entity by name)."""
    alerts = open_alerts(entity=entity, limit=ALERT_LIMIT)
    count = len(alerts) if len(alerts) < ALERT_LIMIT else active_alerts(entity=entity).count()
    return MorningView(
        figures=morning_figures(day=day, entity=entity, entities=entities),
        alerts=[_morning_alert(alert) for alert in alerts],
        open_alert_count=count,
        alerts_url=reverse("admin:alerts_revenuealert_changelist") + "?status__in=open,acknowledged",
    )


def morning_payload(view: MorningView) -> dict[str, Any]:
    """The morning view as JSON for the daily digest's outbox message (paths, not absolute URLs)."""
    figures = view.figures
    return {
        "day": figures.day.isoformat(),
        "compare_day": figures.compare_day.isoformat(),
        "week_first": figures.week_first.isoformat(),
        "month_first": figures.month_first.isoformat(),
        "scopes": [
            {
                "name": scope.name,
                "slug": scope.slug,
                "lines": [
                    {
                        "currency": line.currency,
                        **{f"{window}_cents": getattr(line, window).amount_cents for window in WINDOWS},
                        "urls": {window: getattr(line, window).url for window in WINDOWS},
                    }
                    for line in scope.lines
                ],
            }
            for scope in figures.scopes
        ],
        "open_alert_count": view.open_alert_count,
        "alerts_url": view.alerts_url,
        "alerts": [
            {
                "severity": alert.severity,
                "type": alert.type_label,
                "message": alert.message,
                "entity": alert.entity_name,
                "url": alert.url,
            }
            for alert in view.alerts
        ],
    }

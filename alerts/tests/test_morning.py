"""The morning view: the figures and the open alerts, one selector for the dashboard and the digest."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from alerts.models import RevenueAlert
from alerts.morning import ALERT_LIMIT, morning_payload, morning_view
from alerts.services import alert_raise
from revenue.business_time import business_zone
from revenue.models import Entity
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

DAY = date(2026, 3, 11)


def _alert(n: int, severity: str = "warning", entity=None) -> RevenueAlert:
    alert, _ = alert_raise(
        alert_type="threshold",
        severity=severity,
        message=f"Alert number {n}",
        fingerprint=f"test:morning:{n}",
        entity=entity,
    )
    return alert


@pytest.fixture
def sale(entities):
    revenue_event_record(
        entry=ledger_entry(amount_cents=12345, occurred_at=datetime.combine(DAY, time(9), tzinfo=business_zone())),
        entity=entities["aplus-enterprise"],
    )


@pytest.mark.django_db
def test_open_alerts_most_severe_first_each_linked(sale, entities, admin_client):
    _alert(1, "info")
    critical = _alert(2, "critical", entity=entities["legacy-unchained"])
    _alert(3, "warning")
    view = morning_view(day=DAY)
    assert [alert.message for alert in view.alerts] == ["Alert number 2", "Alert number 3", "Alert number 1"]
    assert view.open_alert_count == 3
    first = view.alerts[0]
    assert (first.severity_label, first.entity_name) == ("Critical", "Legacy Unchained Inc")
    assert first.url == f"/admin/alerts/revenuealert/{critical.pk}/change/"
    assert admin_client.get(first.url).status_code == 200
    assert admin_client.get(view.alerts_url).context["cl"].result_count == 3
    # One entity: its alerts and the ones about no entity in particular.
    assert morning_view(day=DAY, entity=entities["aplus-enterprise"]).open_alert_count == 2


@pytest.mark.django_db
def test_query_count_does_not_grow_with_alerts_or_entities(sale, entities, django_assert_max_num_queries):
    for n in range(ALERT_LIMIT + 3):
        _alert(n, entity=entities["aplus-enterprise"] if n % 2 else None)
    for n in range(5):
        Entity.objects.create(name=f"Extra entity {n}", slug=f"extra-{n}")
    entities_by_name = list(Entity.objects.order_by("name"))
    with django_assert_max_num_queries(4):  # two totals, the alerts, their count
        view = morning_view(day=DAY, entities=entities_by_name)
    assert len(view.alerts) == ALERT_LIMIT and view.open_alert_count == ALERT_LIMIT + 3
    assert len(view.figures.scopes) == 1 + 2 + 5
    with django_assert_max_num_queries(5):  # and the entities, when the caller has not loaded them
        morning_view(day=DAY)


@pytest.mark.django_db
def test_payload_is_json_with_paths(sale, entities):
    _alert(1, "critical")
    payload = morning_payload(morning_view(day=DAY))
    assert payload["day"] == "2026-03-11" and payload["compare_day"] == "2026-03-04"
    total, aplus, legacy = payload["scopes"]
    assert total["slug"] == "" and legacy["lines"] == []
    [line] = aplus["lines"]
    assert {key: line[key] for key in line if key.endswith("_cents")} == {
        "day_cents": 12345,
        "compare_day_cents": 0,
        "week_to_date_cents": 12345,
        "month_to_date_cents": 12345,
    }
    assert line["urls"]["day"].startswith("/admin/revenue/revenueevent/?entity__id__exact=")
    assert payload["open_alert_count"] == 1
    assert payload["alerts"][0]["url"].startswith("/admin/alerts/revenuealert/")

# ruff: noqa: F811  (pytest fixtures imported from summary_fixtures are used as arguments)
"""Summary pages in Notion through notion-client against a real local HTTP server."""

from datetime import timedelta

import pytest
from django.urls import reverse

from alerts.models import RevenueAlert
from integrations.models import Delivery
from integrations.notion import NOTION_VERSION

from .summary_fixtures import (  # noqa: F401  (fixtures)
    DAILY_TITLE,
    MORNING,
    day_of_revenue,
    notion,
    run,
    sweep,
    tick,
)

pytestmark = pytest.mark.django_db


def _daily_delivery() -> Delivery:
    return Delivery.objects.get(channel="notion", message__topic="summary.daily")


def _daily_page(fake) -> dict:
    [page] = [
        page
        for page in fake.pages.values()
        if page["properties"]["Summary key"]["rich_text"][0]["text"]["content"] == "daily:2026-03-08"
    ]
    return page


def test_one_page_per_summary_with_its_figures(day_of_revenue, notion, tick):
    tick()
    assert len(notion.pages) == 3  # daily, weekly, monthly
    page = _daily_page(notion)
    properties = page["properties"]
    assert properties["Name"]["title"][0]["text"]["content"] == DAILY_TITLE
    assert properties["Net"] == {"number": 20770.0}
    assert properties["Events"] == {"number": 6}
    assert properties["Net exact"]["rich_text"][0]["text"]["content"] == "$20,770.00"
    assert properties["Period"] == {"select": {"name": "daily"}}
    assert properties["Start"] == {"date": {"start": "2026-03-08"}}
    _, _, headers, body = next(r for r in notion.requests if r[0] == "POST" and r[1] == "/v1/pages")
    assert headers["Notion-Version"] == NOTION_VERSION
    assert headers["Authorization"] == "Bearer secret_notion_test"
    assert body["parent"] == {"database_id": notion.database_id}
    paragraphs = [block["paragraph"]["rich_text"][0]["text"]["content"] for block in body["children"]]
    assert paragraphs[0] == DAILY_TITLE
    assert "Legacy Unchained Inc: $8,320.00" in paragraphs[1]
    delivery = _daily_delivery()
    assert delivery.status == Delivery.Status.SENT and delivery.external_id == page["id"]


def test_a_retry_after_a_lost_answer_updates_the_page_instead_of_duplicating(day_of_revenue, notion, tick, sweep):
    notion.fail_next_create = (500, {})  # Notion stores the daily page, then answers 500
    tick()
    assert _daily_delivery().status == Delivery.Status.RETRYING
    sweep(MORNING + timedelta(minutes=5))
    assert len(notion.pages) == 3
    delivery = _daily_delivery()
    assert delivery.status == Delivery.Status.SENT and delivery.external_id == _daily_page(notion)["id"]
    assert len(notion.calls("PATCH", "/v1/pages/")) == 1


def test_429_then_success_honours_retry_after(day_of_revenue, notion, tick, sweep):
    notion.script.append((429, {"Retry-After": "60"}))  # the daily digest's first request
    tick()
    delivery = _daily_delivery()
    assert delivery.status == Delivery.Status.RETRYING and delivery.last_status_code == 429
    assert delivery.next_attempt_at - MORNING >= timedelta(seconds=60)
    sweep(MORNING + timedelta(seconds=45))
    assert _daily_delivery().status == Delivery.Status.RETRYING
    sweep(MORNING + timedelta(seconds=61))
    assert _daily_delivery().status == Delivery.Status.SENT
    assert len(notion.pages) == 3


def test_500_retries(day_of_revenue, notion, tick, sweep):
    notion.script.extend([(500, {}), (502, {})])
    tick()
    sweep(MORNING + timedelta(hours=1))
    sweep(MORNING + timedelta(hours=2))
    delivery = _daily_delivery()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 3)
    assert len(notion.pages) == 3


def test_410_stops_and_alerts(day_of_revenue, notion, tick, sweep):
    notion.script.append((410, {}))
    tick()
    delivery = _daily_delivery()
    assert delivery.status == Delivery.Status.DISABLED
    requests = len(notion.requests)
    sweep(MORNING + timedelta(hours=2))
    assert len(notion.requests) == requests
    alert = RevenueAlert.objects.get(alert_type="delivery")
    assert alert.severity == "critical" and alert.fingerprint == f"delivery:notion:{notion.database_id}"


def test_redeliver_from_admin_updates_the_same_page(
    day_of_revenue, notion, tick, staff_client, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    tick()
    delivery = _daily_delivery()
    url = reverse("admin:integrations_delivery_changelist")
    with django_assert_max_num_queries(12):
        listing = staff_client.get(url)
    assert listing.status_code == 200 and "summary.daily" in listing.content.decode()
    assert staff_client.get(reverse("admin:integrations_delivery_change", args=[delivery.pk])).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, {"action": "redeliver", "_selected_action": [str(delivery.pk)]}, follow=True)
    assert "1 delivery queued again." in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT and delivery.attempts == 1
    assert len(notion.pages) == 3
    assert len(notion.calls("PATCH", "/v1/pages/")) == 1

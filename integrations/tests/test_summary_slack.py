# ruff: noqa: F811  (pytest fixtures imported from summary_fixtures are used as arguments)
"""Summary digests to Slack through slack_sdk against a real local HTTP server."""

import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings

from alerts.models import RevenueAlert
from alerts.services import alert_raise
from integrations.models import Delivery
from integrations.services.delivery import target_label

from .summary_fixtures import (  # noqa: F401  (fixtures)
    DAILY_TITLE,
    EXPECTED_DAILY_TEXT,
    MORNING,
    day_of_revenue,
    run,
    slack,
    sweep,
    tick,
)

pytestmark = pytest.mark.django_db


def _daily_delivery() -> Delivery:
    return Delivery.objects.get(channel="slack", message__topic="summary.daily")


def test_digest_text_and_blocks_follow_the_specification(day_of_revenue, slack, tick):
    tick()
    [post] = slack.titled(DAILY_TITLE)
    assert post["text"] == EXPECTED_DAILY_TEXT
    blocks = post["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": DAILY_TITLE, "emoji": True}}
    # The daily digest leads with the morning view: each entity's day against the same weekday
    # last week, week and month to date (no SITE_URL here: no links), then the open alerts.
    assert blocks[1]["text"]["text"] == (
        "A+ Enterprise LLC: $12,450.00 (last Sun $0.00, new) · week to date $12,450.00 · month to date $12,450.00\n"
        "Legacy Unchained Inc: $8,320.00 (last Sun $0.00, new) · week to date $8,320.00 · month to date $8,320.00\n"
        "*Total: $20,770.00 (last Sun $0.00, new) · week to date $20,770.00 · month to date $20,770.00*"
    )
    assert blocks[2]["text"]["text"] == "Open alerts: none"
    assert blocks[3]["elements"][0]["text"] == "Events: 6 (Stripe: 3, Gumroad: 2, Manual: 1)"
    assert "Avg transaction $4,174.00 (5 payments)" in blocks[4]["text"]["text"]
    # Monday on a fresh installation: the week and the latest month as well, each once.
    assert len(slack.titled("💰 Weekly Revenue Summary (2026-03-02 to 2026-03-08)")) == 1
    assert len(slack.titled("💰 Monthly Revenue Summary (February 2026)")) == 1
    assert _daily_delivery().status == Delivery.Status.SENT


def test_running_the_job_twice_posts_once(day_of_revenue, slack, tick):
    tick()
    tick()
    tick(MORNING + timedelta(minutes=15))
    assert len(slack.titled(DAILY_TITLE)) == 1
    assert len(slack.titled("💰")) == 3
    assert Delivery.objects.filter(channel="slack").count() == 3


def test_nothing_posts_at_five_fifty_nine(day_of_revenue, slack, tick):
    tick(MORNING - timedelta(days=1))  # the previous days go out on their morning
    before = len(slack.posts)
    tick(MORNING - timedelta(minutes=1))
    assert len(slack.posts) == before and not slack.titled(DAILY_TITLE)
    tick(MORNING)
    assert len(slack.titled(DAILY_TITLE)) == 1


def test_429_honours_retry_after_then_200(day_of_revenue, slack, tick, sweep):
    slack.daily_script.append((429, {"Retry-After": "120"}))
    tick()
    delivery = _daily_delivery()
    assert delivery.status == Delivery.Status.RETRYING and delivery.last_status_code == 429
    assert delivery.next_attempt_at - MORNING >= timedelta(seconds=120)
    sweep(MORNING + timedelta(seconds=90))  # Slack asked for 120 s: not yet
    assert len(slack.titled(DAILY_TITLE)) == 1
    sweep(MORNING + timedelta(seconds=121))
    assert len(slack.titled(DAILY_TITLE)) == 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 2)
    assert slack.titled(DAILY_TITLE)[1]["text"] == EXPECTED_DAILY_TEXT


def test_500_is_retried_with_backoff_until_it_succeeds(day_of_revenue, slack, tick, sweep):
    slack.daily_script.extend([(500, {}), (503, {})])
    tick()
    at = MORNING
    for _ in range(2):
        at += timedelta(hours=1)
        sweep(at)
    delivery = _daily_delivery()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 3)
    assert len(slack.titled(DAILY_TITLE)) == 3
    assert not RevenueAlert.objects.filter(alert_type="delivery").exists()


def test_500_forever_gives_up_and_raises_a_warning(day_of_revenue, slack, tick, sweep):
    slack.daily_script.extend([(500, {})] * django_settings.DELIVERY_MAX_ATTEMPTS)
    tick()
    at = MORNING
    for _ in range(django_settings.DELIVERY_MAX_ATTEMPTS + 2):
        at += timedelta(hours=2)
        sweep(at)
    delivery = _daily_delivery()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, django_settings.DELIVERY_MAX_ATTEMPTS)
    assert len(slack.titled(DAILY_TITLE)) == django_settings.DELIVERY_MAX_ATTEMPTS
    alert = RevenueAlert.objects.get(alert_type="delivery")
    assert (
        alert.severity == "warning"
        and f"gave up after {django_settings.DELIVERY_MAX_ATTEMPTS} attempts" in alert.message
    )


def test_410_stops_disables_and_raises_a_critical_alert(day_of_revenue, slack, tick, sweep, settings):
    slack.daily_script.append((410, {}))
    tick()
    delivery = _daily_delivery()
    assert delivery.status == Delivery.Status.DISABLED and delivery.last_status_code == 410
    sweep(MORNING + timedelta(hours=3))
    assert len(slack.titled(DAILY_TITLE)) == 1  # never tried again
    alert = RevenueAlert.objects.get(alert_type="delivery")
    assert alert.severity == "critical"
    assert alert.fingerprint == f"delivery:slack:{target_label(settings.SLACK_WEBHOOK_URL)}"
    assert "410 Gone" in alert.message
    assert "s3cr3tT0ken" not in alert.message + alert.fingerprint + str(alert.metadata)  # the URL is a secret


def test_daily_digest_links_every_figure_to_its_rows_and_lists_the_open_alerts(
    day_of_revenue, slack, tick, settings, entities, admin_client
):
    settings.SITE_URL = "https://branchberg.example"
    alert, _ = alert_raise(
        alert_type="reconciliation",
        severity="critical",
        message="Stripe payout po_1 <failed> & bounced",
        fingerprint="test:digest-alert",
        entity=entities["legacy-unchained"],
    )
    tick()
    [post] = slack.titled(DAILY_TITLE)
    blocks = post["blocks"]
    lines = blocks[1]["text"]["text"].splitlines()
    links = re.findall(r"<https://branchberg\.example([^|>]+)\|([^>]+)>", lines[0])
    assert [text for _, text in links] == ["$12,450.00", "$0.00", "$12,450.00", "$12,450.00"]
    day_rows = admin_client.get(links[0][0]).context["cl"]
    assert day_rows.result_count == 4  # A+ on 8 March: three payments and a refund
    assert sum(row.amount_cents for row in day_rows.queryset) == 1245000
    assert lines[0].startswith("A+ Enterprise LLC: <https://branchberg.example/admin/revenue/revenueevent/?")
    assert lines[2].startswith("*Total: <")
    alert_lines = blocks[2]["text"]["text"].splitlines()
    assert (
        alert_lines[0]
        == "Open alerts: <https://branchberg.example/admin/alerts/revenuealert/?status__in=open,acknowledged|1>"
    )
    assert alert_lines[1] == (
        f"• <https://branchberg.example/admin/alerts/revenuealert/{alert.pk}/change/|Critical · Reconciliation "
        "(Legacy Unchained Inc): Stripe payout po_1 &lt;failed&gt; &amp; bounced>"
    )
    # The plain-text fallback says the same without links.
    assert "Open alerts: 1\n• Critical · Reconciliation (Legacy Unchained Inc): Stripe payout po_1" in post["text"]

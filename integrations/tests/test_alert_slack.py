"""alert.* to Slack: real slack_sdk WebhookClient against a local HTTP server, after a real commit."""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from alerts.models import AlertRule, RevenueAlert
from alerts.services import alert_raise
from alerts.tests.factories import record, rule
from integrations.models import Delivery
from integrations.slack.alert_message import alert_slack_message

pytestmark = pytest.mark.django_db

HOOK_PATH = "/services/T000/B000/alerts"


@pytest.fixture
def slack_hook(settings, httpserver):
    settings.SLACK_WEBHOOK_URL = httpserver.url_for(HOOK_PATH)
    settings.SITE_URL = "https://branchberg.example"
    return httpserver


def _posted(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log]


def test_critical_alert_is_posted_to_slack_after_commit(slack_hook, django_capture_on_commit_callbacks, entities):
    slack_hook.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        alert, _ = alert_raise(
            alert_type="threshold",
            severity="critical",
            message="Net revenue for A+ Enterprise LLC was 12,450.00 USD on Wed 2026-11-25 so far.",
            fingerprint="test:critical",
            metadata={"net_cents": 1_245_000, "threshold_cents": 1_000_000, "currency": "USD", "where": "Ledger"},
            entity=entities["aplus-enterprise"],
        )
        assert slack_hook.log == []  # nothing leaves before the commit

    [body] = _posted(slack_hook)
    assert body["text"] == (
        ":rotating_light: Critical alert (Threshold): Net revenue for A+ Enterprise LLC was 12,450.00 USD "
        "on Wed 2026-11-25 so far."
    )
    header, section, fields, context = body["blocks"]
    assert header["text"]["text"] == ":rotating_light: Critical: Threshold"
    assert "12,450.00 USD" in section["text"]["text"]
    field_texts = [f["text"] for f in fields["fields"]]
    assert "*Entity*\nA+ Enterprise LLC" in field_texts
    assert "*Net*\n12,450.00 USD" in field_texts and "*Threshold*\n10,000.00 USD" in field_texts
    links = " ".join(e["text"] for e in context["elements"])
    assert "*Where to look:* Ledger" in links
    assert f"<https://branchberg.example/admin/alerts/revenuealert/{alert.pk}/change/|Open the alert in admin>" in links
    delivery = Delivery.objects.get(channel="slack")
    assert delivery.status == Delivery.Status.SENT and delivery.message.topic == "alert.raised"


def test_info_alert_stays_out_of_slack(slack_hook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alert_raise(alert_type="anomaly", severity="info", message="fyi", fingerprint="test:info")
    assert slack_hook.log == []
    assert not Delivery.objects.filter(channel="slack").exists()


def test_an_alert_raised_in_a_rolled_back_transaction_is_never_sent(slack_hook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        alert_raise(alert_type="threshold", severity="critical", message="x", fingerprint="test:rollback")
        raise RuntimeError("the fact did not happen")
    assert slack_hook.log == [] and not RevenueAlert.objects.exists()


def test_a_large_payment_goes_from_the_ledger_write_to_slack(slack_hook, django_capture_on_commit_callbacks):
    """The per-write hook: revenue.event.recorded -> alerts.evaluate_event -> alert.raised -> Slack."""
    slack_hook.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    rule(
        kind=AlertRule.Kind.TRANSACTION_ABOVE,
        name="Large payment",
        currency="USD",
        amount_cents=1_000_000,
        severity="critical",
    )

    with django_capture_on_commit_callbacks(execute=True):
        event = record(amount_cents=2_500_000, customer_email="cfo@bigco.test")

    [body] = _posted(slack_hook)
    assert f"Single payment of 25,000.00 USD ({event.event_id}, Stripe, cfo@bigco.test" in body["text"]
    assert "above the 10,000.00 USD threshold of rule 'Large payment'" in body["text"]
    fields = [f["text"] for f in body["blocks"][2]["fields"]]
    assert "*Amount*\n25,000.00 USD" in fields and "*Rule*\nLarge payment" in fields


def test_small_payment_writes_raise_nothing(slack_hook, django_capture_on_commit_callbacks):
    rule(kind=AlertRule.Kind.TRANSACTION_ABOVE, currency="USD", amount_cents=1_000_000)
    with django_capture_on_commit_callbacks(execute=True):
        record(amount_cents=5_000)
    assert slack_hook.log == [] and not RevenueAlert.objects.exists()


def test_reconciliation_alert_reads_well_in_slack():
    content = alert_slack_message(
        {
            "id": "0b6c2f64-3f0d-4b8e-9b7e-0c1f4f1c1a11",
            "alert_type": "reconciliation",
            "severity": "warning",
            "message": "Stripe payout po_123 of 1,234.00 USD expected on 2026-11-20 has no matching bank deposit.",
            "metadata": {
                "payout_id": "po_123",
                "expected_cents": 123_400,
                "deposit_cents": 0,
                "currency": "USD",
                "expected_at": "2026-11-20T14:00:00+00:00",
                "where": "Admin > Revenue > Reconciliation",
            },
            "entity": "legacy-unchained",
            "entity_name": "Legacy Unchained Inc",
            "fingerprint": "recon:po_123",
            "created_at": "2026-11-22T12:00:00+00:00",
        }
    )
    assert content["text"].startswith(":warning: Warning alert (Reconciliation): Stripe payout po_123")
    fields = [f["text"] for f in content["blocks"][2]["fields"]]
    assert "*Type*\nReconciliation" in fields
    assert "*Expected*\n1,234.00 USD" in fields and "*Deposit*\n0.00 USD" in fields
    assert "*Expected*\n2026-11-20 08:00 CST" in fields
    assert "*Payout id*\npo_123" in fields
    assert "*Where to look:* Admin &gt; Revenue &gt; Reconciliation" in content["blocks"][3]["elements"][0]["text"]


def test_formatter_escapes_mrkdwn_and_skips_info():
    assert alert_slack_message({"alert_type": "anomaly", "severity": "info", "message": "m"}) is None
    content = alert_slack_message(
        {"id": "x", "alert_type": "duplicate", "severity": "warning", "message": "a <b> & c", "metadata": {}}
    )
    assert content["blocks"][1]["text"]["text"] == "a &lt;b&gt; &amp; c"

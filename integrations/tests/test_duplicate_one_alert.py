"""One payment booked by webhook and again from a Stripe export without the PaymentIntent column
is one possible-duplicate condition: one alert and one Slack post, whichever path finds it first."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from alerts.models import RevenueAlert
from alerts.services import alerts_evaluate
from integrations.tasks import outbox_sweep
from revenue.duplicates import duplicate_fingerprint

from .webhook_helpers import T0, event, payment_intent, post_stripe

pytestmark = pytest.mark.django_db

HOOK_PATH = "/services/T000/B000/alerts"
PI, CH = "pi_3QdupOnceA0001", "ch_3QdupOnceA0001"
EMAIL = "grace@hopper.test"


@pytest.fixture
def slack_hook(settings, httpserver):
    settings.SLACK_WEBHOOK_URL = httpserver.url_for(HOOK_PATH)
    settings.SITE_URL = "https://branchberg.example"
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    return httpserver


def _webhook(client) -> None:
    intent = payment_intent(pi=PI, ch=CH, amount=42000, receipt_email=EMAIL)
    intent["charges"]["data"][0]["created"] = T0
    assert post_stripe(client, event("payment_intent.succeeded", intent)).status_code == 200


def _export_without_payment_intent(tmp_path) -> None:
    """The Stripe export of the same charge, from an account whose export omits 'PaymentIntent ID'."""
    path = tmp_path / "stripe_no_pi.csv"
    created = datetime.fromtimestamp(T0, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "Created date (UTC)", "Amount", "Currency", "Status", "Captured", "Customer Email"])
        writer.writerow([CH, created, "420.00", "usd", "Paid", "true", EMAIL])
    call_command("import_revenue_csv", str(path), "--format", "stripe", "--no-progress")


def _settle() -> None:
    """What the workers do next: deliver pending outbox rows (per-write checks), then the beat's pass."""
    outbox_sweep(grace_seconds=0)
    alerts_evaluate()
    outbox_sweep(grace_seconds=0)


def _posted(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log]


@pytest.mark.parametrize("webhook_first", [True, False], ids=["webhook-then-export", "export-then-webhook"])
def test_one_alert_and_one_slack_post_whichever_path_finds_the_duplicate(
    webhook_first, client, tmp_path, slack_hook, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        if webhook_first:
            _webhook(client)
            _export_without_payment_intent(tmp_path)
        else:
            _export_without_payment_intent(tmp_path)
            _webhook(client)
        _settle()
    _settle()

    [alert] = RevenueAlert.objects.filter(alert_type=RevenueAlert.AlertType.DUPLICATE)
    assert alert.fingerprint == duplicate_fingerprint([f"stripe:{CH}", f"stripe:{PI}"])
    assert sorted(alert.metadata["event_ids"]) == [f"stripe:{CH}", f"stripe:{PI}"]
    [body] = _posted(slack_hook)
    assert "420.00 USD" in body["text"] and "duplicate" in body["text"].lower()


def test_the_fingerprint_does_not_depend_on_order_or_repeats():
    assert duplicate_fingerprint(["b", "a"]) == duplicate_fingerprint(["a", "b", "a"])
    assert duplicate_fingerprint(["a", "b"]) != duplicate_fingerprint(["a", "c"])
    assert duplicate_fingerprint(["a", "b"]).startswith("duplicate:")

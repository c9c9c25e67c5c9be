"""Delivery failures reach the alert beat through the detector integrations registers."""

from __future__ import annotations

import pytest

from alerts.models import RevenueAlert
from alerts.services import alert_close, alerts_evaluate
from integrations.models import Delivery
from revenue.models import OutboxMessage

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T000/B000/very-secret-token"


def _failed(topic: str, *, status=Delivery.Status.FAILED, code=500, target=SLACK_URL) -> Delivery:
    message = OutboxMessage.objects.create(topic=topic, payload={})
    return Delivery.objects.create(
        message=message,
        channel=Delivery.Channel.SLACK,
        target=target,
        status=status,
        attempts=8,
        last_status_code=code,
        error=f"Slack answered {code}",
    )


def test_failed_deliveries_raise_one_alert_per_target_without_leaking_the_url():
    _failed("alert.raised")
    _failed("summary.daily")
    Delivery.objects.create(
        message=OutboxMessage.objects.create(topic="summary.daily", payload={}),
        channel=Delivery.Channel.SLACK,
        target=SLACK_URL,
        status=Delivery.Status.SENT,
    )

    [alert] = alerts_evaluate().raised

    assert (alert.alert_type, alert.severity) == ("delivery", "warning")
    assert "2 Slack deliveries to hooks.slack.com were refused for good" in alert.message
    assert "topics: alert.raised, summary.daily" in alert.message and "HTTP 500" in alert.message
    assert "very-secret-token" not in alert.message and "very-secret-token" not in str(alert.metadata)
    assert "redeliver" in alert.message

    assert alerts_evaluate().raised == []
    alert.refresh_from_db()
    assert alert.occurrences == 2


def test_after_a_close_only_new_failures_raise_again():
    _failed("alert.raised")
    [alert] = alerts_evaluate().raised
    alert_close(alert=alert, status=RevenueAlert.Status.RESOLVED, note="webhook rotated, redelivered")

    assert alerts_evaluate().raised == []

    _failed("summary.daily")
    [again] = alerts_evaluate().raised
    assert again.pk != alert.pk and "1 Slack delivery to hooks.slack.com" in again.message


def test_a_revoked_target_is_critical():
    _failed("alert.raised", status=Delivery.Status.DISABLED, code=410)
    [alert] = alerts_evaluate().raised
    assert alert.severity == "critical" and "revoked target (410)" in alert.message


def test_sent_deliveries_raise_nothing():
    Delivery.objects.create(
        message=OutboxMessage.objects.create(topic="alert.raised", payload={}),
        channel=Delivery.Channel.SLACK,
        target=SLACK_URL,
        status=Delivery.Status.SENT,
    )
    assert alerts_evaluate().raised == []

"""One condition, one alert: repeated evaluation, resolution and recurrence, and the per-day cap."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from alerts.models import AlertRule, RevenueAlert
from alerts.services import alert_acknowledge, alert_close, alert_raise, alerts_evaluate, alerts_evaluate_event
from alerts.tasks import evaluate, evaluate_event
from revenue.models import OutboxMessage

from .factories import central, record, rule

pytestmark = pytest.mark.django_db

WEDNESDAY = date(2026, 10, 14)


def _big_day(day: date) -> None:
    for hour in (9, 10, 11):
        record(amount_cents=40_000, occurred_at=central(day, hour))


def test_repeated_evaluation_of_one_condition_is_one_alert():
    rule(kind=AlertRule.Kind.DAILY_ABOVE, currency="USD", amount_cents=100_000)
    _big_day(WEDNESDAY)

    first = alerts_evaluate(now=central(WEDNESDAY, 12))
    record(amount_cents=40_000, occurred_at=central(WEDNESDAY, 13))
    second = alerts_evaluate(now=central(WEDNESDAY, 14))
    third = alerts_evaluate(now=central(WEDNESDAY, 15))

    assert len(first.raised) == 1 and second.raised == [] and third.raised == []
    alert = RevenueAlert.objects.get()
    assert alert.occurrences == 3
    assert "1,600.00 USD" in alert.message  # updated while it lasts
    assert OutboxMessage.objects.filter(topic="alert.raised").count() == 1  # announced once


def test_acknowledged_alert_is_updated_not_duplicated(staff_user):
    rule(kind=AlertRule.Kind.DAILY_ABOVE, currency="USD", amount_cents=100_000)
    _big_day(WEDNESDAY)
    alerts_evaluate(now=central(WEDNESDAY, 12))
    alert_acknowledge(alert=RevenueAlert.objects.get(), user=staff_user, note="looking")

    alerts_evaluate(now=central(WEDNESDAY, 13))

    alert = RevenueAlert.objects.get()
    assert alert.status == "acknowledged" and alert.occurrences == 2
    assert alert.acknowledged_by == staff_user and alert.acknowledge_note == "looking"


def test_resolved_condition_stays_quiet_and_a_recurrence_raises_a_new_alert(staff_user):
    rule(kind=AlertRule.Kind.DAILY_ABOVE, currency="USD", amount_cents=100_000)
    _big_day(WEDNESDAY)
    alerts_evaluate(now=central(WEDNESDAY, 12))
    first = RevenueAlert.objects.get()
    alert_close(alert=first, status=RevenueAlert.Status.RESOLVED, user=staff_user, note="expected: launch day")

    again = alerts_evaluate(now=central(WEDNESDAY, 16))  # same day, same condition: already handled
    assert again.raised == [] and again.closed == [first.fingerprint]

    thursday = WEDNESDAY + timedelta(days=1)
    _big_day(thursday)
    recurred = alerts_evaluate(now=central(thursday, 12))

    [second] = recurred.raised
    assert second.pk != first.pk and second.status == "open" and second.occurrences == 1
    first.refresh_from_db()
    assert (first.status, first.resolved, first.resolved_by, first.resolution_note) == (
        "resolved",
        True,
        staff_user,
        "expected: launch day",
    )
    assert OutboxMessage.objects.filter(topic="alert.raised").count() == 2


def test_silence_recurs_after_events_came_back():
    silence = rule(kind=AlertRule.Kind.SILENCE, provider="stripe", silence_hours=3, expect_from_baseline=False)
    record(amount_cents=1_000, occurred_at=central(WEDNESDAY, 6))
    alerts_evaluate(now=central(WEDNESDAY, 10))
    alerts_evaluate(now=central(WEDNESDAY, 11))
    first = RevenueAlert.objects.get(rule=silence)
    assert first.occurrences == 2
    alert_close(alert=first, status=RevenueAlert.Status.RESOLVED, note="Stripe endpoint re-enabled")
    assert alerts_evaluate(now=central(WEDNESDAY, 12)).raised == []

    record(amount_cents=1_000, occurred_at=central(WEDNESDAY, 13))  # events are back…
    assert alerts_evaluate(now=central(WEDNESDAY, 14)).raised == []
    [second] = alerts_evaluate(now=central(WEDNESDAY, 17)).raised  # …and stop again
    assert second.pk != first.pk and second.fingerprint != first.fingerprint


def test_alert_raise_after_close_raises_a_new_alert_for_the_same_fingerprint():
    """The plain service (used by reconciliation) re-raises a fingerprint once the old alert is closed."""
    first, created = alert_raise(
        alert_type="reconciliation", severity="warning", message="gap", fingerprint="recon:po_1"
    )
    same, created_again = alert_raise(
        alert_type="reconciliation", severity="critical", message="gap, day 2", fingerprint="recon:po_1"
    )
    assert created and not created_again and same.pk == first.pk
    assert (same.occurrences, same.severity, same.message) == (2, "critical", "gap, day 2")  # severity only rises
    alert_close(alert=same, status=RevenueAlert.Status.DISMISSED, note="bank statement late")

    new, created_new = alert_raise(
        alert_type="reconciliation", severity="warning", message="gap", fingerprint="recon:po_1"
    )
    assert created_new and new.pk != first.pk


def test_closing_twice_keeps_the_first_closer(staff_user, django_user_model):
    alert, _ = alert_raise(alert_type="anomaly", severity="warning", message="m", fingerprint="f")
    alert_close(alert=alert, status=RevenueAlert.Status.RESOLVED, user=staff_user, note="first")
    other = django_user_model.objects.create_user("other")
    alert_close(alert=alert, status=RevenueAlert.Status.DISMISSED, user=other, note="second")
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_by, alert.resolution_note) == ("resolved", staff_user, "first")
    with pytest.raises(ValueError):
        alert_close(alert=alert, status="open")


def test_per_day_cap_holds_and_the_next_business_day_resumes():
    large = rule(kind=AlertRule.Kind.TRANSACTION_ABOVE, currency="USD", amount_cents=100_000, max_alerts_per_day=2)
    events = [record(amount_cents=200_000 + n) for n in range(4)]

    results = [alerts_evaluate_event(event_id=event.event_id) for event in events]
    beat = alerts_evaluate()  # the safety net does not get around the cap either

    assert sum(len(r.raised) for r in results) == 2 and beat.raised == []
    assert len(beat.capped) == 2
    assert RevenueAlert.objects.filter(rule=large).count() == 2

    tomorrow = alerts_evaluate(now=events[0].created_at + timedelta(days=1))
    assert len(tomorrow.raised) == 2 and RevenueAlert.objects.filter(rule=large).count() == 4
    assert {a.metadata["event_id"] for a in RevenueAlert.objects.filter(rule=large)} == {e.event_id for e in events}


def test_tasks_are_thin_and_named_for_the_beat():
    rule(kind=AlertRule.Kind.TRANSACTION_ABOVE, currency="USD", amount_cents=100_000)
    event = record(amount_cents=200_000)
    assert evaluate.name == "alerts.evaluate" and evaluate_event.name == "alerts.evaluate_event"
    assert evaluate_event.delay(event.event_id).get() == {"raised": 1, "updated": 0, "capped": 0}
    assert evaluate.delay().get() == {"raised": 0, "updated": 1, "capped": 0}

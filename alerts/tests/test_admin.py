"""The alert back office through the real Django admin: list, filters, note actions, rule editor."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alerts.models import AlertRule, RevenueAlert
from alerts.services import alert_acknowledge, alert_close, alert_raise

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:alerts_revenuealert_changelist")


def _alert(n: int, *, severity="warning", alert_type="threshold", entity=None) -> RevenueAlert:
    alert, _ = alert_raise(
        alert_type=alert_type,
        severity=severity,
        message=f"Condition number {n}: 1,000.00 USD above 500.00 USD",
        fingerprint=f"test:{n}",
        entity=entity,
    )
    return alert


def _many(entities, staff_user, count: int) -> list[RevenueAlert]:
    alerts = []
    kinds = ["threshold", "anomaly", "duplicate", "reconciliation", "silence", "entity"]
    for n in range(count):
        alert = _alert(
            n,
            severity=["info", "warning", "critical"][n % 3],
            alert_type=kinds[n % len(kinds)],
            entity=list(entities.values())[n % 2],
        )
        if n % 4 == 1:
            alert_acknowledge(alert=alert, user=staff_user, note="on it")
        elif n % 4 == 2:
            alert_close(alert=alert, status="resolved", user=staff_user, note="done")
        alerts.append(alert)
    return alerts


def test_changelist_shows_colours_and_who_when_with_bounded_queries(
    staff_client, staff_user, entities, django_assert_max_num_queries
):
    _many(entities, staff_user, 3)
    with django_assert_max_num_queries(14) as few:
        assert staff_client.get(CHANGELIST).status_code == 200
    _many(entities, staff_user, 45)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = staff_client.get(CHANGELIST)
    html = response.content.decode()
    assert '<span class="alert-severity alert-severity-critical">Critical</span>' in html
    assert "alert-severity-warning" in html and "alert-severity-info" in html
    assert "Acknowledged by staff at" in html and "Resolved by staff at" in html
    assert "Legacy Unchained Inc" in html


def test_filters_and_search(staff_client, staff_user, entities):
    _alert(1, severity="critical", alert_type="reconciliation", entity=entities["legacy-unchained"])
    _alert(2, severity="warning", alert_type="anomaly")
    response = staff_client.get(
        CHANGELIST,
        {
            "status__exact": "open",
            "severity__exact": "critical",
            "alert_type__exact": "reconciliation",
            "entity__id__exact": entities["legacy-unchained"].pk,
        },
    )
    assert response.status_code == 200
    assert "Condition number 1" in response.content.decode() and "Condition number 2" not in response.content.decode()
    searched = staff_client.get(CHANGELIST, {"q": "number 2"}).content.decode()
    assert "Condition number 2" in searched and "Condition number 1" not in searched


def test_resolve_asks_for_a_note_then_records_who_and_when(staff_client, staff_user):
    first, second, untouched = _alert(1), _alert(2), _alert(3)
    selected = [str(first.pk), str(second.pk)]

    page = staff_client.post(CHANGELIST, {"action": "resolve_selected", "_selected_action": selected, "index": "0"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Resolved alerts" in html and 'name="note"' in html and "2 of the 2 selected alerts will be resolved" in html

    missing_note = staff_client.post(
        CHANGELIST, {"action": "resolve_selected", "_selected_action": selected, "apply": "yes", "note": ""}
    )
    assert missing_note.status_code == 200 and "This field is required" in missing_note.content.decode()
    assert RevenueAlert.objects.filter(status="open").count() == 3

    done = staff_client.post(
        CHANGELIST,
        {"action": "resolve_selected", "_selected_action": selected, "apply": "yes", "note": "Refunded in Stripe"},
        follow=True,
    )
    assert done.status_code == 200 and "Resolved: 2 alerts." in done.content.decode()
    for alert in (first, second):
        alert.refresh_from_db()
        assert (alert.status, alert.resolved, alert.resolved_by, alert.resolution_note) == (
            "resolved",
            True,
            staff_user,
            "Refunded in Stripe",
        )
        assert alert.resolved_at is not None
    untouched.refresh_from_db()
    assert untouched.status == "open"

    detail = staff_client.get(reverse("admin:alerts_revenuealert_change", args=[first.pk])).content.decode()
    assert "Resolved by staff at" in detail and "Refunded in Stripe" in detail


def test_acknowledge_with_an_optional_note_and_dismiss_leaves_closed_alerts_alone(staff_client, staff_user):
    open_alert, closed = _alert(1), _alert(2)
    alert_close(alert=closed, status="resolved", note="earlier")

    response = staff_client.post(
        CHANGELIST,
        {
            "action": "acknowledge_selected",
            "_selected_action": [str(open_alert.pk), str(closed.pk)],
            "apply": "yes",
            "note": "",
        },
        follow=True,
    )
    assert "Acknowledged: 1 alert; 1 already closed, left as they were." in response.content.decode()
    open_alert.refresh_from_db()
    closed.refresh_from_db()
    assert open_alert.status == "acknowledged" and open_alert.acknowledged_by == staff_user
    assert closed.status == "resolved" and closed.resolution_note == "earlier"

    staff_client.post(
        CHANGELIST,
        {"action": "dismiss_selected", "_selected_action": [str(open_alert.pk)], "apply": "yes", "note": "known"},
    )
    open_alert.refresh_from_db()
    assert (open_alert.status, open_alert.resolution_note, open_alert.resolved_by) == ("dismissed", "known", staff_user)


def test_alerts_cannot_be_added_or_deleted_by_hand(staff_client):
    alert = _alert(1)
    assert staff_client.get(reverse("admin:alerts_revenuealert_add")).status_code == 403
    assert staff_client.get(reverse("admin:alerts_revenuealert_delete", args=[alert.pk])).status_code == 403


def _rule_form(**overrides) -> dict:
    values = {
        "name": "Large payment",
        "kind": "transaction_above",
        "is_active": "on",
        "severity": "critical",
        "entity": "",
        "provider": "stripe",
        "currency": "usd",
        "amount_cents": "10,000.00",
        "rate_percent": "",
        "window_days": "7",
        "minimum_events": "0",
        "silence_hours": "",
        "active_from_hour": "",
        "active_to_hour": "",
        "expect_from_baseline": "on",
        "max_alerts_per_day": "5",
    }
    values.update(overrides)
    return values


def test_rule_admin_takes_amounts_in_the_currency(staff_client):
    add = reverse("admin:alerts_alertrule_add")
    assert staff_client.get(add).status_code == 200
    response = staff_client.post(add, _rule_form())
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = AlertRule.objects.get()
    assert (rule.amount_cents, rule.currency, rule.provider) == (1_000_000, "USD", "stripe")

    listing = staff_client.get(reverse("admin:alerts_alertrule_changelist")).content.decode()
    assert "10,000.00 USD" in listing and "all entities, Stripe, USD" in listing
    edit = staff_client.get(reverse("admin:alerts_alertrule_change", args=[rule.pk])).content.decode()
    assert 'value="10000.00"' in edit


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"currency": "JPY", "amount_cents": "5000.5"}, "JPY has 0 decimal places"),
        ({"currency": "", "amount_cents": "10"}, "Choose the currency first"),
        ({"amount_cents": ""}, "An amount rule needs an amount"),
        ({"kind": "refund_rate_above", "amount_cents": "", "rate_percent": ""}, "A rate rule needs a percentage"),
        ({"kind": "silence", "amount_cents": ""}, "A silence rule needs a number of hours"),
        ({"kind": "silence", "silence_hours": "6", "active_from_hour": "17", "active_to_hour": "9"}, "after the start"),
        ({"currency": "XYZ"}, "not an ISO 4217 currency code"),
    ],
)
def test_rule_admin_explains_bad_input(staff_client, overrides, error):
    response = staff_client.post(reverse("admin:alerts_alertrule_add"), _rule_form(**overrides))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not AlertRule.objects.exists()


def test_silence_rule_with_weekdays_through_the_admin(staff_client):
    form = _rule_form(kind="silence", name="Gumroad office hours", provider="gumroad", currency="", amount_cents="")
    form.update(silence_hours="3", active_from_hour="9", active_to_hour="17", weekdays=["0", "1", "2", "3", "4"])
    form.pop("expect_from_baseline")
    response = staff_client.post(reverse("admin:alerts_alertrule_add"), form)
    assert response.status_code == 302
    rule = AlertRule.objects.get()
    assert rule.weekdays == [0, 1, 2, 3, 4] and rule.expect_from_baseline is False
    assert rule.threshold_label == "3 h without events"

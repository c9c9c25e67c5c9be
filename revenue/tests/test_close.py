"""Month-end close (issue 17): corrections dated where they belong, and lock dates per entity."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse

from alerts.models import RevenueAlert
from alerts.services import alerts_evaluate_events
from revenue.business_time import business_date_of, business_today, day_bounds
from revenue.entries import TRUE_OCCURRED_AT
from revenue.models import Entity, LedgerAuditEntry, RevenueEvent
from revenue.selectors import effective_date, happened_on, money_buckets
from revenue.services import (
    ManualEntryData,
    PeriodLocked,
    entity_lock_date_set,
    manual_entry_correct,
    manual_entry_create,
    revenue_event_record,
    revenue_event_reverse_by_user,
)

from .factories import ledger_entry

pytestmark = pytest.mark.django_db

JUNE = (date(2025, 6, 1), date(2025, 6, 30))


def _po(entity: Entity, *, reference: str = "PO-1", cents: int = 75000, on: date = date(2025, 6, 20)) -> RevenueEvent:
    data = ManualEntryData(
        entity=entity, reference=reference, amount_cents=cents, currency="USD", received_on=on, description="Retainer"
    )
    return manual_entry_create(data=data)


def _net(first: date, last: date, entity: Entity | None = None) -> int:
    start, end = day_bounds(first, last)
    return sum(b.net_cents for b in money_buckets(start=start, end=end, entity=entity).values())


def _today_net(entity: Entity) -> int:
    return _net(business_today(), business_today(), entity)


# --- effective date ----------------------------------------------------------------------


def test_a_reversal_lands_in_the_period_of_what_it_reverses(entities, staff_user):
    aplus = entities["aplus-enterprise"]
    sale = _po(aplus)
    reversal = revenue_event_reverse_by_user(event=sale, reason="duplicate PO", actor=staff_user)

    assert effective_date(reversal) == date(2025, 6, 20)
    assert happened_on(reversal) == business_today()  # when it was posted
    assert business_date_of(reversal.created_at) == business_today()
    assert _net(*JUNE, aplus) == 0
    assert _today_net(aplus) == 0  # nothing on the posting day


def test_a_correction_puts_both_rows_on_the_dates_they_belong_to(entities, staff_user):
    legacy = entities["legacy-unchained"]
    po = _po(legacy, reference="PO-8500", cents=850000, on=date(2026, 11, 20))
    fixed = ManualEntryData(
        entity=legacy, reference="PO-8500", amount_cents=825000, currency="USD", received_on=date(2026, 11, 20)
    )
    correction = manual_entry_correct(event=po, data=fixed, reason="typo", actor=staff_user)

    assert effective_date(correction.reversal) == date(2026, 11, 20)
    assert effective_date(correction.replacement) == date(2026, 11, 20)
    assert _net(date(2026, 11, 20), date(2026, 11, 20), legacy) == 825000
    assert _today_net(legacy) == 0 or business_today() == date(2026, 11, 20)


def test_a_person_may_date_a_reversal_on_another_open_day(entities, staff_user):
    aplus = entities["aplus-enterprise"]
    sale = _po(aplus)
    reversal = revenue_event_reverse_by_user(
        event=sale, reason="refunded by check", actor=staff_user, effective_on=date(2025, 7, 3)
    )
    assert effective_date(reversal) == date(2025, 7, 3)
    assert _net(*JUNE, aplus) == 75000
    assert _net(date(2025, 7, 1), date(2025, 7, 31), aplus) == -75000


# --- lock dates ----------------------------------------------------------------------------


@pytest.fixture
def may_locked(entities, staff_user) -> Entity:
    return entity_lock_date_set(entity=entities["legacy-unchained"], lock_date=date(2025, 5, 31), actor=staff_user)


def test_setting_a_lock_date_is_audited(may_locked, staff_user):
    assert may_locked.lock_date == date(2025, 5, 31) and may_locked.lock_date_set_by == "staff"
    audit = LedgerAuditEntry.objects.get(action=LedgerAuditEntry.Action.LOCK_DATE)
    assert audit.actor == staff_user and audit.entity == may_locked
    assert audit.before == {"lock_date": None} and audit.after == {"lock_date": "2025-05-31"}
    assert "none -> 2025-05-31" in audit.summary
    assert may_locked.history.first().lock_date == date(2025, 5, 31)


@pytest.mark.parametrize("day", [date(2025, 5, 31), date(2024, 12, 1)])
def test_a_person_cannot_book_on_or_before_the_lock_date(may_locked, day):
    with pytest.raises(PeriodLocked) as refused:
        _po(may_locked, on=day)
    message = refused.value.message
    assert f"{day:%Y-%m-%d} is in a locked period" in message
    assert "locked through 2025-05-31 (set by staff on" in message and "on or after 2025-06-01" in message
    assert not RevenueEvent.objects.exists()
    assert _po(may_locked, on=date(2025, 6, 1)).amount_cents == 75000  # the first open day is open


def test_the_lock_is_per_entity(may_locked, entities):
    assert _po(entities["aplus-enterprise"], on=date(2025, 5, 20)).entity.slug == "aplus-enterprise"


def test_reversing_a_locked_row_dates_the_reversal_on_the_first_open_day(entities, staff_user):
    legacy = entities["legacy-unchained"]
    sale = _po(legacy, on=date(2025, 5, 10))
    entity_lock_date_set(entity=legacy, lock_date=date(2025, 5, 31), actor=staff_user)
    sale.refresh_from_db()

    reversal = revenue_event_reverse_by_user(event=sale, reason="client cancelled", actor=staff_user)
    assert effective_date(reversal) == date(2025, 6, 1)
    assert _net(date(2025, 5, 1), date(2025, 5, 31), legacy) == 75000  # May stays as closed

    other = _po(legacy, reference="PO-2", on=date(2025, 5, 11))
    with pytest.raises(PeriodLocked, match="2025-05-15 is in a locked period"):
        revenue_event_reverse_by_user(event=other, reason="x", actor=staff_user, effective_on=date(2025, 5, 15))


def test_a_late_provider_event_is_booked_on_the_first_open_day_and_alerted(may_locked):
    happened = datetime(2025, 5, 30, 18, 0, tzinfo=UTC)
    entry = ledger_entry(event_id="stripe:pi_late", occurred_at=happened, entity_hint="legacy-unchained")
    event = revenue_event_record(entry=entry).event

    assert event.entity == may_locked
    assert effective_date(event) == date(2025, 6, 1)
    assert event.metadata[TRUE_OCCURRED_AT] == happened.isoformat()
    assert happened_on(event) == date(2025, 5, 30)

    alerts_evaluate_events(event_ids=[event.event_id])
    alert = RevenueAlert.objects.get(alert_type=RevenueAlert.AlertType.LOCKED_PERIOD)
    assert "stripe:pi_late" in alert.message and "2025-05-30" in alert.message and "2025-06-01" in alert.message
    assert alert.entity_id == may_locked.pk


def test_a_late_webhook_goes_through_the_batched_booking_the_same_way(may_locked):
    from integrations.services.booking import inbound_deliveries_book_batch
    from integrations.services.ingest import NewDelivery, inbound_deliveries_store
    from integrations.tests import webhook_helpers as h

    may_30 = int(datetime(2025, 5, 30, 18, 0, tzinfo=UTC).timestamp())
    intent = h.payment_intent(metadata={"entity": "legacy-unchained"}, created=may_30)
    intent["charges"]["data"][0]["created"] = may_30
    evt = h.event("payment_intent.succeeded", intent, created=may_30)
    inbound_deliveries_store([NewDelivery("stripe", evt["id"], evt["type"], json.dumps(evt), {})])
    inbound_deliveries_book_batch()

    event = RevenueEvent.objects.get(kind="payment")
    assert effective_date(event) == date(2025, 6, 1) and happened_on(event) == date(2025, 5, 30)


def test_an_imported_row_in_a_locked_period_is_refused_with_row_and_column(may_locked, tmp_path: Path, capsys):
    csv = tmp_path / "may.csv"
    csv.write_text(
        "event_id,provider,kind,amount,currency,occurred_at,entity\n"
        "wire-may,manual,payment,100.00,USD,2025-05-20,legacy-unchained\n"
        "wire-june,manual,payment,200.00,USD,2025-06-02,legacy-unchained\n"
    )
    with pytest.raises(CommandError, match="1 row"):
        call_command("import_revenue_csv", str(csv), "--format", "generic", "--no-progress")
    err = capsys.readouterr().err
    assert "row 1 (line 2), column 'occurred_at': 2025-05-20 is in a locked period" in err
    assert "locked through 2025-05-31 (set by staff on" in err
    assert list(RevenueEvent.objects.values_list("event_id", flat=True)) == ["manual:wire-june"]


# --- the admin ----------------------------------------------------------------------------


def _entity_form(entity: Entity, **changes: str) -> dict[str, str]:
    data = {
        "name": entity.name,
        "slug": entity.slug,
        "stripe_account_ids": json.dumps(entity.stripe_account_ids),
        "gumroad_product_ids": json.dumps(entity.gumroad_product_ids),
        "aliases": json.dumps(entity.aliases),
        "lock_date": entity.lock_date.isoformat() if entity.lock_date else "",
    }
    if entity.is_default:
        data["is_default"] = "on"
    return data | changes


def test_only_a_user_with_the_permission_can_move_a_lock_date(entities, client, django_user_model):
    legacy = entities["legacy-unchained"]
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["change_entity", "view_entity"]))
    client.force_login(clerk)
    url = reverse("admin:revenue_entity_change", args=[legacy.pk])

    page = client.get(url)
    assert page.status_code == 200 and 'name="lock_date"' not in page.content.decode()
    client.post(url, _entity_form(legacy, lock_date="2025-05-31"))
    legacy.refresh_from_db()
    assert legacy.lock_date is None

    clerk.user_permissions.add(Permission.objects.get(codename="change_lock_date"))
    clerk = django_user_model.objects.get(pk=clerk.pk)  # permissions are cached per user object
    client.force_login(clerk)
    assert 'name="lock_date"' in client.get(url).content.decode()
    response = client.post(url, _entity_form(legacy, lock_date="2025-05-31"))
    assert response.status_code == 302, response.content.decode()[:2000]
    legacy.refresh_from_db()
    assert legacy.lock_date == date(2025, 5, 31) and legacy.lock_date_set_by == "clerk"
    assert LedgerAuditEntry.objects.filter(action="lock_date", actor=clerk).count() == 1


def test_the_manual_entry_form_shows_the_lock_refusal(may_locked, staff_client):
    response = staff_client.post(
        reverse("admin:revenue_revenueevent_record"),
        {
            "entity": may_locked.pk,
            "reference": "PO-MAY",
            "amount": "100.00",
            "currency": "USD",
            "received_on": "2025-05-15",
            "kind": "payment",
        },
    )
    assert response.status_code == 200
    assert "2025-05-15 is in a locked period" in response.content.decode()
    assert not RevenueEvent.objects.exists()


def test_the_reverse_action_takes_an_effective_date(entities, staff_client):
    sale = _po(entities["aplus-enterprise"])
    response = staff_client.post(
        reverse("admin:revenue_revenueevent_changelist"),
        {
            "action": "reverse_selected",
            "_selected_action": [sale.pk],
            "post": "yes",
            "reason": "wrong client",
            "effective_on": "2025-06-25",
        },
    )
    assert response.status_code == 302
    reversal = RevenueEvent.objects.get(kind="reversal")
    assert effective_date(reversal) == date(2025, 6, 25)
    assert reversal.created_at - reversal.occurred_at > timedelta(days=300)

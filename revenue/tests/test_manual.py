from datetime import date, timedelta

import pytest

from revenue.business_time import business_date_of, business_today
from revenue.errors import ApplicationError, Conflict
from revenue.models import LedgerAuditEntry, OutboxMessage, RevenueEvent
from revenue.services import (
    ManualEntryData,
    manual_entry_correct,
    manual_entry_create,
    received_on_to_instant,
    revenue_event_reverse_by_user,
)

pytestmark = pytest.mark.django_db


def _data(entity, **overrides) -> ManualEntryData:
    values = {
        "entity": entity,
        "reference": "PO-1001",
        "amount_cents": 123450,
        "currency": "USD",
        "received_on": date(2026, 3, 8),  # the US DST change day
        "customer_email": "AP@BigClient.example",
        "customer_name": "Big Client Inc",
        "description": "Retainer",
        "expects_bank_deposit": True,
    }
    values.update(overrides)
    return ManualEntryData(**values)


def test_manual_entry_is_a_manual_ledger_row_with_audit(entities, staff_user):
    event = manual_entry_create(data=_data(entities["aplus-enterprise"]), actor=staff_user)
    assert event.provider == "manual" and event.kind == "payment"
    assert event.event_id == "manual:aplus-enterprise:PO-1001"
    assert event.amount_cents == 123450 and event.currency == "USD"
    assert event.customer_email == "ap@bigclient.example"
    assert event.metadata["expects_bank_deposit"] is True
    assert event.metadata["customer_name"] == "Big Client Inc"
    assert event.entity_source == RevenueEvent.EntitySource.EXPLICIT
    # Local noon on the business date, even on a DST day.
    assert business_date_of(event.occurred_at) == date(2026, 3, 8)
    assert event.occurred_at == received_on_to_instant(date(2026, 3, 8))
    assert event.occurred_at.hour == 17 and event.occurred_at.utcoffset().total_seconds() == 0  # 12:00 CDT
    audit = LedgerAuditEntry.objects.get(event=event)
    assert audit.action == "create" and audit.actor == staff_user and audit.actor_username == "staff"
    assert audit.after["amount_cents"] == 123450 and audit.before is None
    assert OutboxMessage.objects.filter(payload__event_id=event.event_id).count() == 1


def test_po_number_is_unique_per_entity_among_unreversed_entries(entities, staff_user):
    aplus, legacy = entities["aplus-enterprise"], entities["legacy-unchained"]
    manual_entry_create(data=_data(aplus), actor=staff_user)
    with pytest.raises(Conflict) as exc:
        manual_entry_create(data=_data(aplus, reference=" po-1001 "), actor=staff_user)
    assert exc.value.code == "duplicate_reference"
    # The same number at another entity is fine.
    other = manual_entry_create(data=_data(legacy), actor=staff_user)
    assert other.entity == legacy
    assert RevenueEvent.objects.filter(provider="manual").count() == 2


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"amount_cents": 0}, "invalid_amount"),
        ({"amount_cents": -5}, "invalid_amount"),
        ({"reference": "  "}, "reference_required"),
        ({"currency": "XYZ"}, "invalid_currency"),
        ({"received_on": business_today() + timedelta(days=1)}, "future_date"),
    ],
)
def test_manual_entry_refuses_bad_input(entities, overrides, code):
    with pytest.raises(ApplicationError) as exc:
        manual_entry_create(data=_data(entities["aplus-enterprise"], **overrides))
    assert exc.value.code == code
    assert not RevenueEvent.objects.exists()


def test_correction_is_reversal_plus_new_entry_in_one_step(entities, staff_user):
    aplus = entities["aplus-enterprise"]
    original = manual_entry_create(data=_data(aplus), actor=staff_user)
    correction = manual_entry_correct(
        event=original, data=_data(aplus, amount_cents=132450), reason="typo in amount", actor=staff_user
    )
    assert correction.reversal.reverses == original
    assert correction.reversal.amount_cents == -123450
    assert correction.replacement.amount_cents == 132450
    assert correction.replacement.event_id == "manual:aplus-enterprise:PO-1001:v2"
    assert correction.replacement.metadata["corrects"] == original.event_id
    net = sum(RevenueEvent.objects.values_list("amount_cents", flat=True))
    assert net == 132450
    audit = LedgerAuditEntry.objects.get(action="correct")
    assert audit.before["amount_cents"] == 123450
    assert audit.after["replacement"]["amount_cents"] == 132450
    # Correcting the same (already reversed) row again is refused and writes nothing.
    with pytest.raises(Conflict):
        manual_entry_correct(event=original, data=_data(aplus), reason="again", actor=staff_user)
    assert RevenueEvent.objects.count() == 3


def test_failed_correction_leaves_nothing_behind(entities, staff_user):
    aplus = entities["aplus-enterprise"]
    original = manual_entry_create(data=_data(aplus), actor=staff_user)
    manual_entry_create(data=_data(aplus, reference="PO-2002"), actor=staff_user)
    with pytest.raises(Conflict):  # the corrected PO number clashes with another live entry
        manual_entry_correct(event=original, data=_data(aplus, reference="PO-2002"), reason="x", actor=staff_user)
    assert not RevenueEvent.objects.filter(kind="reversal").exists()
    assert not LedgerAuditEntry.objects.filter(action="correct").exists()


def test_reverse_needs_a_reason_and_is_audited(entities, staff_user):
    event = manual_entry_create(data=_data(entities["aplus-enterprise"]), actor=staff_user)
    with pytest.raises(ApplicationError):
        revenue_event_reverse_by_user(event=event, reason="  ", actor=staff_user)
    reversal = revenue_event_reverse_by_user(event=event, reason="customer cancelled", actor=staff_user)
    assert reversal.amount_cents == -event.amount_cents and reversal.reverses == event
    audit = LedgerAuditEntry.objects.get(action="reverse")
    assert audit.metadata["reason"] == "customer cancelled" and audit.actor == staff_user
    with pytest.raises(Conflict):
        revenue_event_reverse_by_user(event=event, reason="twice", actor=staff_user)

import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from revenue.errors import ApplicationError, Conflict
from revenue.models import ExchangeRate, OutboxMessage, RevenueEvent
from revenue.services import entity_resolve, revenue_event_record, revenue_event_reverse

from .factories import ledger_entry

pytestmark = pytest.mark.django_db


def test_record_is_idempotent_and_announces_once(entities):
    entry = ledger_entry(event_id="stripe:pi_1")
    first = revenue_event_record(entry=entry)
    second = revenue_event_record(entry=entry)
    assert first.created and not second.created
    assert first.event.pk == second.event.pk
    assert RevenueEvent.objects.count() == 1
    assert OutboxMessage.objects.filter(topic="revenue.event.recorded").count() == 1
    assert first.event.entity == entities["aplus-enterprise"]  # the default


@pytest.mark.django_db(transaction=True)
def test_twenty_threads_recording_the_same_entry_make_one_row():
    entry = ledger_entry(event_id="stripe:pi_race", amount_cents=4200)
    barrier = threading.Barrier(20)
    results, errors = [], []

    def record():
        try:
            barrier.wait()
            results.append(revenue_event_record(entry=entry))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=record) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 20
    assert sum(result.created for result in results) == 1
    assert len({result.event.pk for result in results}) == 1
    assert RevenueEvent.objects.filter(event_id="stripe:pi_race").count() == 1
    assert OutboxMessage.objects.filter(payload__event_id="stripe:pi_race").count() == 1


def test_entity_resolution_rules(entities):
    legacy = entities["legacy-unchained"]
    legacy.stripe_account_ids = ["acct_legacy"]
    legacy.gumroad_product_ids = ["masterclass"]
    legacy.save()
    assert entity_resolve(stripe_account="acct_legacy").entity == legacy
    assert entity_resolve(entity_hint="Legacy Unchained Inc").entity == legacy
    assert entity_resolve(entity_hint="legacy-unchained").entity == legacy
    assert entity_resolve(product_id="masterclass").entity == legacy
    default = entity_resolve()
    assert default.entity == entities["aplus-enterprise"] and default.resolved
    unknown = entity_resolve(entity_hint="Nobody Corp")
    assert unknown.entity == entities["aplus-enterprise"] and not unknown.resolved


def test_unresolved_entity_is_recorded_with_a_trace(entities):
    result = revenue_event_record(entry=ledger_entry(entity_hint="Nobody Corp"))
    assert not result.entity_resolved
    assert result.event.entity_source == RevenueEvent.EntitySource.UNRESOLVED


@pytest.mark.parametrize(("currency", "amount"), [("JPY", 5000), ("KWD", 1234), ("usd", 1999)])
def test_amounts_are_kept_exact_in_minor_units(currency, amount):
    event = revenue_event_record(entry=ledger_entry(currency=currency, amount_cents=amount)).event
    event.refresh_from_db()
    assert event.amount_cents == amount
    assert event.currency == currency.upper()


def test_conversion_names_its_rate_and_source():
    ExchangeRate.objects.create(currency="JPY", rate_on=date(2026, 5, 30), usd_per_unit=Decimal("0.0067"))
    event = revenue_event_record(entry=ledger_entry(currency="JPY", amount_cents=10000)).event
    assert event.amount_usd_cents == 6700
    assert event.fx_rate == Decimal("0.0067")
    assert event.fx_source == RevenueEvent.FxSource.RATE_TABLE
    no_rate = revenue_event_record(entry=ledger_entry(currency="KWD", amount_cents=1000)).event
    assert no_rate.amount_usd_cents is None and no_rate.fx_source == ""
    usd = revenue_event_record(entry=ledger_entry(amount_cents=250)).event
    assert (usd.amount_usd_cents, usd.fx_source) == (250, RevenueEvent.FxSource.IDENTITY)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("currency", "XYZ", "invalid_currency"),
        ("kind", "gift", "invalid_kind"),
        ("provider", "paypal", "invalid_provider"),
    ],
)
def test_invalid_entries_are_refused(field, value, code):
    with pytest.raises(ApplicationError) as excinfo:
        revenue_event_record(entry=ledger_entry(**{field: value}))
    assert excinfo.value.code == code
    assert not RevenueEvent.objects.exists()


def test_naive_datetime_refused():
    with pytest.raises(ApplicationError):
        revenue_event_record(entry=ledger_entry(occurred_at=datetime(2026, 1, 1)))


def test_sign_must_match_kind():
    with pytest.raises(IntegrityError, match="debit_kinds_not_positive"), transaction.atomic():
        revenue_event_record(entry=ledger_entry(kind="refund", amount_cents=500))
    assert not RevenueEvent.objects.exists()


def test_reversal_appends_a_linked_negative_row_once():
    original = revenue_event_record(
        entry=ledger_entry(event_id="manual:po-1", provider="manual", amount_cents=9900)
    ).event
    reversal = revenue_event_reverse(event=original, reason="typo in amount")
    assert reversal.kind == RevenueEvent.Kind.REVERSAL
    assert reversal.amount_cents == -9900
    assert reversal.reverses == original
    assert reversal.entity == original.entity
    with pytest.raises(Conflict):
        revenue_event_reverse(event=original, reason="again")
    with pytest.raises(Conflict):
        revenue_event_reverse(event=reversal, reason="reverse the reversal")
    assert RevenueEvent.objects.count() == 2


def test_database_refuses_update_and_delete_of_ledger_rows():
    event = revenue_event_record(entry=ledger_entry()).event
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        RevenueEvent.objects.filter(pk=event.pk).update(amount_cents=1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        RevenueEvent.objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.amount_cents == 1000


def test_outbox_row_rolls_back_with_the_fact():
    with pytest.raises(RuntimeError), transaction.atomic():
        revenue_event_record(entry=ledger_entry(event_id="stripe:pi_rollback"))
        raise RuntimeError("boom")
    assert not RevenueEvent.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_occurred_at_is_stored_in_utc():
    at = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    event = revenue_event_record(entry=ledger_entry(occurred_at=at)).event
    event.refresh_from_db()
    assert event.occurred_at == at


@pytest.mark.django_db(transaction=True)
def test_entities_come_back_after_a_flush():
    from django.core.management import call_command

    from revenue.models import Entity

    call_command("flush", "--noinput", verbosity=0)
    assert set(Entity.objects.values_list("slug", flat=True)) == {"aplus-enterprise", "legacy-unchained"}
    assert Entity.objects.get(is_default=True).slug == "aplus-enterprise"

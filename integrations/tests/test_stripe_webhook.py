"""POST /webhooks/stripe end to end: signed with the real algorithm, on PostgreSQL."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime

import pytest
from django.db import connection

from alerts.models import RevenueAlert
from integrations.models import InboundDelivery
from revenue.models import Payout, RevenueEvent

from . import webhook_helpers as h

pytestmark = pytest.mark.django_db

PI_KEY = "stripe:pi_fakefakefakefakefake0001"


def ledger():
    return {e.event_id: e for e in RevenueEvent.objects.all()}


def net(**filters) -> int:
    return sum(RevenueEvent.objects.filter(**filters).values_list("amount_cents", flat=True))


def deliver(client, evt, **kwargs):
    response = h.post_stripe(client, evt, **kwargs)
    assert response.status_code == 200, response.content
    return response


# ---------------------------------------------------------------- one payment, one row


def checkout_triple(**kw):
    return [
        h.event("checkout.session.completed", h.checkout_session(**kw)),
        h.event("payment_intent.succeeded", h.payment_intent(**kw)),
        h.event("charge.succeeded", h.charge(**kw)),
    ]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_checkout_triple_in_any_order_is_one_sale(client, order):
    triple = checkout_triple()
    for index in order:
        deliver(client, triple[index])
    rows = list(RevenueEvent.objects.all())
    assert [(r.event_id, r.kind, r.amount_cents, r.currency) for r in rows] == [(PI_KEY, "payment", 2000, "USD")]
    assert InboundDelivery.objects.filter(status="processed").count() == 3
    # every delivery is linked to the one row it produced or confirmed
    assert all(list(d.ledger_events.all()) == rows for d in InboundDelivery.objects.all())


def test_async_payment_succeeded_after_unpaid_completion(client):
    deliver(client, h.event("checkout.session.completed", h.checkout_session(payment_status="unpaid")))
    assert RevenueEvent.objects.count() == 0
    deliver(client, h.event("checkout.session.async_payment_succeeded", h.checkout_session()))
    assert net() == 2000 and RevenueEvent.objects.count() == 1


def test_repeat_delivery_answers_200_at_once_and_stores_once(client):
    evt = h.event("charge.succeeded", h.charge())
    first = deliver(client, evt)
    second = deliver(client, evt)
    assert first.json()["status"] == "processed"
    assert second.json()["status"] == "duplicate"
    assert InboundDelivery.objects.count() == 1 and RevenueEvent.objects.count() == 1


def test_authorisation_without_capture_is_not_counted(client):
    deliver(client, h.event("charge.succeeded", h.charge(captured=False, amount_captured=0)))
    assert RevenueEvent.objects.count() == 0
    deliver(client, h.event("charge.captured", h.charge(captured=True)))
    deliver(client, h.event("payment_intent.succeeded", h.payment_intent()))
    assert [(e.event_id, e.amount_cents) for e in RevenueEvent.objects.all()] == [(PI_KEY, 2000)]


@pytest.mark.parametrize(("currency", "amount", "display"), [("jpy", 5000, "5,000 JPY"), ("kwd", 12345, "12.345 KWD")])
def test_zero_and_three_decimal_currencies_are_exact(client, currency, amount, display):
    for evt in checkout_triple(currency=currency, amount=amount):
        deliver(client, evt)
    deliver(client, h.event("refund.created", h.refund(currency=currency, amount=amount // 5)))
    sale = RevenueEvent.objects.get(event_id=PI_KEY)
    assert (sale.amount_cents, sale.currency, sale.amount_display) == (amount, currency.upper(), display)
    assert net(currency=currency.upper()) == amount - amount // 5


# ---------------------------------------------------------------- refunds


def test_partial_refunds_via_charge_refunded_list_and_refund_created_count_once(client):
    deliver(client, h.event("charge.succeeded", h.charge()))
    r1, r2 = h.refund(re="re_1", amount=300), h.refund(re="re_2", amount=200, created=h.T0 + 7200)
    deliver(client, h.event("refund.created", r1))
    deliver(client, h.event("charge.refunded", h.charge_refunded([r1], amount_refunded=300)))
    deliver(client, h.event("charge.refunded", h.charge_refunded([r2, r1], amount_refunded=500)))
    deliver(client, h.event("refund.created", r2))
    deliver(client, h.event("refund.updated", r2))
    rows = ledger()
    assert set(rows) == {PI_KEY, "stripe:re_1", "stripe:re_2"}
    assert (rows["stripe:re_1"].amount_cents, rows["stripe:re_2"].amount_cents) == (-300, -200)
    assert rows["stripe:re_2"].occurred_at == datetime.fromtimestamp(h.T0 + 7200, tz=UTC)  # the day it was posted
    assert net() == 1500


def test_charge_refunded_without_list_then_refund_events_count_once(client):
    deliver(client, h.event("charge.succeeded", h.charge()))
    deliver(client, h.event("charge.refunded", h.charge_refunded(None, amount_refunded=300)))
    assert net() == 1700  # the refund is not lost while its id is unknown
    deliver(client, h.event("refund.created", h.refund(re="re_1", amount=300)))
    assert net() == 1700
    deliver(client, h.event("charge.refunded", h.charge_refunded(None, amount_refunded=500)))
    deliver(client, h.event("refund.created", h.refund(re="re_2", amount=200)))
    deliver(client, h.event("charge.refunded", h.charge_refunded(None, amount_refunded=500)))
    assert net() == 1500
    assert RevenueEvent.objects.filter(event_id__in=["stripe:re_1", "stripe:re_2"]).count() == 2
    # replaying everything changes nothing
    for delivery in InboundDelivery.objects.all():
        from integrations.services.ingest import inbound_delivery_reprocess

        inbound_delivery_reprocess(delivery=delivery)
    assert net() == 1500


def test_refund_events_then_charge_refunded_without_list_add_nothing(client):
    deliver(client, h.event("refund.created", h.refund(re="re_1", amount=300)))
    deliver(client, h.event("charge.refunded", h.charge_refunded(None, amount_refunded=300)))
    deliver(client, h.event("charge.succeeded", h.charge()))
    assert set(ledger()) == {PI_KEY, "stripe:re_1"}
    assert net() == 1700


def test_refund_before_its_sale(client, entities):
    legacy = entities["legacy-unchained"]
    deliver(client, h.event("refund.created", h.refund(re="re_early", amount=2000)))
    refund = RevenueEvent.objects.get(event_id="stripe:re_early")
    assert refund.parent_event_id == PI_KEY and refund.amount_cents == -2000
    deliver(client, h.event("payment_intent.succeeded", h.payment_intent(metadata={"entity": "legacy-unchained"})))
    assert RevenueEvent.objects.get(event_id=PI_KEY).entity == legacy
    assert net() == 0
    # the refund went to the default entity before its sale told us better: that is flagged, not hidden
    assert RevenueAlert.objects.filter(fingerprint=f"entity:{PI_KEY}:children").exists()


@pytest.mark.parametrize("failure_first", [False, True])
def test_failed_refund_gets_a_reversing_row(client, failure_first):
    deliver(client, h.event("charge.succeeded", h.charge()))
    created = h.event("refund.created", h.refund(re="re_f", amount=400, status="pending"))
    failed = h.event("refund.failed", h.refund(re="re_f", amount=400, status="failed"), created=h.T0 + 9000)
    for evt in [failed, created] if failure_first else [created, failed]:
        deliver(client, evt)
    deliver(client, h.event("refund.updated", h.refund(re="re_f", amount=400, status="failed")))
    reversal = RevenueEvent.objects.get(kind="reversal")
    assert reversal.reverses.event_id == "stripe:re_f" and reversal.amount_cents == 400
    assert net() == 2000


# ---------------------------------------------------------------- disputes and fees


def test_dispute_lost(client):
    deliver(client, h.event("charge.succeeded", h.charge(amount=1000)))
    deliver(client, h.event("charge.dispute.created", h.dispute(status="needs_response")))
    deliver(client, h.event("charge.dispute.funds_withdrawn", h.dispute(status="needs_response")))
    deliver(client, h.event("charge.dispute.closed", h.dispute(status="lost")))
    assert net(kind="dispute") == -1000 and net(kind="fee") == -1500
    assert not RevenueEvent.objects.filter(kind="dispute_reversal").exists()
    assert net() == 1000 - 1000 - 1500


def test_dispute_won_gives_the_money_back_once(client):
    deliver(client, h.event("charge.succeeded", h.charge(amount=1000)))
    deliver(client, h.event("charge.dispute.created", h.dispute()))
    reinstated = h.dispute("dispute_dp_funds_reinstated_full.json")
    deliver(client, h.event("charge.dispute.funds_reinstated", reinstated))
    deliver(client, h.event("charge.dispute.closed", {**reinstated, "status": "won"}))
    assert RevenueEvent.objects.filter(kind="dispute_reversal").count() == 1
    assert net(kind="dispute") + net(kind="dispute_reversal") == 0
    assert net() == 1000  # dispute fee refunded too (the fixture's reversal carries -1500 fee)


def test_dispute_closed_won_alone_books_debit_and_reversal(client):
    deliver(client, h.event("charge.dispute.closed", h.dispute(status="won")))
    assert net(kind="dispute") == -1000 and net(kind="dispute_reversal") == 1000


def test_fee_from_charge_updated_never_holds_the_sale(client):
    deliver(client, h.event("charge.succeeded", h.charge()))
    updated = h.charge()
    updated["balance_transaction"] = h.load("balance_transaction_txn_fake_ch_fakefakefakefakefake0001.json")
    deliver(client, h.event("charge.updated", updated))
    deliver(client, h.event("charge.updated", updated))
    fee = RevenueEvent.objects.get(kind="fee")
    assert (fee.event_id, fee.amount_cents, fee.parent_event_id) == (
        "stripe:fee:txn_fake_ch_fakefakefakefakefake0001",
        -88,
        PI_KEY,
    )
    assert RevenueEvent.objects.count() == 2


# ---------------------------------------------------------------- entities and payouts


def test_connect_account_and_metadata_resolve_the_entity(client, entities):
    legacy = entities["legacy-unchained"]
    legacy.stripe_account_ids = ["acct_legacy"]
    legacy.save()
    deliver(client, h.event("charge.succeeded", h.charge(pi="pi_a", ch="ch_a"), account="acct_legacy"))
    deliver(
        client, h.event("charge.succeeded", h.charge(pi="pi_b", ch="ch_b", metadata={"entity": "Legacy Unchained Inc"}))
    )
    deliver(client, h.event("refund.created", h.refund(re="re_b", pi="pi_b", ch="ch_b")))
    rows = ledger()
    assert rows["stripe:pi_a"].entity == legacy and rows["stripe:pi_a"].entity_source == "connect_account"
    assert rows["stripe:pi_b"].entity == legacy and rows["stripe:pi_b"].entity_source == "metadata"
    assert rows["stripe:re_b"].entity == legacy  # a refund follows its sale
    assert not RevenueAlert.objects.exists()


def test_unknown_entity_is_booked_to_default_with_an_alert(client, entities):
    evt = h.event("charge.succeeded", h.charge(metadata={"entity": "Nobody Ltd"}))
    deliver(client, evt)
    sale = RevenueEvent.objects.get()
    assert sale.entity == entities["aplus-enterprise"] and sale.entity_source == "unresolved"
    alert = RevenueAlert.objects.get()
    assert (alert.alert_type, alert.severity, alert.fingerprint) == ("entity", "warning", f"entity:{PI_KEY}")


def test_payout_paid_then_failed(client, entities):
    payout = {**h.load("payout_custom_bank_account.json"), "amount": 125000}
    deliver(client, h.event("payout.paid", payout))
    assert Payout.objects.get().status == "paid"
    deliver(client, h.event("payout.failed", {**payout, "status": "failed"}))
    deliver(client, h.event("payout.paid", payout))  # a late copy never un-fails it
    row = Payout.objects.get()
    assert (row.payout_id, row.amount_cents, row.currency, row.status) == (
        "po_1JR569QuFmP1Mw5uxasKoRx5",
        125000,
        "USD",
        "failed",
    )
    assert RevenueEvent.objects.count() == 0


# ---------------------------------------------------------------- odd but valid, and failures of ours


def test_unknown_type_is_stored_and_ignored(client):
    response = deliver(client, h.event("customer.subscription.created", {"id": "sub_1", "object": "subscription"}))
    assert response.json()["status"] == "ignored"
    assert InboundDelivery.objects.get().status == "ignored"
    assert RevenueEvent.objects.count() == 0


def test_mapping_bug_keeps_raw_marks_failed_raises_alert_and_answers_200(client):
    evt = h.event("charge.succeeded", h.charge(amount="20.00", amount_captured=None))
    response = deliver(client, evt)
    assert response.json()["status"] == "failed"
    delivery = InboundDelivery.objects.get()
    assert delivery.status == "failed" and "amount" in delivery.error
    assert json.loads(delivery.raw_body)["id"] == evt["id"]
    alert = RevenueAlert.objects.get()
    assert (alert.alert_type, alert.severity) == ("ingestion", "critical")
    assert RevenueEvent.objects.count() == 0


def test_unknown_currency_is_a_failed_delivery_not_an_error(client):
    response = deliver(client, h.event("charge.succeeded", h.charge(currency="zzz")))
    assert response.json()["status"] == "failed"


@pytest.mark.django_db(transaction=True)
def test_database_down_answers_503_and_the_retry_books_it(client, seeded_entities):
    evt = h.event("charge.succeeded", h.charge())
    settings_dict = connection.settings_dict
    real_port = settings_dict["PORT"]
    connection.close()
    settings_dict["PORT"] = "1"  # nothing listens there: a real connection failure
    try:
        response = h.post_stripe(client, evt)
    finally:
        connection.close()
        settings_dict["PORT"] = real_port
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert RevenueEvent.objects.count() == 0
    deliver(client, evt)  # the provider's retry
    assert RevenueEvent.objects.count() == 1


# ---------------------------------------------------------------- hostile deliveries: refused, nothing recorded


def assert_nothing_recorded():
    assert InboundDelivery.objects.count() == 0
    assert RevenueEvent.objects.count() == 0


def test_rotated_secret_is_accepted(client):
    deliver(client, h.event("charge.succeeded", h.charge()), secret=h.STRIPE_SECRET_OLD)
    assert RevenueEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"secret": "whsec_attacker"}, "invalid_signature"),
        ({"header": ""}, "missing_signature"),
        ({"header": "garbage"}, "invalid_signature"),
        ({"header": "t=1780000000,v1=00ff"}, "invalid_signature"),
        ({"timestamp_offset": -301}, "stale_signature"),
        ({"timestamp_offset": 400}, "future_signature"),
    ],
)
def test_bad_signatures_are_refused(client, kwargs, code):
    if "timestamp_offset" in kwargs:  # computed now, not at collection time minutes earlier
        kwargs = {"timestamp": int(time.time()) + kwargs["timestamp_offset"]}
    response = h.post_stripe(client, h.event("charge.succeeded", h.charge()), **kwargs)
    assert response.status_code == 400
    assert response.json()["code"] == code and response.json()["message"]
    assert_nothing_recorded()


def test_a_clock_a_minute_ahead_is_tolerated(client):
    response = h.post_stripe(client, h.event("charge.succeeded", h.charge()), timestamp=int(time.time()) + 60)
    assert response.status_code == 200
    assert RevenueEvent.objects.count() == 1


def test_tampered_body_is_refused(client):
    body = json.dumps(h.event("charge.succeeded", h.charge()))
    header = h.signed(body)
    response = h.post_stripe(client, body.replace("2000", "9000"), header=header)
    assert response.status_code == 400
    assert_nothing_recorded()


def test_oversized_body_is_refused(client, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 4096
    evt = h.event("charge.succeeded", h.charge(description="x" * 5000))
    response = h.post_stripe(client, evt)
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert_nothing_recorded()


def test_body_larger_than_its_content_length_claims_is_refused(rf, settings):
    from integrations.webhooks.views import stripe_webhook

    settings.WEBHOOK_MAX_BODY_BYTES = 4096
    body = json.dumps(h.event("charge.succeeded", h.charge(description="x" * 5000)))
    request = rf.post(
        "/webhooks/stripe", data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=h.signed(body)
    )
    request.META["CONTENT_LENGTH"] = "100"  # a lying header; the stream is cut at the limit + 1
    request._stream.remaining = len(body)  # the real socket would keep delivering
    response = stripe_webhook(request)
    assert response.status_code == 413
    assert_nothing_recorded()


@pytest.mark.parametrize(
    "body", ["not json at all", "[1, 2, 3]", '{"id": "evt_1"}', '{"id": "evt_1", "type": "x", "data": 5}']
)
def test_verified_but_malformed_is_400(client, body):
    response = h.post_stripe(client, body)
    assert response.status_code == 400 and response.json()["code"] == "malformed"
    assert_nothing_recorded()


def test_not_configured_is_503(client, settings):
    settings.STRIPE_WEBHOOK_SECRETS = []
    response = h.post_stripe(client, h.event("charge.succeeded", h.charge()))
    assert response.status_code == 503
    assert_nothing_recorded()


def test_get_is_not_allowed_and_no_trailing_slash_redirect(client):
    assert client.get("/webhooks/stripe").status_code == 405
    assert client.post("/webhooks/stripe/", data="{}", content_type="application/json").status_code == 404


def test_deferred_processing_with_the_broker_down_still_stores_and_answers_200(client, settings):
    """WEBHOOK_PROCESSING=celery: intake is one INSERT; if the hand-off fails, the drain/sweep books it later."""
    from integrations import tasks
    from integrations.services.ingest import inbound_deliveries_drain

    settings.WEBHOOK_PROCESSING = "celery"
    settings.CELERY_TASK_ALWAYS_EAGER = False  # no broker is listening in the test environment
    tasks._last_kick = 0.0
    evt = h.event("charge.succeeded", h.charge())
    response = deliver(client, evt)
    assert response.json()["status"] == "received"
    assert InboundDelivery.objects.get().status == "received" and RevenueEvent.objects.count() == 0
    assert deliver(client, evt).json()["status"] == "duplicate"
    assert inbound_deliveries_drain() == 1  # what the worker runs
    assert InboundDelivery.objects.get().status == "processed"
    assert RevenueEvent.objects.count() == 1


def test_sweep_books_deliveries_whose_hand_off_was_lost(client, settings):
    from datetime import timedelta

    from integrations.services.ingest import inbound_deliveries_stuck_process, inbound_delivery_store

    body = json.dumps(h.event("charge.succeeded", h.charge()))
    delivery_id, created = inbound_delivery_store(
        provider="stripe", event_id="evt_lost", event_type="charge.succeeded", raw_body=body, headers={}
    )
    assert created
    InboundDelivery.objects.filter(pk=delivery_id).update(received_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert inbound_deliveries_stuck_process(older_than=timedelta(seconds=30)) == 1
    assert InboundDelivery.objects.get().status == "processed" and RevenueEvent.objects.count() == 1

"""Pure mapping over real Stripe objects (dj-stripe fixtures): no database."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from integrations.facts import MappingError, PayoutFact, Record, StripeRefund, StripeRefundTotal
from integrations.stripe.mapping import map_event

from . import webhook_helpers as h


def entries(evt):
    return [fact.entry for fact in map_event(evt).facts if isinstance(fact, Record)]


def test_charge_succeeded_is_one_sale_keyed_by_payment_intent():
    [sale] = entries(h.event("charge.succeeded", h.load("charge_ch_fakefakefakefakefake0001.json")))
    assert sale.event_id == "stripe:pi_fakefakefakefakefake0001"
    assert (sale.kind, sale.amount_cents, sale.currency) == ("payment", 2000, "USD")
    assert sale.occurred_at == datetime.fromtimestamp(1557995177, tz=UTC)
    assert sale.customer_id == "cus_6lsBvm5rJ0zyHc"
    assert sale.metadata["charge"] == "ch_fakefakefakefakefake0001"


def test_charge_without_payment_intent_is_keyed_by_charge():
    [sale] = entries(h.event("charge.succeeded", h.charge(pi=None)))
    assert sale.event_id == "stripe:ch_fakefakefakefakefake0001"


def test_payment_intent_and_checkout_session_give_the_same_key():
    [from_pi] = entries(h.event("payment_intent.succeeded", h.load("payment_intent_pi_fakefakefakefakefake0001.json")))
    [from_cs] = entries(h.event("checkout.session.completed", h.checkout_session()))
    assert from_pi.event_id == from_cs.event_id == "stripe:pi_fakefakefakefakefake0001"
    assert from_pi.amount_cents == from_cs.amount_cents == 2000


def test_destination_charge_payment_intent():
    [sale] = entries(h.event("payment_intent.succeeded", h.load("payment_intent_pi_destination_charge.json")))
    assert (sale.event_id, sale.amount_cents) == ("stripe:pi_1FG742B7kbjcJ8QqGKF6qIM0", 190200)


@pytest.mark.parametrize("payment_status", ["unpaid", "no_payment_required"])
def test_unpaid_checkout_session_is_not_revenue(payment_status):
    assert entries(h.event("checkout.session.completed", h.checkout_session(payment_status=payment_status))) == []


def test_authorisation_is_not_revenue_until_captured():
    auth = h.charge(captured=False, amount_captured=0)
    assert entries(h.event("charge.succeeded", auth)) == []
    captured = h.charge(captured=True, amount_captured=1500, amount=2000)
    [sale] = entries(h.event("charge.captured", captured))
    assert sale.amount_cents == 1500  # a partial capture books what was captured


@pytest.mark.parametrize(("currency", "amount"), [("jpy", 5000), ("kwd", 12345), ("usd", 1)])
def test_amounts_are_already_minor_units(currency, amount):
    [sale] = entries(h.event("charge.succeeded", h.charge(currency=currency, amount=amount)))
    assert (sale.amount_cents, sale.currency) == (amount, currency.upper())


def test_charge_updated_with_expanded_balance_transaction_gives_a_fee_row():
    obj = h.charge()
    obj["balance_transaction"] = h.load("balance_transaction_txn_fake_ch_fakefakefakefakefake0001.json")
    sale, fee = entries(h.event("charge.updated", obj))
    assert sale.event_id == "stripe:pi_fakefakefakefakefake0001"
    assert (fee.event_id, fee.kind, fee.amount_cents, fee.currency) == (
        "stripe:fee:txn_fake_ch_fakefakefakefakefake0001",
        "fee",
        -88,
        "USD",
    )
    assert fee.parent_event_id == sale.event_id


def test_foreign_currency_sale_takes_usd_amount_from_balance_transaction():
    obj = h.charge(currency="eur", amount=1000)
    obj["balance_transaction"] = {
        "id": "txn_eur",
        "object": "balance_transaction",
        "amount": 1087,
        "currency": "usd",
        "exchange_rate": Decimal("1.087"),
        "fee": 62,
        "created": h.T0,
    }
    sale, fee = entries(h.event("charge.updated", obj))
    assert (sale.amount_cents, sale.currency, sale.amount_usd_cents, sale.fx_rate) == (
        1000,
        "EUR",
        1087,
        Decimal("1.087"),
    )
    assert (fee.amount_cents, fee.currency) == (-62, "USD")


def test_refund_is_negative_keyed_by_refund_id_with_its_sale_as_parent():
    [fact] = map_event(h.event("refund.created", h.refund(amount=700))).facts
    assert isinstance(fact, StripeRefund) and not fact.failed
    assert (fact.entry.event_id, fact.entry.amount_cents, fact.entry.kind) == ("stripe:re_test_0001", -700, "refund")
    assert fact.entry.parent_event_id == "stripe:pi_fakefakefakefakefake0001"
    assert fact.entry.occurred_at == datetime.fromtimestamp(h.T0 + 3600, tz=UTC)


def test_failed_refund_is_marked_failed():
    [fact] = map_event(h.event("refund.failed", h.refund(status="failed"))).facts
    assert fact.failed


def test_charge_refunded_maps_list_items_and_the_cumulative_total():
    obj = h.charge_refunded([h.refund(re="re_a", amount=300), h.refund(re="re_b", amount=200)], amount_refunded=500)
    facts = map_event(h.event("charge.refunded", obj)).facts
    assert [type(f) for f in facts] == [Record, StripeRefund, StripeRefund, StripeRefundTotal]
    assert facts[-1].amount_refunded == 500


def test_released_authorisation_is_not_a_refund():
    obj = h.charge_refunded(None, amount_refunded=2000, captured=False, amount_captured=0)
    assert map_event(h.event("charge.refunded", obj)).facts == []


def test_dispute_debits_amount_and_fee():
    facts = entries(h.event("charge.dispute.created", h.dispute()))
    assert [(e.event_id, e.kind, e.amount_cents) for e in facts] == [
        ("stripe:dp_1JAyTwJSZQVUcJYgPqasUEn1", "dispute", -1000),
        ("stripe:fee:txn_16g5h62eZvKYlo2CQ2AHA89s", "fee", -1500),
    ]


def test_dispute_reinstated_gives_amount_and_fee_back():
    facts = entries(h.event("charge.dispute.funds_reinstated", h.dispute("dispute_dp_funds_reinstated_full.json")))
    assert [(e.event_id, e.kind, e.amount_cents) for e in facts] == [
        ("stripe:dp_1JAyTwJSZQVUcJYgPqasUEn1", "dispute", -1000),
        ("stripe:fee:txn_16g5h62eZvKYlo2CQ2AHA89s", "fee", -1500),
        ("stripe:fee:txn_1JAyV2JSZQVUcJYgETKXUN9k", "adjustment", 1500),
        ("stripe:dp_1JAyTwJSZQVUcJYgPqasUEn1:reinstated", "dispute_reversal", 1000),
    ]


def test_dispute_inquiry_moves_no_money():
    assert entries(h.event("charge.dispute.created", h.dispute(status="warning_needs_response"))) == []


def test_payout_from_fixture_decimal_string_and_api_integer():
    [fact] = map_event(h.event("payout.paid", h.load("payout_custom_bank_account.json"))).facts
    assert isinstance(fact, PayoutFact)
    assert (fact.payout_id, fact.amount_cents, fact.currency, fact.status) == (
        "po_1JR569QuFmP1Mw5uxasKoRx5",
        1000,
        "USD",
        "paid",
    )
    assert fact.arrival_on == date(2021, 8, 23)
    assert fact.stripe_account == "acct_1IuHosQveW0ONQsd"
    api_shape = {**h.load("payout_custom_card.json"), "amount": 1000}
    [failed] = map_event(h.event("payout.failed", api_shape)).facts
    assert (failed.amount_cents, failed.status) == (1000, "failed")


def test_connect_account_and_metadata_entity_are_carried():
    obj = h.charge(metadata={"entity": "Legacy Unchained"})
    [sale] = entries(h.event("charge.succeeded", obj, account="acct_legacy"))
    assert (sale.entity_hint, sale.stripe_account) == ("Legacy Unchained", "acct_legacy")


def test_unknown_type_is_not_handled():
    mapped = map_event(h.event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert not mapped.handled and mapped.facts == []


def test_bad_amount_is_a_mapping_error():
    with pytest.raises(MappingError):
        map_event(h.event("charge.succeeded", h.charge(amount="20.00", amount_captured=None)))


def test_map_event_accepts_json_with_decimal_floats():
    body = json.dumps(h.event("charge.succeeded", h.charge()))
    assert entries(json.loads(body, parse_float=Decimal))[0].amount_cents == 2000

"""Batched booking (integrations.services.booking): the ledger after a batched drain equals the
same deliveries booked one by one, in hidden orders; failures stay per delivery; bounded queries."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from django.db import transaction

from alerts.models import RevenueAlert
from integrations.gumroad import mapping as gumroad_mapping
from integrations.models import InboundDelivery
from integrations.services.booking import inbound_deliveries_book, inbound_deliveries_book_batch
from integrations.services.ingest import NewDelivery, inbound_deliveries_store, inbound_delivery_process
from revenue.models import OutboxMessage, Payout, RevenueDailyRollup, RevenueEvent

from . import webhook_helpers as h

pytestmark = pytest.mark.django_db

RECEIVED_AT = datetime.fromtimestamp(h.T0 + 600, tz=UTC)  # Gumroad refunds are dated by their first receipt
FORM = "application/x-www-form-urlencoded"


def stripe(evt: dict | str, event_id: str = "", event_type: str = "") -> NewDelivery:
    if isinstance(evt, str):  # a stored body the mapping cannot read
        return NewDelivery("stripe", event_id, event_type, evt, {"Content-Type": "application/json"})
    return NewDelivery("stripe", evt["id"], evt["type"], json.dumps(evt), {"Content-Type": "application/json"})


def gumroad(**overrides: str | None) -> NewDelivery:
    body = urlencode(h.gumroad_ping(**overrides))
    payload = gumroad_mapping.parse_body(body, FORM)
    key, resource = gumroad_mapping.delivery_key(payload), gumroad_mapping.resource_of(payload)
    return NewDelivery("gumroad", key, resource, body, {"Content-Type": FORM})


def payment(i: int, **kw) -> tuple[str, str, list[dict]]:
    pi, ch = f"pi_batch_{i}", f"ch_batch_{i}"
    triple = [
        h.event("checkout.session.completed", h.checkout_session(pi=pi, **kw)),
        h.event("payment_intent.succeeded", h.payment_intent(pi=pi, ch=ch, **kw)),
        h.event("charge.succeeded", h.charge(pi=pi, ch=ch, **kw)),
    ]
    return pi, ch, triple


def corpus() -> list[NewDelivery]:
    """Every kind of delivery a burst carries, including the sequential rules and the failures."""
    events: list[dict] = []
    for i in range(6):
        pi, ch, triple = payment(i, metadata={"entity": "legacy-unchained"} if i % 2 else {})
        events += triple
        if i == 0:
            events += [
                h.event("charge.dispute.created", h.dispute(pi=pi, ch=ch, status="needs_response")),
                h.event("charge.dispute.funds_withdrawn", h.dispute(pi=pi, ch=ch, status="needs_response")),
            ]
        if i == 1:  # a refund whose id is known late (charge.refunded without its list)
            events += [
                h.event("charge.refunded", h.charge_refunded(None, amount_refunded=700, pi=pi, ch=ch)),
                h.event("refund.created", h.refund(re="re_batch_1", pi=pi, ch=ch, amount=700)),
            ]
        if i == 2:  # a refund that fails
            events += [
                h.event("refund.created", h.refund(re="re_batch_2", pi=pi, ch=ch, amount=400, status="pending")),
                h.event(
                    "refund.failed",
                    h.refund(re="re_batch_2", pi=pi, ch=ch, amount=400, status="failed"),
                    created=h.T0 + 9000,
                ),
            ]
        if i == 3:
            events.append(h.event("refund.created", h.refund(re="re_batch_3", pi=pi, ch=ch, amount=2000)))
    updated = h.charge(pi="pi_batch_4", ch="ch_batch_4")
    updated["balance_transaction"] = h.load("balance_transaction_txn_fake_ch_fakefakefakefakefake0001.json")
    events += [
        h.event("charge.updated", updated),
        h.event("charge.succeeded", h.charge(pi="pi_batch_hint", ch="ch_batch_hint", metadata={"entity": "nobody"})),
        h.event("charge.succeeded", h.charge(pi="pi_batch_xxx", ch="ch_batch_xxx", currency="xxx")),  # unknown currency
        h.event("payout.paid", {**h.load("payout_custom_bank_account.json"), "amount": 125000}),
        h.event("customer.created", {"id": "cus_batch", "object": "customer"}),  # a type we do not book
    ]
    deliveries = [stripe(evt) for evt in events]
    deliveries += [
        stripe("this is not JSON", "evt_batch_garbage", "charge.succeeded"),
        gumroad(sale_id="g-batch-1"),
        gumroad(sale_id="g-batch-1", resource_name="refund", refunded="true", price="9999"),
        gumroad(sale_id="g-batch-2", resource_name="dispute", disputed="true"),
        gumroad(sale_id="g-batch-2"),
        gumroad(sale_id="g-batch-3", resource_name="refund", refunded="false"),  # partial, unknown amount: failed
    ]
    return deliveries


def store(deliveries: list[NewDelivery]) -> None:
    for delivery in deliveries:  # one commit (and one id) each, in arrival order
        inbound_deliveries_store([delivery])
    InboundDelivery.objects.update(received_at=RECEIVED_AT)


def snapshot() -> dict:
    events = RevenueEvent.objects.select_related("entity", "reverses")
    recorded = OutboxMessage.objects.filter(topic="revenue.event.recorded").values_list("payload", flat=True)
    return {
        "ledger": sorted(
            (
                e.event_id,
                e.provider,
                e.event_type,
                e.kind,
                e.amount_cents,
                e.currency,
                e.amount_usd_cents,
                str(e.fx_rate),
                e.fx_source,
                e.entity.slug,
                e.entity_source,
                e.occurred_at,
                e.parent_event_id,
                json.dumps(e.metadata, sort_keys=True),
                e.reverses.event_id if e.reverses else "",
                e.customer_email,
                e.description,
            )
            for e in events
        ),
        "sums": sorted(_sums(events).items()),
        "rollup": sorted(
            RevenueDailyRollup.objects.values_list(
                "occurred_on_utc",
                "entity__slug",
                "provider",
                "currency",
                "kind",
                "credit_cents",
                "debit_cents",
                "event_count",
            )
        ),
        "deliveries": sorted(
            (
                d.provider,
                d.event_id,
                d.status,
                d.error.split(":")[0],
                d.attempts,
                tuple(sorted(d.ledger_events.values_list("event_id", flat=True))),
            )
            for d in InboundDelivery.objects.all()
        ),
        "alerts": sorted(RevenueAlert.objects.values_list("fingerprint", "alert_type", "severity")),
        "announced": sorted(payload["event_id"] for payload in recorded),
        "payouts": sorted(Payout.objects.values_list("payout_id", "status", "amount_cents")),
    }


def _sums(events) -> Counter:
    totals: Counter = Counter()
    for event in events:
        totals[(event.currency, event.kind)] += event.amount_cents
        totals[(event.currency, "net")] += event.amount_cents
    return totals


def one_by_one(deliveries: list[NewDelivery]) -> dict:
    """What booking each delivery in its own transaction, in id order, gives (then rolled back)."""
    with transaction.atomic():
        store(deliveries)
        for delivery_id in InboundDelivery.objects.order_by("pk").values_list("pk", flat=True):
            inbound_delivery_process(delivery_id=delivery_id)
        result = snapshot()
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("limit", [4, 200])
def test_batched_ledger_equals_one_by_one_in_hidden_orders(seeded_entities, seed, limit):
    deliveries = corpus()
    random.Random(seed).shuffle(deliveries)
    expected = one_by_one(deliveries)
    assert RevenueEvent.objects.count() == 0
    store(deliveries)
    assert inbound_deliveries_book(limit=limit) == len(deliveries)
    got = snapshot()
    for part in expected:
        assert got[part] == expected[part], part
    # the corpus really exercises what it claims to
    statuses = Counter(status for _, _, status, *_ in got["deliveries"])
    assert statuses == {"processed": 32, "failed": 3, "ignored": 1}, statuses
    kinds = {row[3] for row in got["ledger"]}
    assert {"payment", "refund", "dispute", "fee", "reversal"} <= kinds


def test_a_delivery_that_cannot_be_booked_fails_alone(seeded_entities):
    good = [stripe(evt) for i in range(5) for evt in payment(100 + i)[2][:1]]
    bad = stripe(h.event("charge.succeeded", h.charge(pi="pi_bad", ch="ch_bad", currency="xxx")))
    store([*good[:2], bad, *good[2:]])
    assert inbound_deliveries_book_batch(limit=50) == 6
    failed = InboundDelivery.objects.get(status="failed")
    assert failed.event_id == bad.event_id and "XXX" in failed.error
    assert RevenueAlert.objects.filter(fingerprint=f"ingestion:stripe:{bad.event_id}").exists()
    assert InboundDelivery.objects.filter(status="processed").count() == 5
    assert RevenueEvent.objects.count() == 5
    assert OutboxMessage.objects.filter(topic="revenue.event.recorded").count() == 5


@pytest.mark.parametrize("size", [10, 150])
def test_statement_count_does_not_grow_with_the_batch(seeded_entities, django_assert_max_num_queries, size):
    """A same-day USD burst: sales, their duplicate deliveries and disputes, in a fixed number of statements."""
    deliveries = []
    for i in range(size // 2):
        _pi, _ch, triple = payment(1000 + i)
        deliveries += [stripe(triple[1]), stripe(triple[2])]
    store(deliveries)
    with django_assert_max_num_queries(14):
        assert inbound_deliveries_book_batch(limit=size) == size
    assert RevenueEvent.objects.count() == size // 2
    assert InboundDelivery.objects.filter(status="processed").count() == size

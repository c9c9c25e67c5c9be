"""replay_webhooks, send_test_webhooks, sync_stripe (against recorded API responses) and the admin action."""

from __future__ import annotations

import copy
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from werkzeug.wrappers import Response

from integrations.models import InboundDelivery
from revenue.models import Entity, Payout, RevenueEvent

from . import webhook_helpers as h

pytestmark = pytest.mark.django_db


def net() -> int:
    return sum(RevenueEvent.objects.values_list("amount_cents", flat=True))


def fail_one_delivery(client) -> InboundDelivery:
    """A configuration fault (no default entity) makes a delivery fail; it is kept, not lost."""
    Entity.objects.update(is_default=False)
    response = h.post_stripe(client, h.event("charge.succeeded", h.charge()))
    assert response.status_code == 200 and response.json()["status"] == "failed"
    Entity.objects.filter(slug="aplus-enterprise").update(is_default=True)
    return InboundDelivery.objects.get()


def test_replay_failed_books_what_failed_once_fixed(client):
    fail_one_delivery(client)
    assert RevenueEvent.objects.count() == 0
    out = StringIO()
    call_command("replay_webhooks", "--failed", stdout=out)
    assert "1 processed" in out.getvalue()
    assert InboundDelivery.objects.get().status == "processed"
    assert RevenueEvent.objects.count() == 1
    call_command("replay_webhooks", "--since", "2000-01-01", stdout=out)  # idempotent
    assert RevenueEvent.objects.count() == 1


def test_replay_needs_a_mode():
    with pytest.raises(CommandError):
        call_command("replay_webhooks")
    with pytest.raises(CommandError):
        call_command("replay_webhooks", "--since", "yesterday-ish")


def test_admin_lists_shows_and_reprocesses(client, staff_client, django_assert_max_num_queries):
    delivery = fail_one_delivery(client)
    for evt in [h.event("refund.created", h.refund(re=f"re_{i}", amount=10)) for i in range(10)]:
        h.post_stripe(client, evt)
    with django_assert_max_num_queries(12):
        page = staff_client.get("/admin/integrations/inbounddelivery/")
    assert page.status_code == 200 and delivery.event_id in page.content.decode()
    detail = staff_client.get(f"/admin/integrations/inbounddelivery/{delivery.pk}/change/")
    assert detail.status_code == 200 and "charge.succeeded" in detail.content.decode()
    assert staff_client.get("/admin/integrations/inbounddelivery/add/").status_code == 403
    response = staff_client.post(
        "/admin/integrations/inbounddelivery/",
        {"action": "reprocess", "_selected_action": [delivery.pk]},
        follow=True,
    )
    assert "1 processed" in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == "processed"
    assert [e.event_id for e in delivery.ledger_events.all()] == ["stripe:pi_fakefakefakefakefake0001"]


@pytest.mark.django_db(transaction=True)
def test_send_test_webhooks_against_a_live_server(live_server, seeded_entities):
    out = StringIO()
    call_command("send_test_webhooks", "--url", live_server.url, stdout=out)
    assert out.getvalue().count(": 200 ") == 5, out.getvalue()
    kinds = sorted((e.provider, e.kind, e.amount_cents) for e in RevenueEvent.objects.all())
    assert kinds == [("gumroad", "payment", 1500), ("stripe", "payment", 4900), ("stripe", "refund", -900)]


# ---------------------------------------------------------------- sync_stripe against recorded API responses


def _list(url: str, data: list[dict], has_more: bool = False) -> dict:
    return {"object": "list", "url": url, "has_more": has_more, "data": data}


@pytest.fixture
def stripe_api(httpserver, settings):
    """The Stripe API as recorded: objects from ../shared/data, served by a local HTTP server."""
    settings.STRIPE_SECRET_KEY = "sk_test_recorded"
    bt = h.load("balance_transaction_txn_fake_ch_fakefakefakefakefake0001.json")
    charge = h.load("charge_ch_fakefakefakefakefake0001.json")
    charge.update(balance_transaction=bt, amount_captured=2000, amount_refunded=500)
    charge.pop("refunds")
    second = copy.deepcopy(charge)
    second.update(
        id="ch_jpy_0002",
        payment_intent="pi_jpy_0002",
        amount=5000,
        amount_captured=5000,
        currency="jpy",
        amount_refunded=0,
    )
    second["balance_transaction"] = {**bt, "id": "txn_jpy_0002", "amount": 3350, "fee": 127, "exchange_rate": 0.0067}
    refund = h.refund(re="re_recorded_1", amount=500, created=1557999999)
    dispute = h.load("dispute_dp_fakefakefakefake01.json")
    dispute.update(payment_intent="pi_fakefakefakefakefake0001")
    payout = {**h.load("payout_custom_bank_account.json"), "amount": 1000}  # the API sends integer cents
    requests_seen: list[str] = []

    def charges(request):
        requests_seen.append(request.query_string.decode())
        if request.args.get("starting_after") == charge["id"]:
            body = _list("/v1/charges", [second])
        else:
            body = _list("/v1/charges", [charge], has_more=True)
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/v1/charges", method="GET").respond_with_handler(charges)
    httpserver.expect_request("/v1/refunds", method="GET").respond_with_json(_list("/v1/refunds", [refund]))
    httpserver.expect_request("/v1/disputes", method="GET").respond_with_json(_list("/v1/disputes", [dispute]))
    httpserver.expect_request("/v1/payouts", method="GET").respond_with_json(_list("/v1/payouts", [payout]))
    httpserver.expect_request("/v1/balance_transactions", method="GET").respond_with_json(
        _list("/v1/balance_transactions", [bt])
    )
    return {"url": httpserver.url_for("").rstrip("/"), "seen": requests_seen}


def test_sync_stripe_feeds_the_same_mapping_without_double_counting(client, stripe_api):
    # webhooks already told us about the first sale and its refund
    h.post_stripe(client, h.event("charge.succeeded", h.charge()))
    h.post_stripe(client, h.event("refund.created", h.refund(re="re_recorded_1", amount=500, created=1557999999)))
    before = set(RevenueEvent.objects.values_list("event_id", flat=True))
    out = StringIO()
    call_command("sync_stripe", "--since", "2019-01-01", "--api-base", stripe_api["url"], stdout=out)
    assert "2 charges" in out.getvalue() and "1 payouts" in out.getvalue()
    assert len(stripe_api["seen"]) == 2 and "starting_after=ch_fakefakefakefakefake0001" in stripe_api["seen"][1]
    assert "expand" in stripe_api["seen"][0]
    rows = {e.event_id: e for e in RevenueEvent.objects.all()}
    assert before <= set(rows)
    assert set(rows) - before == {
        "stripe:pi_jpy_0002",
        "stripe:fee:txn_fake_ch_fakefakefakefakefake0001",
        "stripe:fee:txn_jpy_0002",
        "stripe:dp_1JAyTwJSZQVUcJYgPqasUEn1",
        "stripe:fee:txn_16g5h62eZvKYlo2CQ2AHA89s",
    }
    jpy = rows["stripe:pi_jpy_0002"]
    assert (jpy.amount_cents, jpy.currency, jpy.amount_usd_cents, str(jpy.fx_rate)) == (
        5000,
        "JPY",
        3350,
        "0.0067000000",
    )
    assert RevenueEvent.objects.filter(event_id="stripe:pi_fakefakefakefakefake0001").count() == 1
    assert RevenueEvent.objects.filter(source_id="re_recorded_1").count() == 1
    assert Payout.objects.get().amount_cents == 1000
    first_total = net()
    call_command("sync_stripe", "--since", "2019-01-01", "--api-base", stripe_api["url"], stdout=StringIO())
    assert net() == first_total  # a second run books nothing


def test_sync_stripe_without_key_is_refused(settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(CommandError, match="STRIPE_SECRET_KEY"):
        call_command("sync_stripe", "--since", "2024-01-01")

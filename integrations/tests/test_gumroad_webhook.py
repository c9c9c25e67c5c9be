"""POST /webhooks/gumroad?token=…: form-encoded or JSON pings, on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.gumroad.mapping import parse_body
from integrations.models import InboundDelivery
from revenue.models import RevenueEvent

from . import webhook_helpers as h

pytestmark = pytest.mark.django_db

SALE = "gumroad:sale:FO8TXN-dvxYabdavG97Y-Q=="


def ok(client, ping, **kwargs):
    response = h.post_gumroad(client, ping, **kwargs)
    assert response.status_code == 200, response.content
    return response


def rows():
    return {e.event_id: e for e in RevenueEvent.objects.all()}


def test_parse_form_with_bracket_keys_and_string_booleans():
    payload = parse_body(
        "a=1&card[visual]=4242&variants[Size]=L&x[]=1&x[]=2&test=false", "application/x-www-form-urlencoded"
    )
    assert payload == {
        "a": "1",
        "card": {"visual": "4242"},
        "variants": {"Size": "L"},
        "x": ["1", "2"],
        "test": "false",
    }


@pytest.mark.parametrize("as_json", [False, True])
def test_sale_is_booked_in_usd_cents_whatever_the_listing_currency(client, as_json):
    ok(client, h.gumroad_ping(currency="eur", price="2500"), as_json=as_json)
    sale = RevenueEvent.objects.get()
    assert (sale.event_id, sale.kind, sale.amount_cents, sale.currency) == (SALE, "payment", 2500, "USD")
    assert sale.occurred_at == datetime(2026, 5, 28, 20, 26, 40, tzinfo=UTC)
    assert sale.customer_email == "reader@example.com"
    assert sale.metadata["listing_currency"] == "eur"
    assert InboundDelivery.objects.get().event_id == "FO8TXN-dvxYabdavG97Y-Q==:sale"


def test_gift_books_gift_price(client):
    ok(client, h.gumroad_ping(price="0", is_gift_receiver_purchase="true", gift_price="4000"))
    assert RevenueEvent.objects.get().amount_cents == 4000


def test_test_ping_is_acknowledged_and_never_counted(client):
    response = ok(client, h.gumroad_ping(test="true"))
    assert response.json()["status"] == "ignored"
    assert InboundDelivery.objects.get().status == "ignored"
    assert RevenueEvent.objects.count() == 0


def test_retries_dedupe_on_sale_id_and_resource_not_body(client):
    ok(client, h.gumroad_ping())
    again = ok(client, h.gumroad_ping(retry_count="1"))
    assert again.json()["status"] == "duplicate"
    assert InboundDelivery.objects.count() == 1 and RevenueEvent.objects.count() == 1


def test_refund_books_minus_the_sale_amount_from_the_ledger(client):
    ok(client, h.gumroad_ping(price="2500"))
    ok(client, h.gumroad_ping(resource_name="refund", refunded="true", price="9999"))
    refund = rows()["gumroad:refund:FO8TXN-dvxYabdavG97Y-Q=="]
    assert (refund.kind, refund.amount_cents, refund.parent_event_id) == ("refund", -2500, SALE)
    assert InboundDelivery.objects.count() == 2


def test_refund_before_sale_uses_the_pings_price(client):
    ok(client, h.gumroad_ping(resource_name="refund", refunded="true"))
    ok(client, h.gumroad_ping())
    assert sum(e.amount_cents for e in rows().values()) == 0
    assert len(rows()) == 2


def test_sale_ping_saying_refunded_books_the_refund_too(client):
    ok(client, h.gumroad_ping(refunded="true"))
    assert sorted((e.kind, e.amount_cents) for e in rows().values()) == [("payment", 2500), ("refund", -2500)]


def test_partial_refund_of_unknown_amount_is_kept_as_failed(client):
    response = ok(client, h.gumroad_ping(resource_name="refund", refunded="false"))
    assert response.json()["status"] == "failed"
    assert RevenueEvent.objects.count() == 0


def test_dispute_then_dispute_won(client):
    ok(client, h.gumroad_ping())
    ok(client, h.gumroad_ping(resource_name="dispute", disputed="true"))
    assert sum(e.amount_cents for e in rows().values()) == 0
    ok(client, h.gumroad_ping(resource_name="dispute_won", dispute_won="true"))
    by_kind = {e.kind: e.amount_cents for e in rows().values()}
    assert by_kind == {"payment": 2500, "dispute": -2500, "dispute_reversal": 2500}


def test_cancellation_is_stored_without_money(client):
    ok(client, h.gumroad_ping(resource_name="cancellation", sale_id=None, subscription_id="sub-xyz", cancelled="true"))
    delivery = InboundDelivery.objects.get()
    assert (delivery.event_id, delivery.status) == ("sub-xyz:cancellation", "processed")
    assert RevenueEvent.objects.count() == 0


def test_product_mapping_resolves_the_entity(client, entities):
    legacy = entities["legacy-unchained"]
    legacy.gumroad_product_ids = ["32-nPAicqbLj8B_WswVlMw=="]
    legacy.save()
    ok(client, h.gumroad_ping())
    assert RevenueEvent.objects.get().entity == legacy


# ---------------------------------------------------------------- refusals: nothing recorded


def nothing():
    return InboundDelivery.objects.count() == 0 and RevenueEvent.objects.count() == 0


@pytest.mark.parametrize("token", [None, "", "wrong-token", h.GUMROAD_SECRET + "x"])
def test_bad_token_is_401(client, token):
    response = h.post_gumroad(client, h.gumroad_ping(), token=token)
    assert response.status_code == 401 and response.json()["code"] == "invalid_token"
    assert nothing()


def test_unknown_seller_is_403(client):
    response = h.post_gumroad(client, h.gumroad_ping(seller_id="someone-else"))
    assert response.status_code == 403 and response.json()["code"] == "unknown_seller"
    assert nothing()


def test_oversized_is_413(client, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 2048
    response = h.post_gumroad(client, h.gumroad_ping(product_name="x" * 3000))
    assert response.status_code == 413
    assert nothing()


@pytest.mark.parametrize("body", ["{not json", "[1,2]", "a=1&=&&b"])
def test_malformed_is_400(client, body):
    url = f"/webhooks/gumroad?token={h.GUMROAD_SECRET}"
    content_type = "application/json" if body.startswith(("{", "[")) else "application/x-www-form-urlencoded"
    response = client.post(url, data=body, content_type=content_type)
    assert response.status_code in (400, 403)
    assert response.json()["code"] in ("malformed", "unknown_seller")
    assert nothing()


def test_ping_without_sale_id_is_400(client):
    response = h.post_gumroad(client, h.gumroad_ping(sale_id=None))
    assert response.status_code == 400
    assert nothing()


def test_not_configured_is_503(client, settings):
    settings.GUMROAD_WEBHOOK_SECRET = ""
    response = h.post_gumroad(client, h.gumroad_ping())
    assert response.status_code == 503
    assert nothing()

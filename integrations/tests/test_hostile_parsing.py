"""Issue 15 items 7 and 8 (Stripe): deep JSON, NUL characters and odd digits get a 4xx with a
reason, never a 5xx; a Stripe-Signature timestamp is ASCII digits or nothing."""

# ruff: noqa: F811  (pytest fixtures imported from api_fixtures are used as arguments)

from __future__ import annotations

import json
import time

import pytest

from integrations.models import InboundDelivery, WebhookSubscription
from integrations.stripe.signature import stripe_signature_header
from revenue.models import RevenueEvent

from . import webhook_helpers as h
from .api_fixtures import subscribe_key, subscriber_api  # noqa: F401

pytestmark = [pytest.mark.hostile, pytest.mark.django_db]

DEEP = "[" * 5000 + "]" * 5000


def _deep_event() -> str:
    evt = h.event("charge.succeeded", h.charge())
    return json.dumps(evt)[:-1] + ', "deep": ' + DEEP + "}"


def test_stripe_5000_deep_json_is_a_400_with_a_reason(client):
    response = h.post_stripe(client, _deep_event())
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "malformed"
    assert "nested more than" in response.json()["message"]
    assert not InboundDelivery.objects.exists()


def test_stripe_json_deeper_than_the_limit_is_a_400(client, settings):
    settings.JSON_MAX_DEPTH = 20
    evt = h.event("charge.succeeded", h.charge())
    body = json.dumps(evt)[:-1] + ', "deep": ' + "[" * 30 + "]" * 30 + "}"
    response = h.post_stripe(client, body)
    assert response.status_code == 400 and "nested more than 20" in response.json()["message"]


@pytest.mark.parametrize("field", ["id", "type"])
def test_stripe_nul_in_event_id_or_type_is_a_400(client, field):
    evt = h.event("charge.succeeded", h.charge())
    evt[field] = evt[field] + "\u0000x"
    response = h.post_stripe(client, evt)
    assert response.status_code == 400, response.content
    assert "NUL" in response.json()["message"]
    assert not InboundDelivery.objects.exists()


def test_stripe_nul_anywhere_in_the_payload_is_a_400(client):
    response = h.post_stripe(client, h.event("charge.succeeded", h.charge(description="a\u0000b")))
    assert response.status_code == 400 and "NUL" in response.json()["message"]


def test_stripe_amount_must_be_an_integer_not_other_digits(client):
    response = h.post_stripe(client, h.event("charge.succeeded", h.charge(amount="٣٠٠", amount_captured="٣٠٠")))
    assert response.status_code == 200
    assert not RevenueEvent.objects.exists()
    assert InboundDelivery.objects.get().status == InboundDelivery.Status.FAILED


def test_gumroad_deep_json_and_nul_sale_id_are_400(client):
    deep = h.post_gumroad(client, {"seller_id": h.GUMROAD_SELLER, "x": json.loads("[" * 900 + "]" * 900)}, as_json=True)
    assert deep.status_code < 500
    body = '{"seller_id": "%s", "sale_id": "x", "deep": %s}' % (h.GUMROAD_SELLER, DEEP)  # noqa: UP031
    response = client.post(f"/webhooks/gumroad?token={h.GUMROAD_SECRET}", data=body, content_type="application/json")
    assert response.status_code == 400, response.content
    nul = h.post_gumroad(client, h.gumroad_ping(sale_id="abc\x00def"))
    assert nul.status_code == 400 and "NUL" in nul.json()["message"]
    assert not InboundDelivery.objects.exists()


# ---------------------------------------------------------------- Stripe-Signature timestamps


def _header_with(timestamp_text: str, body: str) -> str:
    """A correctly signed header (the SDK signs int(t)) whose t= text is written oddly."""
    good = stripe_signature_header(payload=body, secret=h.STRIPE_SECRET, timestamp=int(timestamp_text.strip(" +")))
    return good.replace(f"t={int(timestamp_text.strip(' +'))}", f"t={timestamp_text}")


@pytest.mark.parametrize("spelling", [" {t}", "+{t}", "{t} ", "0{t}"])
def test_future_timestamp_cannot_hide_behind_spaces_or_signs(client, spelling):
    future = int(time.time()) + 3600
    body = json.dumps(h.event("charge.succeeded", h.charge()))
    response = h.post_stripe(client, body, header=_header_with(spelling.format(t=future), body))
    assert response.status_code == 400, response.content
    assert response.json()["code"] in ("malformed_signature", "future_signature")
    assert not InboundDelivery.objects.exists()


def test_timestamp_in_other_scripts_digits_is_refused(client):
    body = json.dumps(h.event("charge.succeeded", h.charge()))
    now = int(time.time())
    arabic = "".join(chr(0x0660 + int(d)) for d in str(now))
    good = stripe_signature_header(payload=body, secret=h.STRIPE_SECRET, timestamp=now)
    response = h.post_stripe(client, body, header=good.replace(f"t={now}", f"t={arabic}"))
    assert response.status_code == 400
    assert response.json()["code"] in ("malformed_signature", "invalid_signature")


def test_a_plain_timestamp_still_verifies(client):
    response = h.post_stripe(client, h.event("charge.succeeded", h.charge()))
    assert response.status_code == 200 and RevenueEvent.objects.exists()


# ---------------------------------------------------------------- the API's JSON parser


def test_api_5000_deep_json_is_a_400_json_answer(subscriber_api):
    response = subscriber_api.post("/api/v1/subscriptions", data=DEEP, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert "nested more than" in response.json()["message"]
    assert not WebhookSubscription.objects.exists()


def test_api_nul_and_bad_bytes_are_400(subscriber_api):
    nul = subscriber_api.post(
        "/api/v1/subscriptions",
        data=json.dumps({"url": "https://example.com/\u0000", "event_types": ["revenue.event.recorded"]}),
        content_type="application/json",
    )
    assert nul.status_code == 400 and "NUL" in nul.json()["message"]
    latin = subscriber_api.post("/api/v1/subscriptions", data=b'{"url": "\xff"}', content_type="application/json")
    assert latin.status_code == 400 and "UTF-8" in latin.json()["message"]


def test_api_body_over_the_size_limit_is_a_413(subscriber_api, settings):
    settings.API_MAX_BODY_BYTES = 1000
    body = json.dumps({"url": "https://example.com/" + "a" * 2000, "event_types": []})
    response = subscriber_api.post("/api/v1/subscriptions", data=body, content_type="application/json")
    assert response.status_code == 413 and response.json()["code"] == "too_large"

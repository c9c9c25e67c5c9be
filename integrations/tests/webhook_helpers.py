"""Real payloads from ../shared/data wrapped in Stripe event envelopes, signed like Stripe signs them."""

from __future__ import annotations

import copy
import itertools
import json
import time
from pathlib import Path
from urllib.parse import urlencode

from integrations.stripe.signature import stripe_signature_header

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "stripe"
STRIPE_SECRET = "whsec_test_current_0123456789abcdef"
STRIPE_SECRET_OLD = "whsec_test_previous_fedcba9876543210"
GUMROAD_SECRET = "gumroad-token-7f3c1a9e"
GUMROAD_SELLER = "seller-AbC123=="

_counter = itertools.count(1)
T0 = 1_780_000_000  # 2026-05-28T20:26:40Z


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def event(event_type: str, obj: dict, *, event_id: str | None = None, created: int = T0, account: str = "") -> dict:
    envelope = {
        "id": event_id or f"evt_test_{next(_counter):06d}",
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": obj},
    }
    if account:
        envelope["account"] = account
    return envelope


def signed(body: str, *, secret: str = STRIPE_SECRET, timestamp: int | None = None) -> str:
    return stripe_signature_header(payload=body, secret=secret, timestamp=timestamp or int(time.time()))


def post_stripe(client, evt: dict | str, *, secret: str = STRIPE_SECRET, timestamp: int | None = None, header=None):
    body = evt if isinstance(evt, str) else json.dumps(evt)
    sig = header if header is not None else signed(body, secret=secret, timestamp=timestamp)
    extra = {"HTTP_STRIPE_SIGNATURE": sig} if sig else {}
    return client.post("/webhooks/stripe", data=body, content_type="application/json", **extra)


# ---------------------------------------------------------------- payload builders (from the real fixtures)


def charge(*, pi="pi_fakefakefakefakefake0001", ch="ch_fakefakefakefakefake0001", amount=2000, currency="usd", **extra):
    obj = load("charge_ch_fakefakefakefakefake0001.json")
    obj.update(id=ch, payment_intent=pi, amount=amount, amount_captured=amount, currency=currency)
    obj["balance_transaction"] = None  # as in a success event: the fee comes later
    obj.update(extra)
    return obj


def payment_intent(
    *, pi="pi_fakefakefakefakefake0001", ch="ch_fakefakefakefakefake0001", amount=2000, currency="usd", **extra
):
    obj = load("payment_intent_pi_fakefakefakefakefake0001.json")
    obj.update(id=pi, amount=amount, amount_received=amount, currency=currency)
    obj["charges"]["data"][0].update(id=ch, payment_intent=pi, amount=amount, currency=currency)
    obj.update(extra)
    return obj


def checkout_session(*, pi="pi_fakefakefakefakefake0001", amount=2000, currency="usd", payment_status="paid", **extra):
    obj = {
        "id": f"cs_test_{pi}",
        "object": "checkout.session",
        "mode": "payment",
        "amount_total": amount,
        "amount_subtotal": amount,
        "currency": currency,
        "payment_intent": pi,
        "payment_status": payment_status,
        "status": "complete",
        "customer": "cus_6lsBvm5rJ0zyHc",
        "customer_details": {"email": "buyer@example.com", "name": "Buyer"},
        "metadata": {},
        "created": T0 - 60,
    }
    obj.update(extra)
    return obj


def refund(
    *,
    re="re_test_0001",
    pi="pi_fakefakefakefakefake0001",
    ch="ch_fakefakefakefakefake0001",
    amount=500,
    currency="usd",
    status="succeeded",
    created=T0 + 3600,
    **extra,
):
    obj = {
        "id": re,
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": ch,
        "created": created,
        "currency": currency,
        "metadata": {},
        "payment_intent": pi,
        "reason": "requested_by_customer",
        "status": status,
    }
    obj.update(extra)
    return obj


def charge_refunded(refunds: list[dict] | None, *, amount_refunded: int, **charge_kwargs):
    obj = charge(**charge_kwargs)
    obj.update(amount_refunded=amount_refunded, refunded=amount_refunded >= obj["amount"])
    if refunds is None:
        obj.pop("refunds", None)  # API 2022-11-15+: the list is not included
    else:
        obj["refunds"] = {"object": "list", "data": refunds, "has_more": False, "url": "/v1/refunds"}
    return obj


def dispute(
    name="dispute_dp_fakefakefakefake01.json",
    *,
    pi="pi_fakefakefakefakefake0001",
    ch="ch_fakefakefakefakefake0001",
    **extra,
):
    obj = copy.deepcopy(load(name))
    obj.update(payment_intent=pi, charge=ch)
    obj.update(extra)
    return obj


# ---------------------------------------------------------------- Gumroad ping (fields from Gumroad's Ping documentation)


def gumroad_ping(**overrides) -> dict:
    ping = {
        "seller_id": GUMROAD_SELLER,
        "product_id": "32-nPAicqbLj8B_WswVlMw==",
        "product_name": "Revenue Masterclass",
        "permalink": "masterclass",
        "product_permalink": "https://branchberg.gumroad.com/l/masterclass",
        "short_product_id": "masterclass",
        "email": "reader@example.com",
        "price": "2500",
        "gumroad_fee": "285",
        "currency": "usd",
        "quantity": "1",
        "discover_fee_charged": "false",
        "can_contact": "true",
        "referrer": "direct",
        "card[visual]": "4242",
        "card[type]": "visa",
        "order_number": "524459935",
        "sale_id": "FO8TXN-dvxYabdavG97Y-Q==",
        "sale_timestamp": "2026-05-28T20:26:40Z",
        "purchaser_id": "5530311507811",
        "variants[Tier]": "Standard",
        "test": "false",
        "ip_country": "United States",
        "is_gift_receiver_purchase": "false",
        "refunded": "false",
        "disputed": "false",
        "dispute_won": "false",
    }
    ping.update({k: v for k, v in overrides.items() if v is not None})
    for key in [k for k, v in overrides.items() if v is None]:
        ping.pop(key, None)
    return ping


def post_gumroad(client, ping: dict, *, token: str | None = GUMROAD_SECRET, as_json: bool = False):
    url = "/webhooks/gumroad" + (f"?{urlencode({'token': token})}" if token is not None else "")
    if as_json:
        return client.post(url, data=json.dumps(ping), content_type="application/json")
    return client.post(url, data=urlencode(ping), content_type="application/x-www-form-urlencoded")

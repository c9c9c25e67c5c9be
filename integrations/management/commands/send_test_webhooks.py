"""Send correctly signed sample deliveries to a running Branchberg (like `stripe trigger`)."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ...stripe.signature import stripe_signature_header


def _stripe_samples(run: str, now: int) -> list[dict]:
    pi, ch, re = f"pi_sample_{run}", f"ch_sample_{run}", f"re_sample_{run}"
    common = {"currency": "usd", "metadata": {}, "created": now}
    session = {
        **common,
        "id": f"cs_sample_{run}",
        "object": "checkout.session",
        "mode": "payment",
        "amount_total": 4900,
        "payment_intent": pi,
        "payment_status": "paid",
        "status": "complete",
        "customer_details": {"email": "sample.buyer@example.com"},
    }
    intent = {
        **common,
        "id": pi,
        "object": "payment_intent",
        "amount": 4900,
        "amount_received": 4900,
        "status": "succeeded",
        "latest_charge": ch,
        "receipt_email": "sample.buyer@example.com",
    }
    charge = {
        **common,
        "id": ch,
        "object": "charge",
        "amount": 4900,
        "amount_captured": 4900,
        "amount_refunded": 0,
        "captured": True,
        "paid": True,
        "status": "succeeded",
        "payment_intent": pi,
        "balance_transaction": None,
        "billing_details": {"email": "sample.buyer@example.com"},
    }
    refund = {
        **common,
        "id": re,
        "object": "refund",
        "amount": 900,
        "charge": ch,
        "payment_intent": pi,
        "status": "succeeded",
        "reason": "requested_by_customer",
        "created": now + 1,
    }
    types = [
        ("checkout.session.completed", session),
        ("payment_intent.succeeded", intent),
        ("charge.succeeded", charge),
        ("refund.created", refund),
    ]
    return [
        {"id": f"evt_sample_{run}_{i}", "object": "event", "type": t, "created": now, "data": {"object": o}}
        for i, (t, o) in enumerate(types)
    ]


def _gumroad_sample(run: str, seller_id: str) -> dict:
    return {
        "seller_id": seller_id,
        "sale_id": f"sample-{run}==",
        "sale_timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "product_id": "sample-product==",
        "product_name": "Sample product",
        "product_permalink": "sample",
        "email": "sample.reader@example.com",
        "price": "1500",
        "currency": "usd",
        "quantity": "1",
        "test": "false",
        "refunded": "false",
        "card[visual]": "4242",
    }


class Command(BaseCommand):
    help = "POST signed sample Stripe (Checkout triple + a refund) and Gumroad deliveries to URL."

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="base URL of the running app, e.g. http://127.0.0.1:8000")
        parser.add_argument("--timeout", type=float, default=10.0)

    def handle(self, *args, url: str, timeout: float, **options):
        base = url.rstrip("/")
        run = uuid.uuid4().hex[:12]
        failures = 0
        secrets = [s for s in settings.STRIPE_WEBHOOK_SECRETS if s]
        if secrets:
            for event in _stripe_samples(run, int(time.time())):
                body = json.dumps(event)
                header = stripe_signature_header(payload=body, secret=secrets[0], timestamp=int(time.time()))
                response = requests.post(
                    f"{base}/webhooks/stripe",
                    data=body.encode(),
                    headers={"Content-Type": "application/json", "Stripe-Signature": header},
                    timeout=timeout,
                )
                failures += self._report(f"stripe {event['type']}", response)
        else:
            self.stderr.write("STRIPE_WEBHOOK_SECRET is not set: Stripe samples skipped")
        if settings.GUMROAD_WEBHOOK_SECRET and settings.GUMROAD_SELLER_IDS:
            query = urlencode({"token": settings.GUMROAD_WEBHOOK_SECRET})
            response = requests.post(
                f"{base}/webhooks/gumroad?{query}",
                data=_gumroad_sample(run, settings.GUMROAD_SELLER_IDS[0]),
                timeout=timeout,
            )
            failures += self._report("gumroad sale", response)
        else:
            self.stderr.write("GUMROAD_WEBHOOK_SECRET / GUMROAD_SELLER_ID not set: Gumroad sample skipped")
        if failures:
            raise CommandError(f"{failures} sample deliveries were not accepted")

    def _report(self, label: str, response: requests.Response) -> int:
        self.stdout.write(f"{label}: {response.status_code} {response.text[:200]}")
        return 0 if response.status_code == 200 else 1

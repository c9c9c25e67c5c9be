"""50 concurrent deliveries of one event over real HTTP: one raw row, one ledger row, all 2xx."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
import requests

from integrations.models import InboundDelivery
from revenue.models import OutboxMessage, RevenueEvent

from . import webhook_helpers as h


@pytest.fixture(params=["django-view", "asgi-group-commit"])
def server_url(request, settings) -> str:
    """Each delivery stored in its own commit by the Django view (live server), or through the
    web process's ASGI fast path and its group commit (uvicorn)."""
    if request.param == "django-view":
        return request.getfixturevalue("live_server").url
    settings.WEBHOOK_GROUP_COMMIT = True
    return request.getfixturevalue("asgi_server")


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_copies_of_one_stripe_event(server_url, seeded_entities):
    body = json.dumps(h.event("charge.succeeded", h.charge()))

    def send(_):
        return requests.post(
            f"{server_url}/webhooks/stripe",
            data=body,
            headers={"Stripe-Signature": h.signed(body), "Content-Type": "application/json"},
            timeout=30,
        ).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(send, range(50)))
    assert all(200 <= status < 300 for status in statuses), statuses
    assert InboundDelivery.objects.count() == 1
    assert InboundDelivery.objects.get().status == "processed"
    assert RevenueEvent.objects.count() == 1
    assert OutboxMessage.objects.filter(topic="revenue.event.recorded").count() == 1


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_triples_and_refunds_stay_exact(server_url, seeded_entities):
    """Different deliveries of the same money racing each other still give one row per movement."""
    events = []
    for i in range(10):
        pi, ch = f"pi_race_{i}", f"ch_race_{i}"
        events += [
            h.event("checkout.session.completed", h.checkout_session(pi=pi)),
            h.event("payment_intent.succeeded", h.payment_intent(pi=pi, ch=ch)),
            h.event("charge.succeeded", h.charge(pi=pi, ch=ch)),
            h.event("refund.created", h.refund(re=f"re_race_{i}", pi=pi, ch=ch, amount=500)),
            h.event("charge.refunded", h.charge_refunded(None, amount_refunded=500, pi=pi, ch=ch)),
        ]

    def send(evt):
        body = json.dumps(evt)
        return requests.post(
            f"{server_url}/webhooks/stripe",
            data=body,
            headers={"Stripe-Signature": h.signed(body), "Content-Type": "application/json"},
            timeout=30,
        ).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(send, events))
    assert all(status == 200 for status in statuses), statuses
    assert RevenueEvent.objects.filter(kind="payment").count() == 10
    assert sum(RevenueEvent.objects.values_list("amount_cents", flat=True)) == 10 * (2000 - 500)


@pytest.mark.django_db(transaction=True)
def test_gumroad_retries_racing(live_server, seeded_entities):
    ping = h.gumroad_ping()

    def send(n):
        return requests.post(
            f"{live_server.url}/webhooks/gumroad?{urlencode({'token': h.GUMROAD_SECRET})}",
            data={**ping, "retry_count": str(n % 3)},
            timeout=30,
        ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(send, range(20)))
    assert set(statuses) == {200}
    assert InboundDelivery.objects.count() == 1 and RevenueEvent.objects.count() == 1

"""The ASGI fast path in front of Django, over real HTTP (uvicorn): same answers as the views,
deliveries stored through the group commit, and Django still serves everything else."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
import requests

from integrations.models import InboundDelivery
from revenue.models import RevenueEvent

from . import webhook_helpers as h

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def group_commit_on(settings, seeded_entities):
    settings.WEBHOOK_GROUP_COMMIT = True


def post_stripe(base_url: str, body: str, **headers: str) -> requests.Response:
    headers = {"Content-Type": "application/json", "Stripe-Signature": h.signed(body), **headers}
    return requests.post(f"{base_url}/webhooks/stripe", data=body.encode(), headers=headers, timeout=30)


def test_stripe_delivery_is_verified_stored_and_booked(asgi_server):
    body = json.dumps(h.event("charge.succeeded", h.charge(), event_id="evt_fast_1"))
    response = post_stripe(asgi_server, body, **{"User-Agent": "Stripe/1.0", "X-Not-Kept": "x"})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert response.json() == {"status": "processed", "event_id": "evt_fast_1", "duplicate": False}
    delivery = InboundDelivery.objects.get(event_id="evt_fast_1")
    assert delivery.raw_body == body
    assert set(delivery.headers) == {"Content-Type", "User-Agent", "Stripe-Signature", "Content-Length"}
    assert RevenueEvent.objects.filter(amount_cents=2000).count() == 1
    repeat = post_stripe(asgi_server, body)
    assert repeat.status_code == 200 and repeat.json()["status"] == "duplicate"
    assert RevenueEvent.objects.count() == 1 and InboundDelivery.objects.count() == 1


def test_celery_mode_answers_once_stored_and_leaves_booking_to_a_worker(asgi_server, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.WEBHOOK_PROCESSING = "celery"
    bodies = [json.dumps(h.event("charge.succeeded", h.charge(ch=f"ch_q{n}"), event_id=f"evt_q{n}")) for n in range(40)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda body: post_stripe(asgi_server, body).json(), bodies + bodies[:10]))
    assert [a["status"] for a in answers] == ["received"] * 40 + ["duplicate"] * 10
    assert InboundDelivery.objects.filter(status=InboundDelivery.Status.RECEIVED).count() == 40
    assert not RevenueEvent.objects.exists()


def test_stripe_refusals_are_json_and_record_nothing(asgi_server):
    body = json.dumps(h.event("charge.succeeded", h.charge()))
    bad = post_stripe(asgi_server, body, **{"Stripe-Signature": "t=1,v1=bad"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_signature"
    missing = requests.post(f"{asgi_server}/webhooks/stripe", data=body, timeout=10)
    assert missing.status_code == 400 and missing.json()["code"] == "missing_signature"
    not_json = post_stripe(asgi_server, "not json")
    assert not_json.status_code == 400 and not_json.json()["code"] == "malformed"
    assert not InboundDelivery.objects.exists()


def test_oversized_body_is_413_declared_or_streamed(asgi_server, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    body = json.dumps(h.event("charge.succeeded", h.charge(description="x" * 2000)))
    declared = post_stripe(asgi_server, body)
    assert declared.status_code == 413 and declared.json()["code"] == "too_large"
    chunked = requests.post(  # no Content-Length: the body is read only up to the limit
        f"{asgi_server}/webhooks/stripe",
        data=iter([body[:1000].encode(), body[1000:].encode()]),
        headers={"Stripe-Signature": h.signed(body)},
        timeout=10,
    )
    assert chunked.status_code == 413 and chunked.json()["code"] == "too_large"
    assert not InboundDelivery.objects.exists()


def test_gumroad_token_comes_from_the_query_string(asgi_server):
    body = urlencode(h.gumroad_ping())
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    wrong = requests.post(f"{asgi_server}/webhooks/gumroad?token=wrong", data=body, headers=form, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_token"
    query = urlencode({"token": h.GUMROAD_SECRET})
    right = requests.post(f"{asgi_server}/webhooks/gumroad?{query}", data=body, headers=form, timeout=10)
    assert right.status_code == 200
    assert InboundDelivery.objects.filter(provider="gumroad").count() == 1


def test_other_methods_and_paths_still_go_to_django(asgi_server):
    assert requests.get(f"{asgi_server}/webhooks/stripe", timeout=10).status_code == 405
    assert requests.post(f"{asgi_server}/webhooks/stripe/", data=b"{}", timeout=10).status_code == 404
    login = requests.get(f"{asgi_server}/admin/login/", timeout=10)
    assert login.status_code == 200 and "csrfmiddlewaretoken" in login.text  # Django's middleware ran
    css = requests.get(f"{asgi_server}/static/admin/css/base.css", timeout=10)
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]  # whitenoise

"""The WSGI fast path in front of Django: same answers as the views, Django still serves the rest."""

from __future__ import annotations

import io
import json
from urllib.parse import urlencode
from wsgiref.util import setup_testing_defaults

import pytest

from branchberg.wsgi import application
from integrations.models import InboundDelivery
from revenue.models import RevenueEvent

from . import webhook_helpers as h

pytestmark = pytest.mark.django_db


def call(method: str, path: str, body: bytes = b"", query: str = "", **headers: str) -> tuple[int, dict, bytes]:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "wsgi.input": io.BytesIO(body)}
    environ.update({"CONTENT_LENGTH": str(len(body)), **headers})
    setup_testing_defaults(environ)
    captured = {}

    def start_response(status, response_headers, exc_info=None):
        captured["status"], captured["headers"] = int(status.split()[0]), dict(response_headers)

    content = b"".join(application(environ, start_response))
    return captured["status"], captured["headers"], content


def test_stripe_delivery_is_verified_stored_and_booked():
    body = json.dumps(h.event("charge.succeeded", h.charge(), event_id="evt_fast_1")).encode()
    status, headers, content = call(
        "POST", "/webhooks/stripe", body, CONTENT_TYPE="application/json", HTTP_STRIPE_SIGNATURE=h.signed(body.decode())
    )
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(content)["event_id"] == "evt_fast_1"
    delivery = InboundDelivery.objects.get(event_id="evt_fast_1")
    assert delivery.headers["Stripe-Signature"].startswith("t=")
    assert RevenueEvent.objects.filter(amount_cents=2000).count() == 1
    repeat = call(
        "POST", "/webhooks/stripe", body, CONTENT_TYPE="application/json", HTTP_STRIPE_SIGNATURE=h.signed(body.decode())
    )
    assert repeat[0] == 200 and RevenueEvent.objects.count() == 1


def test_stripe_refusals_are_json_and_record_nothing():
    body = json.dumps(h.event("charge.succeeded", h.charge())).encode()
    status, _, content = call("POST", "/webhooks/stripe", body, HTTP_STRIPE_SIGNATURE="t=1,v1=bad")
    assert status == 400 and json.loads(content)["code"] == "invalid_signature"
    status, _, content = call("POST", "/webhooks/stripe", body)
    assert status == 400 and json.loads(content)["code"] == "missing_signature"
    assert not InboundDelivery.objects.exists()


def test_oversized_body_is_413(settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    body = json.dumps(h.event("charge.succeeded", h.charge(description="x" * 2000))).encode()
    status, _, content = call("POST", "/webhooks/stripe", body, HTTP_STRIPE_SIGNATURE=h.signed(body.decode()))
    assert status == 413 and json.loads(content)["code"] == "too_large"
    assert not InboundDelivery.objects.exists()


def test_gumroad_token_comes_from_the_query_string():
    body = urlencode(h.gumroad_ping()).encode()
    form = {"CONTENT_TYPE": "application/x-www-form-urlencoded"}
    status, _, content = call("POST", "/webhooks/gumroad", body, query="token=wrong", **form)
    assert status == 401 and json.loads(content)["code"] == "invalid_token"
    status, _, _ = call("POST", "/webhooks/gumroad", body, query=urlencode({"token": h.GUMROAD_SECRET}), **form)
    assert status == 200
    assert InboundDelivery.objects.filter(provider="gumroad").count() == 1


def test_other_methods_and_paths_still_go_to_django():
    assert call("GET", "/webhooks/stripe")[0] == 405
    assert call("POST", "/webhooks/stripe/", b"{}")[0] == 404
    status, _, content = call("GET", "/admin/login/")
    assert status == 200 and b"csrfmiddlewaretoken" in content  # Django's middleware ran

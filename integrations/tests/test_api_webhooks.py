# ruff: noqa: F811  (pytest fixtures imported from api_fixtures are used as arguments)
"""Subscriptions API and signed deliveries (Standard Webhooks) against a real local HTTP server."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook
from werkzeug import Response

from integrations.atlas.channel import atlas_targets
from integrations.atlas.targets import TargetRefused, target_url_check
from integrations.models import Delivery, WebhookSubscription
from integrations.services.api_keys import api_key_create
from integrations.services.delivery import delivery_attempt, outbox_message_fan_out, outbox_messages_fan_out
from integrations.services.subscriptions import subscription_create
from revenue.models import OutboxMessage
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

from .api_fixtures import subscribe_key, subscriber_api  # noqa: F401

pytestmark = pytest.mark.django_db


def test_sign_reproduces_the_standard_webhooks_test_vector():
    """The published vector (standard-webhooks spec, libraries/python/tests/test_webhooks.py)."""
    webhook = Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signature = webhook.sign(
        msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=datetime.fromtimestamp(1614265330, tz=UTC),
        data='{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.fixture
def local_targets(settings):
    settings.ATLAS_ALLOW_PRIVATE_TARGETS = True


def record_payment(amount_cents=1500, currency="USD") -> OutboxMessage:
    event = revenue_event_record(entry=ledger_entry(amount_cents=amount_cents, currency=currency)).event
    return OutboxMessage.objects.get(topic="revenue.event.recorded", payload__id=str(event.id))


@pytest.mark.parametrize("rows", [3, 40])
def test_a_batch_fans_out_like_each_message(local_targets, django_assert_max_num_queries, rows):
    """One booked batch's messages: the same deliveries as fanning out one by one, with the
    subscriptions read once (threshold subscribers get only the rows at or above their amount)."""
    everything = subscription_create(
        url="https://atlas.example/all", event_types=["revenue.event.recorded"], created_by=None
    )
    large = subscription_create(
        url="https://atlas.example/large",
        event_types=["threshold.crossed"],
        created_by=None,
        threshold_amount_cents=10_000,
        threshold_currency="USD",
    )
    messages = [record_payment(amount_cents=5_000 + 1_000 * n) for n in range(rows)]
    with django_assert_max_num_queries(8):  # the same for 3 messages (3 deliveries) and 40 (75)
        delivery_ids = outbox_messages_fan_out(message_ids=[m.pk for m in messages])
    targets = sorted(Delivery.objects.filter(pk__in=delivery_ids).values_list("message_id", "target"))
    expected = [(m.pk, f"{everything.pk}/revenue.event.recorded") for m in messages]
    expected += [(m.pk, f"{large.pk}/threshold.crossed") for m in messages if m.payload["amount_cents"] >= 10_000]
    assert targets == sorted(expected)
    assert not OutboxMessage.objects.filter(pk__in=[m.pk for m in messages], dispatched_at__isnull=True).exists()
    assert outbox_message_fan_out(message_id=messages[-1].pk) == [
        pk for pk in delivery_ids if Delivery.objects.get(pk=pk).message_id == messages[-1].pk
    ]  # idempotent: the one-by-one path finds the same deliveries


def test_500_500_200_is_three_attempts_then_delivered(httpserver, local_targets):
    subscription = subscription_create(
        url=httpserver.url_for("/hooks"), event_types=["revenue.event.recorded"], created_by=None
    )
    for status in (500, 500, 200):
        httpserver.expect_ordered_request("/hooks", method="POST").respond_with_response(Response("x", status=status))
    message = record_payment()
    [delivery_id] = outbox_message_fan_out(message_id=message.pk)

    assert delivery_attempt(delivery_id=delivery_id) > 0  # backoff, not slept: the next call is the retry
    delivery = Delivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("retrying", 1, 500)
    first_wait = (delivery.next_attempt_at - delivery.updated_at).total_seconds()
    assert 2.4 <= first_wait <= 5.1  # attempt 1: full jitter in [base/2, base]
    assert delivery_attempt(delivery_id=delivery_id) > 0
    assert delivery_attempt(delivery_id=delivery_id) is None
    delivery = Delivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.channel) == ("sent", 3, "atlas")
    httpserver.check_assertions()

    requests_seen = [request for request, _ in httpserver.log]
    assert len(requests_seen) == 3
    ids = {request.headers["webhook-id"] for request in requests_seen}
    assert len(ids) == 1  # the same id on every retry: receivers dedupe on it
    last = requests_seen[-1]
    verified = Webhook(subscription.secret).verify(last.get_data(as_text=True), dict(last.headers))
    assert verified["type"] == "revenue.event.recorded"
    assert verified["data"]["amount_cents"] == 1500 and verified["data"]["currency"] == "USD"


def test_410_disables_the_subscription(httpserver, local_targets):
    subscription = subscription_create(url=httpserver.url_for("/gone"), event_types=["alert.raised"], created_by=None)
    httpserver.expect_request("/gone").respond_with_response(Response("", status=410))
    message = OutboxMessage.objects.create(topic="alert.raised", payload={"id": "a1", "severity": "critical"})
    [delivery_id] = outbox_message_fan_out(message_id=message.pk)
    assert delivery_attempt(delivery_id=delivery_id) is None
    assert Delivery.objects.get(pk=delivery_id).status == "disabled"
    subscription.refresh_from_db()
    assert subscription.status == "disabled" and "410" in subscription.disabled_reason
    later = OutboxMessage.objects.create(topic="alert.raised", payload={"id": "a2"})
    assert atlas_targets(later) == []


def test_429_retry_after_is_honoured(httpserver, local_targets):
    subscription_create(url=httpserver.url_for("/busy"), event_types=["summary.daily"], created_by=None)
    httpserver.expect_request("/busy").respond_with_response(Response("", status=429, headers={"Retry-After": "120"}))
    message = OutboxMessage.objects.create(topic="summary.daily", payload={"period": "daily"})
    [delivery_id] = outbox_message_fan_out(message_id=message.pk)
    assert delivery_attempt(delivery_id=delivery_id) >= 120
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == "retrying" and delivery.last_status_code == 429


def test_a_4xx_is_permanent(httpserver, local_targets):
    subscription_create(url=httpserver.url_for("/bad"), event_types=["summary.weekly"], created_by=None)
    httpserver.expect_request("/bad").respond_with_response(Response("no", status=400))
    message = OutboxMessage.objects.create(topic="summary.weekly", payload={})
    [delivery_id] = outbox_message_fan_out(message_id=message.pk)
    assert delivery_attempt(delivery_id=delivery_id) is None
    assert Delivery.objects.get(pk=delivery_id).status == "failed"


def test_threshold_crossed_is_derived_per_subscription(httpserver, local_targets):
    subscription = subscription_create(
        url=httpserver.url_for("/big"),
        event_types=["threshold.crossed"],
        threshold_amount_cents=100_000,
        threshold_currency="JPY",
        created_by=None,
    )
    small = record_payment(amount_cents=99_999, currency="JPY")
    other_currency = record_payment(amount_cents=500_000, currency="USD")
    big = record_payment(amount_cents=100_000, currency="JPY")
    assert atlas_targets(small) == [] and atlas_targets(other_currency) == []
    assert atlas_targets(big) == [f"{subscription.pk}/threshold.crossed"]
    httpserver.expect_request("/big").respond_with_data("ok")
    [delivery_id] = outbox_message_fan_out(message_id=big.pk)
    assert delivery_attempt(delivery_id=delivery_id) is None
    request = httpserver.log[0][0]
    body = Webhook(subscription.secret).verify(request.get_data(as_text=True), dict(request.headers))
    assert body["type"] == "threshold.crossed"
    assert body["data"]["event"]["amount_cents"] == 100_000
    assert (body["data"]["threshold_amount_cents"], body["data"]["threshold_currency"]) == (100_000, "JPY")


def test_send_time_check_refuses_a_target_that_became_private(httpserver, settings):
    settings.ATLAS_ALLOW_PRIVATE_TARGETS = True
    subscription_create(url=httpserver.url_for("/hooks"), event_types=["alert.raised"], created_by=None)
    message = OutboxMessage.objects.create(topic="alert.raised", payload={})
    [delivery_id] = outbox_message_fan_out(message_id=message.pk)
    settings.ATLAS_ALLOW_PRIVATE_TARGETS = False  # now the loopback URL is refused before any request
    assert delivery_attempt(delivery_id=delivery_id) is None
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == "failed" and "refused" in delivery.error
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/hook", "https"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
        ("https://0.0.0.0/hook", "reserved"),
        ("ftp://example.com/x", "https"),
        ("https://user:pw@example.com/x", "credentials"),
    ],
)
def test_private_and_insecure_targets_are_refused(settings, url, reason):
    settings.ATLAS_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(TargetRefused, match=reason):
        target_url_check(url)


def test_public_ip_target_is_accepted(settings):
    settings.ATLAS_ALLOW_PRIVATE_TARGETS = False
    target_url_check("https://93.184.215.14/hook")  # a literal public address: no DNS needed


# ---------------------------------------------------------------------------- the API


def test_subscription_lifecycle_through_the_api(subscriber_api, settings):
    settings.ATLAS_ALLOW_PRIVATE_TARGETS = False
    refused = subscriber_api.post(
        "/api/v1/subscriptions", {"url": "https://169.254.169.254/x", "event_types": ["alert.raised"]}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["code"] == "target_refused"

    response = subscriber_api.post(
        "/api/v1/subscriptions",
        {
            "url": "https://93.184.215.14/atlas",
            "event_types": ["revenue.event.recorded", "threshold.crossed"],
            "threshold_amount_cents": 500000,
            "threshold_currency": "usd",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_") and created["threshold_currency"] == "USD"
    Webhook(created["secret"])  # a valid Standard Webhooks secret

    listed = subscriber_api.get("/api/v1/subscriptions").json()["results"]
    assert [s["id"] for s in listed] == [created["id"]]
    assert "secret" not in listed[0]
    detail = subscriber_api.get(f"/api/v1/subscriptions/{created['id']}")
    assert detail.status_code == 200 and "secret" not in detail.json()

    # Another client's key cannot see or delete it.
    _, other = api_key_create(name="other", scopes=["subscribe"])
    subscriber_api.credentials(HTTP_X_API_KEY=other)
    assert subscriber_api.get(f"/api/v1/subscriptions/{created['id']}").status_code == 404
    assert subscriber_api.delete(f"/api/v1/subscriptions/{created['id']}").status_code == 404


def test_delete_stops_deliveries(subscriber_api, subscribe_key, settings):
    settings.ATLAS_ALLOW_PRIVATE_TARGETS = True
    created = subscriber_api.post(
        "/api/v1/subscriptions", {"url": "http://127.0.0.1:9/x", "event_types": ["alert.raised"]}, format="json"
    ).json()
    message = OutboxMessage.objects.create(topic="alert.raised", payload={})
    assert atlas_targets(message) == [f"{created['id']}/alert.raised"]
    assert subscriber_api.delete(f"/api/v1/subscriptions/{created['id']}").status_code == 204
    assert atlas_targets(message) == []
    assert WebhookSubscription.objects.get(pk=created["id"]).status == "deleted"
    assert subscriber_api.get(f"/api/v1/subscriptions/{created['id']}").status_code == 404
    assert subscriber_api.get("/api/v1/subscriptions/not-a-uuid").json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "https://93.184.215.14/x", "event_types": ["nope"]}, "invalid"),
        ({"url": "not a url", "event_types": ["alert.raised"]}, "invalid"),
        ({"url": "https://93.184.215.14/x", "event_types": []}, "invalid"),
        ({"url": "https://93.184.215.14/x", "event_types": ["threshold.crossed"]}, "threshold_required"),
        (
            {"url": "https://93.184.215.14/x", "event_types": ["alert.raised"], "threshold_amount_cents": 5},
            "threshold_unused",
        ),
        (
            {
                "url": "https://93.184.215.14/x",
                "event_types": ["threshold.crossed"],
                "threshold_amount_cents": 5,
                "threshold_currency": "XYZ",
            },
            "invalid_currency",
        ),
    ],
)
def test_bad_subscription_input_is_a_json_400(subscriber_api, settings, body, code):
    settings.ATLAS_ALLOW_PRIVATE_TARGETS = False
    response = subscriber_api.post("/api/v1/subscriptions", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not WebhookSubscription.objects.exists()


def test_malformed_json_body_is_a_json_400(subscriber_api):
    response = subscriber_api.post("/api/v1/subscriptions", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert json.loads(response.content)["message"]

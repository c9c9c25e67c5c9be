"""Atlas subscriber channel: outbox topics to registered endpoints, signed per Standard Webhooks.

A delivery target is "<subscription id>/<event type>", so one outbox message can
reach one subscription as two event types (revenue.event.recorded and the derived
threshold.crossed) and each is delivered, retried and logged on its own.
The webhook-id header is stable per (message, target): receivers dedupe on it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import urllib3
from django.conf import settings
from standardwebhooks.webhooks import Webhook

from revenue.errors import ApplicationError
from revenue.models import OutboxMessage

from ..channels import Channel, PermanentDeliveryError, RetryableDeliveryError, TargetGoneError, channel_register
from ..models import Delivery, WebhookSubscription
from ..services.subscriptions import subscription_disable
from .targets import pinned_post, target_resolve

THRESHOLD = WebhookSubscription.EventType.THRESHOLD_CROSSED
EVENT_RECORDED = WebhookSubscription.EventType.EVENT_RECORDED


def _crosses_threshold(subscription: WebhookSubscription, payload: dict) -> bool:
    """A single ledger row at or above the subscription's amount, in the same currency."""
    amount = payload.get("amount_cents")
    return (
        subscription.threshold_amount_cents is not None
        and isinstance(amount, int)
        and payload.get("currency") == subscription.threshold_currency
        and amount >= subscription.threshold_amount_cents
    )


def atlas_event_types_for(message: OutboxMessage, subscription: WebhookSubscription) -> list[str]:
    wanted = []
    if message.topic in subscription.event_types:
        wanted.append(message.topic)
    if (
        message.topic == EVENT_RECORDED
        and THRESHOLD in subscription.event_types
        and _crosses_threshold(subscription, message.payload)
    ):
        wanted.append(THRESHOLD)
    return wanted


def atlas_targets(message: OutboxMessage) -> list[str]:
    return atlas_targets_many([message])[message.pk]


def atlas_targets_many(messages: list[OutboxMessage]) -> dict[int, list[str]]:
    """Targets per message; the active subscriptions are read once for all of them."""
    targets: dict[int, list[str]] = {message.pk: [] for message in messages}
    wanted = [message for message in messages if message.topic in WebhookSubscription.EventType.values]
    if not wanted:
        return targets
    active = list(
        WebhookSubscription.objects.filter(status=WebhookSubscription.Status.ACTIVE).only(
            "id", "event_types", "threshold_amount_cents", "threshold_currency"
        )
    )
    for message in wanted:
        targets[message.pk] = [
            f"{subscription.pk}/{event_type}"
            for subscription in active
            for event_type in atlas_event_types_for(message, subscription)
        ]
    return targets


def webhook_message_id(delivery: Delivery) -> str:
    """Stable across retries of the same (message, subscription, event type)."""
    return f"msg_{delivery.message_id}_{delivery.target.replace('/', '_')}"


def atlas_body(delivery: Delivery, event_type: str) -> str:
    message = delivery.message
    data = message.payload
    if event_type == THRESHOLD:
        subscription_id = delivery.target.split("/", 1)[0]
        subscription = WebhookSubscription.objects.get(pk=subscription_id)
        data = {
            "event": message.payload,
            "threshold_amount_cents": subscription.threshold_amount_cents,
            "threshold_currency": subscription.threshold_currency,
        }
    envelope = {"type": event_type, "timestamp": message.created_at.astimezone(UTC).isoformat(), "data": data}
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def atlas_send(delivery: Delivery) -> str | None:
    subscription_id, event_type = delivery.target.split("/", 1)
    subscription = WebhookSubscription.objects.filter(pk=subscription_id).first()
    if subscription is None or subscription.status != WebhookSubscription.Status.ACTIVE:
        raise PermanentDeliveryError("The subscription is no longer active")
    try:
        target = target_resolve(subscription.url)  # resolved once: the POST goes to the address checked here
    except ApplicationError as exc:
        raise PermanentDeliveryError(f"Target refused at send time: {exc.message}") from exc
    body = atlas_body(delivery, event_type)
    msg_id = webhook_message_id(delivery)
    sent_at = datetime.now(UTC)
    signature = Webhook(subscription.secret).sign(msg_id=msg_id, timestamp=sent_at, data=body)
    headers = {
        "content-type": "application/json",
        "user-agent": "Branchberg-Webhooks/1.0",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }
    try:
        response = pinned_post(
            target, body=body.encode(), headers=headers, timeout=settings.OUTBOUND_HTTP_TIMEOUT_SECONDS
        )
    except (urllib3.exceptions.HTTPError, OSError) as exc:  # timeouts, refused: the receiver may come back
        raise RetryableDeliveryError(f"Subscriber unreachable: {exc.__class__.__name__}: {exc}") from exc
    status, text = response.status, response.text
    if 200 <= status < 300:
        return msg_id
    if status == 410:
        raise TargetGoneError("The subscriber answered 410 Gone", status_code=status, response_body=text)
    if status == 429:
        raise RetryableDeliveryError(
            "The subscriber rate-limited us (429)",
            retry_after=_retry_after_seconds(response.headers.get("retry-after")),
            status_code=status,
            response_body=text,
        )
    if status >= 500 or status == 408:
        raise RetryableDeliveryError(f"The subscriber answered {status}", status_code=status, response_body=text)
    raise PermanentDeliveryError(
        f"The subscriber refused the message ({status})", status_code=status, response_body=text
    )


def atlas_on_gone(delivery: Delivery) -> None:
    subscription = WebhookSubscription.objects.filter(pk=delivery.target.split("/", 1)[0]).first()
    if subscription is not None:
        subscription_disable(subscription=subscription, reason="The endpoint answered 410 Gone")


channel_register(
    Channel(
        name=Delivery.Channel.ATLAS,
        targets=atlas_targets,
        send=atlas_send,
        on_gone=atlas_on_gone,
        targets_many=atlas_targets_many,
    )
)

"""Slack incoming webhook channel, through the official slack_sdk WebhookClient.

Message content is built per topic by formatters registered with
`slack_formatter` (summaries, alerts); this module only delivers.
429 honours Retry-After, 5xx and timeouts retry, 410 disables the target.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from slack_sdk.webhook import WebhookClient

from revenue.models import OutboxMessage

from ..channels import Channel, PermanentDeliveryError, RetryableDeliveryError, TargetGoneError, channel_register
from ..models import Delivery

# A formatter turns an outbox payload into Slack's {"text": ..., "blocks": [...]},
# or returns None when the message should not go to Slack (e.g. an info alert).
SlackMessage = dict
_formatters: dict[str, Callable[[dict], SlackMessage | None]] = {}


def slack_formatter(topic_prefix: str):
    def register(function: Callable[[dict], SlackMessage | None]):
        _formatters[topic_prefix] = function
        return function

    return register


def _formatter_for(topic: str):
    for prefix, function in _formatters.items():
        if topic.startswith(prefix):
            return function
    return None


def slack_targets(message: OutboxMessage) -> list[str]:
    formatter = _formatter_for(message.topic)
    if not settings.SLACK_WEBHOOK_URL or formatter is None:
        return []
    if formatter(message.payload) is None:
        return []
    return [settings.SLACK_WEBHOOK_URL]


def slack_send(delivery: Delivery) -> str | None:
    formatter = _formatter_for(delivery.message.topic)
    content = formatter(delivery.message.payload) if formatter else None
    if content is None:
        return None
    client = WebhookClient(delivery.target, timeout=int(settings.OUTBOUND_HTTP_TIMEOUT_SECONDS))
    try:
        response = client.send(text=content["text"], blocks=content.get("blocks"))
    except Exception as exc:  # timeouts, refused connections: the receiver may come back
        raise RetryableDeliveryError(f"Slack unreachable: {exc.__class__.__name__}: {exc}") from exc
    status, body = response.status_code, str(response.body or "")
    if 200 <= status < 300:
        return None
    if status == 429:
        retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
        raise RetryableDeliveryError(
            "Slack rate limit",
            retry_after=float(retry_after[0] if isinstance(retry_after, list) else retry_after or 1),
            status_code=status,
            response_body=body,
        )
    if status == 410:
        raise TargetGoneError(
            "Slack webhook is gone (410): the URL was revoked", status_code=status, response_body=body
        )
    if status >= 500:
        raise RetryableDeliveryError(f"Slack answered {status}", status_code=status, response_body=body)
    raise PermanentDeliveryError(
        f"Slack refused the message ({status}): {body}", status_code=status, response_body=body
    )


channel_register(Channel(name=Delivery.Channel.SLACK, targets=slack_targets, send=slack_send))

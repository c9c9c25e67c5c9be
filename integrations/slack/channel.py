"""Slack channel, through the official slack_sdk: an incoming webhook, or the Web API.

With SLACK_WEBHOOK_URL, messages go to the webhook (WebhookClient). With SLACK_BOT_TOKEN and
SLACK_CHANNEL, they go through `chat.postMessage` (WebClient), whose answer carries the message's
`ts`, kept as the delivery's external id: a message that follows up an earlier one (a revised
summary) is posted as a reply in that message's thread. A webhook answers no `ts`, so there a
follow-up is its own message.

Message content is built per topic by formatters registered with
`slack_formatter` (summaries, alerts); this module only delivers.
429 honours Retry-After, 5xx and timeouts retry, 410 disables the target.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from revenue.models import OutboxMessage

from ..channels import Channel, PermanentDeliveryError, RetryableDeliveryError, TargetGoneError, channel_register
from ..models import Delivery

# A formatter turns an outbox payload into Slack's {"text": ..., "blocks": [...]},
# or returns None when the message should not go to Slack (e.g. an info alert).
# A "thread_of" key (a topic and the payload keys that identify the message) asks for a
# reply in the thread of the last such message sent through the Web API.
SlackMessage = dict
_formatters: dict[str, Callable[[dict], SlackMessage | None]] = {}
WEB_API_TARGET_PREFIX = "slack-channel:"


def slack_formatter(topic_prefix: str):
    def register(function: Callable[[dict], SlackMessage | None]):
        _formatters[topic_prefix] = function
        return function

    return register


def _formatter_for(topic: str):
    """The formatter of the longest registered prefix of `topic` ("summary.revised." before "summary.")."""
    matches = [prefix for prefix in _formatters if topic.startswith(prefix)]
    return _formatters[max(matches, key=len)] if matches else None


def slack_targets(message: OutboxMessage) -> list[str]:
    formatter = _formatter_for(message.topic)
    if formatter is None or formatter(message.payload) is None:
        return []
    if settings.SLACK_BOT_TOKEN and settings.SLACK_CHANNEL:
        return [f"{WEB_API_TARGET_PREFIX}{settings.SLACK_CHANNEL}"]
    return [settings.SLACK_WEBHOOK_URL] if settings.SLACK_WEBHOOK_URL else []


def slack_send(delivery: Delivery) -> str | None:
    formatter = _formatter_for(delivery.message.topic)
    content = formatter(delivery.message.payload) if formatter else None
    if content is None:
        return None
    if delivery.target.startswith(WEB_API_TARGET_PREFIX):
        return _post_message(delivery, content)
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


def _thread_ts(delivery: Delivery, thread_of: dict) -> str | None:
    """The `ts` of the last message with this topic and these payload values posted to the same channel."""
    lookups = {f"message__payload__{key}": value for key, value in thread_of["payload"].items()}
    first = (
        Delivery.objects.filter(
            channel=Delivery.Channel.SLACK,
            target=delivery.target,
            status=Delivery.Status.SENT,
            message__topic=thread_of["topic"],
            **lookups,
        )
        .exclude(external_id="")
        .order_by("-sent_at")
        .values_list("external_id", flat=True)
        .first()
    )
    return first or None


def _post_message(delivery: Delivery, content: SlackMessage) -> str:
    """chat.postMessage; returns the message's ts (kept as the delivery's external id)."""
    client = WebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=settings.SLACK_API_URL,
        timeout=int(settings.OUTBOUND_HTTP_TIMEOUT_SECONDS),
    )
    thread_of = content.get("thread_of")
    try:
        response = client.chat_postMessage(
            channel=delivery.target.removeprefix(WEB_API_TARGET_PREFIX),
            text=content["text"],
            blocks=content.get("blocks"),
            thread_ts=_thread_ts(delivery, thread_of) if thread_of else None,
        )
    except SlackApiError as exc:
        status, body = exc.response.status_code, str(exc.response.data)
        if status == 429:
            retry_after = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after") or 1
            raise RetryableDeliveryError(
                "Slack rate limit", retry_after=float(retry_after), status_code=status, response_body=body
            ) from exc
        if status >= 500:
            raise RetryableDeliveryError(f"Slack answered {status}", status_code=status, response_body=body) from exc
        raise PermanentDeliveryError(
            f"Slack refused the message ({status}): {exc.response.get('error')}", status_code=status, response_body=body
        ) from exc
    except Exception as exc:  # timeouts, refused connections: the receiver may come back
        raise RetryableDeliveryError(f"Slack unreachable: {exc.__class__.__name__}: {exc}") from exc
    return str(response["ts"])

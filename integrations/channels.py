"""Outbound channels: which outbox topics go where, and how one delivery is sent.

A channel registers itself with `channel_register`. Its `targets(message)`
returns the targets that want the message (none when the channel is not
configured); its `send(delivery)` performs one attempt and raises
`RetryableDeliveryError` or `PermanentDeliveryError` on failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from revenue.models import OutboxMessage

from .models import Delivery


class DeliveryError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None, response_body: str = ""):
        super().__init__(message)
        self.status_code = status_code
        self.response_body = response_body


class RetryableDeliveryError(DeliveryError):
    """Try again later (5xx, timeout, 429). `retry_after` seconds when the receiver said so."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Never try again (4xx other than 429)."""


class TargetGoneError(PermanentDeliveryError):
    """The receiver answered 410 Gone: disable the target."""


@dataclass(frozen=True)
class Channel:
    name: str
    targets: Callable[[OutboxMessage], list[str]]
    send: Callable[[Delivery], str | None]  # returns an external id (e.g. Notion page id) or None
    on_gone: Callable[[Delivery], None] | None = None
    # The targets of many messages at once (what a channel looks up is read once per batch).
    targets_many: Callable[[list[OutboxMessage]], dict[int, list[str]]] | None = None


def channel_targets_many(channel: Channel, messages: list[OutboxMessage]) -> dict[int, list[str]]:
    if channel.targets_many is not None:
        return channel.targets_many(messages)
    return {message.pk: channel.targets(message) for message in messages}


_channels: dict[str, Channel] = {}


def channel_register(channel: Channel) -> None:
    _channels[channel.name] = channel


def channel_get(name: str) -> Channel:
    return _channels[name]


def channels_all() -> list[Channel]:
    return list(_channels.values())

"""The outbox: inner apps announce facts by writing a row in the fact's transaction.

Delivery is not this app's business. An outer app registers a dispatcher with
`outbox_register_dispatcher`; after commit it is handed the new message ids.
If it fails (say the broker is down) the row simply waits for the sweeper.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

from .models import OutboxMessage

logger = logging.getLogger(__name__)

_dispatchers: list[Callable[[int], None]] = []


def outbox_register_dispatcher(dispatcher: Callable[[int], None]) -> None:
    if dispatcher not in _dispatchers:
        _dispatchers.append(dispatcher)


def _dispatch_after_commit(message_id: int) -> None:
    for dispatcher in _dispatchers:
        try:
            dispatcher(message_id)
        except Exception:  # the row stays pending; the sweeper retries it
            logger.warning("outbox dispatch of message %s deferred to the sweeper", message_id, exc_info=True)


def outbox_publish(*, topic: str, payload: dict) -> OutboxMessage:
    """Write an outbox row in the caller's transaction; hand it on after commit."""
    message = OutboxMessage.objects.create(topic=topic, payload=payload)
    transaction.on_commit(lambda: _dispatch_after_commit(message.pk))
    return message

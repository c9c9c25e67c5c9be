"""The outbox: inner apps announce facts by writing a row in the fact's transaction.

Delivery is not this app's business. An outer app registers a dispatcher with
`outbox_register_dispatcher`; after commit it is handed the new message ids.
If it fails (say the broker is down) the row simply waits for the sweeper.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from django.db import connection, transaction
from django.utils import timezone

from .models import OutboxMessage

logger = logging.getLogger(__name__)

_dispatchers: list[Callable[[int], None]] = []
# Dispatchers that take every message id of one transaction at once (one broker message per batch).
_batch_dispatchers: list[Callable[[list[int]], None]] = []


def outbox_register_dispatcher(dispatcher: Callable[[int], None]) -> None:
    if dispatcher not in _dispatchers:
        _dispatchers.append(dispatcher)


def outbox_register_batch_dispatcher(dispatcher: Callable[[list[int]], None]) -> None:
    if dispatcher not in _batch_dispatchers:
        _batch_dispatchers.append(dispatcher)


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


def _dispatch_many_after_commit(message_ids: list[int]) -> None:
    if not _batch_dispatchers:
        for message_id in message_ids:
            _dispatch_after_commit(message_id)
        return
    for dispatcher in _batch_dispatchers:
        try:
            dispatcher(message_ids)
        except Exception:  # the rows stay pending; the sweeper retries them
            logger.warning("outbox dispatch of %d messages deferred to the sweeper", len(message_ids), exc_info=True)


def outbox_publish_many(*, topic: str, payloads: Sequence[Mapping[str, object]]) -> list[int]:
    """Write many outbox rows in one INSERT in the caller's transaction; after commit they are
    handed on together (a batch dispatcher gets all the ids: one broker message, not one per row).
    Returns the message ids, in the order of `payloads`."""
    if not payloads:
        return []
    if connection.vendor == "postgresql":  # one jsonb[] parameter: no statement built per row
        payload_field = OutboxMessage._meta.get_field("payload")
        values = [payload_field.get_db_prep_save(dict(payload), connection) for payload in payloads]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {OutboxMessage._meta.db_table} (topic, payload, created_at, attempts, last_error) "  # noqa: S608
                "SELECT %s, payload, %s, 0, '' FROM unnest(%s::jsonb[]) WITH ORDINALITY AS p(payload, n) "
                "ORDER BY n RETURNING id",
                [topic, timezone.now(), values],
            )
            message_ids = sorted(row[0] for row in cursor.fetchall())
    else:
        messages = OutboxMessage.objects.bulk_create([OutboxMessage(topic=topic, payload=dict(p)) for p in payloads])
        message_ids = [message.pk for message in messages]
    transaction.on_commit(lambda: _dispatch_many_after_commit(message_ids))
    return message_ids

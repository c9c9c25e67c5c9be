"""Webhook intake, independent of the web framework: verify -> store raw (committed) -> hand off -> answer.

Two thin transports call it: the Django views (test client, runserver) through
the blocking `*_intake`, and the ASGI fast path in front of Django
(`integrations.webhooks.asgi`, what gunicorn serves) through `*_intake_async`.

Answers: refused authentication 400 (Stripe) / 401-403 (Gumroad); body too large
413; verified but malformed 400; our own failure 503 (the provider retries);
everything else 200, including a mapping bug (raw kept, marked failed, alert raised).
Never 500. Not atomic: the raw row commits on its own first.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection

from ..facts import MappingError
from ..gumroad import mapping as gumroad_mapping
from ..json_limits import json_loads_limited
from ..models import InboundDelivery
from ..services.ingest import (
    NewDelivery,
    inbound_deliveries_store,
    inbound_delivery_pending_id,
    inbound_delivery_process,
)
from ..stripe.mapping import envelope_check
from ..stripe.signature import SignatureRefused, stripe_signature_verify
from ..tasks import inbound_drain_kick, inbound_drain_kick_due, inbound_drain_send, inbound_drain_trailing_kick
from .group_commit import group_commit

logger = logging.getLogger(__name__)

# Headers kept with the raw delivery (canonical spelling); everything else is dropped.
KEPT_HEADERS = ("Content-Type", "User-Agent", "Stripe-Signature", "Content-Length")


@dataclass(frozen=True)
class Inbound:
    """What a transport hands over: a body reader, the kept headers, and the query's token."""

    read: Callable[[int], bytes]
    headers: Mapping[str, str]
    token: str = ""


@dataclass(frozen=True)
class Answer:
    status: int
    payload: dict


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.answer = Answer(status, {"code": code, "message": message})


def _refuse(status: int, code: str, message: str) -> Answer:
    return Answer(status, {"code": code, "message": message})


def _read_body(inbound: Inbound) -> str:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(inbound.headers.get("Content-Length") or 0)
    except ValueError:
        raise _Refusal(400, "malformed", "Content-Length is not a number.") from None
    if declared > limit:
        raise _Refusal(413, "too_large", f"The body is larger than {limit} bytes.")
    body = inbound.read(limit + 1)
    if len(body) > limit:
        raise _Refusal(413, "too_large", f"The body is larger than {limit} bytes.")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refusal(400, "malformed", "The body is not UTF-8 text.") from None


def _stripe_verified(inbound: Inbound) -> NewDelivery:
    secrets = [secret for secret in settings.STRIPE_WEBHOOK_SECRETS if secret]
    if not secrets:
        raise _Refusal(503, "not_configured", "STRIPE_WEBHOOK_SECRET is not configured.")
    body = _read_body(inbound)
    try:
        stripe_signature_verify(
            payload=body,
            header=inbound.headers.get("Stripe-Signature"),
            secrets=secrets,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
    except SignatureRefused as refused:
        raise _Refusal(400, refused.code, refused.message) from None
    try:
        event = json_loads_limited(body)
        envelope_check(event)
    except (ValueError, MappingError) as exc:
        raise _Refusal(400, "malformed", f"The body verifies but is not a Stripe event: {exc}") from None
    return _new_delivery(inbound, InboundDelivery.Provider.STRIPE, event["id"], event["type"], body)


def _gumroad_verified(inbound: Inbound) -> NewDelivery:
    secret = settings.GUMROAD_WEBHOOK_SECRET
    if not secret:
        raise _Refusal(503, "not_configured", "GUMROAD_WEBHOOK_SECRET is not configured.")
    if not hmac.compare_digest(inbound.token.encode("utf-8"), secret.encode("utf-8")):
        raise _Refusal(401, "invalid_token", "The token is missing or wrong.")
    body = _read_body(inbound)
    try:
        payload = gumroad_mapping.parse_body(body, inbound.headers.get("Content-Type", ""))
    except MappingError as exc:
        raise _Refusal(400, "malformed", str(exc)) from None
    except RecursionError:
        raise _Refusal(400, "malformed", "the JSON is nested too deeply") from None
    if str(payload.get("seller_id") or "") not in settings.GUMROAD_SELLER_IDS:
        raise _Refusal(403, "unknown_seller", "This seller_id is not on the allow-list.")
    try:
        key = gumroad_mapping.delivery_key(payload)
    except MappingError as exc:
        raise _Refusal(400, "malformed", str(exc)) from None
    if "\x00" in key:
        raise _Refusal(400, "malformed", "sale_id contains a NUL character, which cannot be stored.")
    event_type = gumroad_mapping.resource_of(payload)
    return _new_delivery(inbound, InboundDelivery.Provider.GUMROAD, key, event_type, body)


def _new_delivery(inbound: Inbound, provider: str, event_id: str, event_type: str, body: str) -> NewDelivery:
    headers = {name: inbound.headers[name][:1000] for name in KEPT_HEADERS if inbound.headers.get(name)}
    return NewDelivery(provider, event_id[:255], event_type[:100], body, headers)


def _inline() -> bool:
    return settings.WEBHOOK_PROCESSING == "inline" or settings.CELERY_TASK_ALWAYS_EAGER


@functools.cache
def _on_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _queued(new: NewDelivery, created: bool) -> Answer:
    """The answer for a stored delivery a worker will book (celery mode), or for a repeat."""
    if not created:
        return Answer(200, {"status": "duplicate", "event_id": new.event_id})
    return Answer(200, {"status": "received", "event_id": new.event_id})


def _booked(new: NewDelivery, delivery_id: int | None, created: bool) -> Answer:
    """Inline mode: book the stored delivery before answering (a repeat only if its first copy was
    never booked: a 503 after storing)."""
    if not created:
        delivery_id = inbound_delivery_pending_id(provider=new.provider, event_id=new.event_id)
        if delivery_id is None:
            return _queued(new, created)
    delivery = inbound_delivery_process(delivery_id=delivery_id)
    status = delivery.status if delivery is not None else "in_progress"
    return Answer(200, {"status": status, "event_id": new.event_id, "duplicate": not created})


def _stored_and_answered(new: NewDelivery) -> Answer:
    """Blocking: store in its own commit, then hand off to a worker or, inline, book."""
    delivery_id, created = inbound_deliveries_store([new])[0]
    if _inline():
        return _booked(new, delivery_id, created)
    if created:
        inbound_drain_kick()
    return _queued(new, created)


def _unavailable(path: str, *, close_connection: bool = True) -> Answer:
    """Our fault (database down, a bug before the raw row is safe): let the provider retry."""
    logger.exception("webhook %s failed; answering 503 so the provider retries", path)
    if close_connection and not connection.in_atomic_block:  # a broken connection must not serve the next one
        connection.close()
    return _refuse(503, "unavailable", "Temporarily unable to accept the delivery; please retry.")


Verify = Callable[[Inbound], NewDelivery]


def _intake(verify: Verify, path: str, inbound: Inbound) -> Answer:
    try:
        return _stored_and_answered(verify(inbound))
    except _Refusal as refusal:
        return refusal.answer
    except Exception:
        return _unavailable(path)


def _on_worker_thread(work: Callable[..., Answer], path: str) -> Callable[..., Awaitable[Answer]]:
    """`work` for the event loop: on a worker thread, with Django's per-request connection
    hygiene (CONN_MAX_AGE, health checks) and our own failures answered 503."""

    def guarded(*args) -> Answer:
        close_old_connections()
        try:
            return work(*args)
        except Exception:
            return _unavailable(path)

    return sync_to_async(guarded, thread_sensitive=False)


async def _intake_async(verify: Verify, path: str, inbound: Inbound) -> Answer:
    """The same intake on an event loop. Verifying is CPU only; the store is the group commit,
    awaited without holding a thread. What blocks on the database through Django (inline
    booking, or storing with WEBHOOK_GROUP_COMMIT off) runs on a worker thread."""
    try:
        new = verify(inbound)
    except _Refusal as refusal:
        return refusal.answer
    except Exception:
        return _unavailable(path, close_connection=False)
    if not (settings.WEBHOOK_GROUP_COMMIT and _on_postgresql()):
        return await _on_worker_thread(_stored_and_answered, path)(new)
    try:
        delivery_id, created = await group_commit.store(new)
    except Exception:
        return _unavailable(path, close_connection=False)  # the writer replaces its own connection
    if _inline():
        return await _on_worker_thread(_booked, path)(new, delivery_id, created)
    if created:
        loop = asyncio.get_running_loop()  # the broker must not block the loop: sends run on the executor
        if inbound_drain_kick_due(trailing=functools.partial(_call_later_in_executor, loop)):
            loop.run_in_executor(None, inbound_drain_send)
    return _queued(new, created)


def _call_later_in_executor(loop: asyncio.AbstractEventLoop, delay: float) -> None:
    """The trailing kick on the event loop (it ends with the process, unlike a timer thread)."""
    loop.call_later(delay, loop.run_in_executor, None, inbound_drain_trailing_kick)


def stripe_intake(inbound: Inbound) -> Answer:
    return _intake(_stripe_verified, "/webhooks/stripe", inbound)


def gumroad_intake(inbound: Inbound) -> Answer:
    return _intake(_gumroad_verified, "/webhooks/gumroad", inbound)


async def stripe_intake_async(inbound: Inbound) -> Answer:
    return await _intake_async(_stripe_verified, "/webhooks/stripe", inbound)


async def gumroad_intake_async(inbound: Inbound) -> Answer:
    return await _intake_async(_gumroad_verified, "/webhooks/gumroad", inbound)

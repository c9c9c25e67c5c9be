"""Webhook intake, independent of the web framework: verify -> store raw (committed) -> hand off -> answer.

Two thin transports call it: the Django views (test client, runserver) and the
WSGI fast path in front of Django (`integrations.webhooks.wsgi`), which is what
gunicorn serves for the two webhook routes.

Answers: refused authentication 400 (Stripe) / 401-403 (Gumroad); body too large
413; verified but malformed 400; our own failure 503 (the provider retries);
everything else 200, including a mapping bug (raw kept, marked failed, alert raised).
Never 500. Not atomic: the raw row commits on its own first.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from ..facts import MappingError
from ..gumroad import mapping as gumroad_mapping
from ..models import InboundDelivery
from ..services.ingest import (
    NewDelivery,
    inbound_deliveries_store,
    inbound_delivery_pending_id,
    inbound_delivery_process,
)
from ..stripe.mapping import envelope_check
from ..stripe.signature import SignatureRefused, stripe_signature_verify
from ..tasks import inbound_drain_kick
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


def _store_and_hand_off(inbound: Inbound, *, provider: str, event_id: str, event_type: str, body: str) -> Answer:
    headers = {name: inbound.headers[name][:1000] for name in KEPT_HEADERS if inbound.headers.get(name)}
    new = NewDelivery(provider, event_id, event_type, body, headers)
    if settings.WEBHOOK_GROUP_COMMIT and connection.vendor == "postgresql":
        delivery_id, created = group_commit.store(new)
    else:
        delivery_id, created = inbound_deliveries_store([new])[0]
    inline = settings.WEBHOOK_PROCESSING == "inline" or settings.CELERY_TASK_ALWAYS_EAGER
    if not created:
        # A repeat: answer at once, unless (inline) the first copy never got processed (a 503 after storing).
        delivery_id = inbound_delivery_pending_id(provider=provider, event_id=event_id) if inline else None
        if delivery_id is None:
            return Answer(200, {"status": "duplicate", "event_id": event_id})
    if not inline:
        try:
            inbound_drain_kick()
        except Exception:  # the raw row is committed: the sweep books it (integrations.inbound_sweep)
            logger.warning("could not hand delivery %s to a worker; the sweep will book it", delivery_id, exc_info=True)
        return Answer(200, {"status": "received", "event_id": event_id})
    delivery = inbound_delivery_process(delivery_id=delivery_id)
    status = delivery.status if delivery is not None else "in_progress"
    return Answer(200, {"status": status, "event_id": event_id, "duplicate": not created})


def _stripe(inbound: Inbound) -> Answer:
    secrets = [secret for secret in settings.STRIPE_WEBHOOK_SECRETS if secret]
    if not secrets:
        return _refuse(503, "not_configured", "STRIPE_WEBHOOK_SECRET is not configured.")
    body = _read_body(inbound)
    try:
        stripe_signature_verify(
            payload=body,
            header=inbound.headers.get("Stripe-Signature"),
            secrets=secrets,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
    except SignatureRefused as refused:
        return _refuse(400, refused.code, refused.message)
    try:
        event = json.loads(body)
        envelope_check(event)
    except (ValueError, MappingError) as exc:
        return _refuse(400, "malformed", f"The body verifies but is not a Stripe event: {exc}")
    return _store_and_hand_off(
        inbound,
        provider=InboundDelivery.Provider.STRIPE,
        event_id=event["id"][:255],
        event_type=event["type"][:100],
        body=body,
    )


def _gumroad(inbound: Inbound) -> Answer:
    secret = settings.GUMROAD_WEBHOOK_SECRET
    if not secret:
        return _refuse(503, "not_configured", "GUMROAD_WEBHOOK_SECRET is not configured.")
    if not hmac.compare_digest(inbound.token.encode("utf-8"), secret.encode("utf-8")):
        return _refuse(401, "invalid_token", "The token is missing or wrong.")
    body = _read_body(inbound)
    try:
        payload = gumroad_mapping.parse_body(body, inbound.headers.get("Content-Type", ""))
    except MappingError as exc:
        return _refuse(400, "malformed", str(exc))
    if str(payload.get("seller_id") or "") not in settings.GUMROAD_SELLER_IDS:
        return _refuse(403, "unknown_seller", "This seller_id is not on the allow-list.")
    try:
        key = gumroad_mapping.delivery_key(payload)
    except MappingError as exc:
        return _refuse(400, "malformed", str(exc))
    return _store_and_hand_off(
        inbound,
        provider=InboundDelivery.Provider.GUMROAD,
        event_id=key[:255],
        event_type=gumroad_mapping.resource_of(payload)[:100],
        body=body,
    )


def _guarded(handler: Callable[[Inbound], Answer], path: str) -> Callable[[Inbound], Answer]:
    def intake(inbound: Inbound) -> Answer:
        try:
            return handler(inbound)
        except _Refusal as refusal:
            return refusal.answer
        except Exception:  # our fault (database down, a bug before the raw row is safe): let the provider retry
            logger.exception("webhook %s failed; answering 503 so the provider retries", path)
            if not connection.in_atomic_block:  # a broken connection must not serve this thread's next delivery
                connection.close()
            return _refuse(503, "unavailable", "Temporarily unable to accept the delivery; please retry.")

    return intake


stripe_intake = _guarded(_stripe, "/webhooks/stripe")
gumroad_intake = _guarded(_gumroad, "/webhooks/gumroad")

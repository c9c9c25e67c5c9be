"""Inbound webhooks: verify -> store raw (committed) -> process -> answer. Thin on purpose.

Answers: refused authentication 400 (Stripe) / 401-403 (Gumroad); body too large
413; verified but malformed 400; our own failure 503 (the provider retries);
everything else 200, including a mapping bug (raw kept, marked failed, alert raised).
Never 500. Not atomic (ATOMIC_REQUESTS is off): the raw row commits on its own first.
"""

from __future__ import annotations

import hmac
import json
import logging
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..facts import MappingError
from ..gumroad import mapping as gumroad_mapping
from ..models import InboundDelivery
from ..services.ingest import inbound_delivery_pending_id, inbound_delivery_process, inbound_delivery_store
from ..stripe.mapping import envelope_check
from ..stripe.signature import SignatureRefused, stripe_signature_verify
from ..tasks import inbound_drain_kick

logger = logging.getLogger(__name__)

_KEPT_HEADERS = ("Content-Type", "User-Agent", "Stripe-Signature", "Content-Length")


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _answer(status: int, code: str, message: str, **extra) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, **extra}, status=status)


def _webhook(view):
    """csrf-exempt, POST-only, refusals as JSON, and any unexpected failure as 503 (never 500)."""

    @csrf_exempt
    @require_POST
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except _Refusal as refusal:
            return _answer(refusal.status, refusal.code, refusal.message)
        except Exception:  # our fault (database down, a bug before the raw row is safe): let the provider retry
            logger.exception("webhook %s failed; answering 503 so the provider retries", request.path)
            return _answer(503, "unavailable", "Temporarily unable to accept the delivery; please retry.")

    return wrapped


def _read_body(request: HttpRequest) -> str:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise _Refusal(400, "malformed", "Content-Length is not a number.") from None
    if declared > limit:
        raise _Refusal(413, "too_large", f"The body is larger than {limit} bytes.")
    body = request.read(limit + 1)
    if len(body) > limit:
        raise _Refusal(413, "too_large", f"The body is larger than {limit} bytes.")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refusal(400, "malformed", "The body is not UTF-8 text.") from None


def _headers(request: HttpRequest) -> dict[str, str]:
    return {name: request.headers[name][:1000] for name in _KEPT_HEADERS if name in request.headers}


def _store_and_process(request: HttpRequest, *, provider: str, event_id: str, event_type: str, body: str):
    delivery_id, created = inbound_delivery_store(
        provider=provider, event_id=event_id, event_type=event_type, raw_body=body, headers=_headers(request)
    )
    inline = settings.WEBHOOK_PROCESSING == "inline" or settings.CELERY_TASK_ALWAYS_EAGER
    if not created:
        # A repeat: answer at once, unless (inline) the first copy never got processed (a 503 after storing).
        delivery_id = inbound_delivery_pending_id(provider=provider, event_id=event_id) if inline else None
        if delivery_id is None:
            return JsonResponse({"status": "duplicate", "event_id": event_id})
    if not inline:
        try:
            inbound_drain_kick()
        except Exception:  # the raw row is committed: the sweep books it (integrations.inbound_sweep)
            logger.warning("could not hand delivery %s to a worker; the sweep will book it", delivery_id, exc_info=True)
        return JsonResponse({"status": "received", "event_id": event_id})
    delivery = inbound_delivery_process(delivery_id=delivery_id)
    status = delivery.status if delivery is not None else "in_progress"
    return JsonResponse({"status": status, "event_id": event_id, "duplicate": not created})


@_webhook
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    secrets = [secret for secret in settings.STRIPE_WEBHOOK_SECRETS if secret]
    if not secrets:
        return _answer(503, "not_configured", "STRIPE_WEBHOOK_SECRET is not configured.")
    body = _read_body(request)
    try:
        stripe_signature_verify(
            payload=body,
            header=request.headers.get("Stripe-Signature"),
            secrets=secrets,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
    except SignatureRefused as refused:
        return _answer(400, refused.code, refused.message)
    try:
        event = json.loads(body)
        envelope_check(event)
    except (ValueError, MappingError) as exc:
        return _answer(400, "malformed", f"The body verifies but is not a Stripe event: {exc}")
    return _store_and_process(
        request,
        provider=InboundDelivery.Provider.STRIPE,
        event_id=event["id"][:255],
        event_type=event["type"][:100],
        body=body,
    )


@_webhook
def gumroad_webhook(request: HttpRequest) -> JsonResponse:
    secret = settings.GUMROAD_WEBHOOK_SECRET
    if not secret:
        return _answer(503, "not_configured", "GUMROAD_WEBHOOK_SECRET is not configured.")
    token = request.GET.get("token", "")
    if not hmac.compare_digest(token.encode("utf-8"), secret.encode("utf-8")):
        return _answer(401, "invalid_token", "The token is missing or wrong.")
    body = _read_body(request)
    try:
        payload = gumroad_mapping.parse_body(body, request.headers.get("Content-Type", ""))
    except MappingError as exc:
        return _answer(400, "malformed", str(exc))
    if str(payload.get("seller_id") or "") not in settings.GUMROAD_SELLER_IDS:
        return _answer(403, "unknown_seller", "This seller_id is not on the allow-list.")
    try:
        key = gumroad_mapping.delivery_key(payload)
    except MappingError as exc:
        return _answer(400, "malformed", str(exc))
    return _store_and_process(
        request,
        provider=InboundDelivery.Provider.GUMROAD,
        event_id=key[:255],
        event_type=gumroad_mapping.resource_of(payload)[:100],
        body=body,
    )

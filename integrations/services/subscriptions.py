"""Atlas webhook subscriptions: register (secret shown once), delete, disable on 410."""

from __future__ import annotations

import base64
import secrets
import uuid

from django.db import transaction

from revenue.errors import ApplicationError, NotFound
from revenue.money import CurrencyError, normalize_currency

from ..atlas.targets import target_url_check
from ..models import ApiKey, WebhookSubscription

MAX_ACTIVE_SUBSCRIPTIONS_PER_KEY = 50


def subscription_secret_generate() -> str:
    """A Standard Webhooks secret: whsec_ + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@transaction.atomic
def subscription_create(
    *,
    url: str,
    event_types: list[str],
    created_by: ApiKey | None,
    threshold_amount_cents: int | None = None,
    threshold_currency: str = "",
) -> WebhookSubscription:
    """Register a subscription. The caller shows `secret` once; it is never listed again."""
    types = sorted(set(event_types))
    unknown = [t for t in types if t not in WebhookSubscription.EventType.values]
    if not types or unknown:
        raise ApplicationError(
            f"event_types must be a non-empty subset of {', '.join(WebhookSubscription.EventType.values)}",
            code="invalid_event_types",
        )
    wants_threshold = WebhookSubscription.EventType.THRESHOLD_CROSSED in types
    if wants_threshold:
        if threshold_amount_cents is None or threshold_amount_cents <= 0 or not threshold_currency:
            raise ApplicationError(
                "threshold.crossed needs threshold_amount_cents > 0 and threshold_currency",
                code="threshold_required",
            )
        try:
            threshold_currency = normalize_currency(threshold_currency)
        except CurrencyError as exc:
            raise ApplicationError(str(exc), code="invalid_currency") from None
    elif threshold_amount_cents is not None or threshold_currency:
        raise ApplicationError(
            "threshold_amount_cents and threshold_currency apply only to threshold.crossed", code="threshold_unused"
        )
    target_url_check(url)
    if (
        created_by is not None
        and WebhookSubscription.objects.filter(created_by=created_by, status=WebhookSubscription.Status.ACTIVE).count()
        >= MAX_ACTIVE_SUBSCRIPTIONS_PER_KEY
    ):
        raise ApplicationError("Too many active subscriptions for this key", code="too_many_subscriptions")
    return WebhookSubscription.objects.create(
        url=url,
        event_types=types,
        secret=subscription_secret_generate(),
        threshold_amount_cents=threshold_amount_cents if wants_threshold else None,
        threshold_currency=threshold_currency if wants_threshold else "",
        created_by=created_by,
    )


def subscription_get(*, subscription_id: str, owner: ApiKey) -> WebhookSubscription:
    try:
        uuid.UUID(str(subscription_id))
    except ValueError:
        raise NotFound("No such subscription", code="not_found") from None
    subscription = (
        WebhookSubscription.objects.filter(pk=subscription_id, created_by=owner)
        .exclude(status=WebhookSubscription.Status.DELETED)
        .first()
    )
    if subscription is None:
        raise NotFound("No such subscription", code="not_found")
    return subscription


@transaction.atomic
def subscription_delete(*, subscription: WebhookSubscription) -> WebhookSubscription:
    """Stop deliveries. The row stays (status deleted) so the delivery log keeps its meaning."""
    subscription.status = WebhookSubscription.Status.DELETED
    subscription.disabled_reason = "deleted by the client"
    subscription.save(update_fields=["status", "disabled_reason", "updated_at"])
    return subscription


@transaction.atomic
def subscription_disable(*, subscription: WebhookSubscription, reason: str) -> WebhookSubscription:
    if subscription.status == WebhookSubscription.Status.ACTIVE:
        subscription.status = WebhookSubscription.Status.DISABLED
        subscription.disabled_reason = reason[:255]
        subscription.save(update_fields=["status", "disabled_reason", "updated_at"])
    return subscription


@transaction.atomic
def subscription_enable(*, subscription: WebhookSubscription) -> WebhookSubscription:
    """Re-activate a disabled subscription (admin), checking its URL again."""
    target_url_check(subscription.url)
    subscription.status = WebhookSubscription.Status.ACTIVE
    subscription.disabled_reason = ""
    subscription.save(update_fields=["status", "disabled_reason", "updated_at"])
    return subscription

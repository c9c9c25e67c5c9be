"""API keys for Atlas: issued once, stored as a SHA-256 hash, scoped, expiring, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from revenue.errors import ApplicationError

from ..models import ApiKey

KEY_PREFIX = "bb_"
# Refresh last_used_at at most this often: a key used 100 times a second is not 100 writes a second.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _validated_scopes(scopes: list[str]) -> list[str]:
    cleaned = sorted({scope.strip() for scope in scopes if scope.strip()})
    unknown = [scope for scope in cleaned if scope not in ApiKey.Scope.values]
    if unknown or not cleaned:
        raise ApplicationError(
            f"Scopes must be a non-empty subset of {', '.join(ApiKey.Scope.values)}; got {', '.join(scopes) or 'none'}",
            code="invalid_scopes",
        )
    return cleaned


@transaction.atomic
def api_key_issue(*, key: ApiKey) -> str:
    """Give an unsaved ApiKey its secret and save it. Returns the full key: the only time it exists."""
    if key.pk is not None:
        raise ApplicationError("This key has already been issued", code="already_issued")
    key.scopes = _validated_scopes(list(key.scopes or []))
    if not key.name.strip():
        raise ApplicationError("A key needs a name", code="invalid_name")
    # 8 public characters to recognise the key, then 256 bits of secret.
    public = secrets.token_hex(4)
    raw = f"{KEY_PREFIX}{public}_{secrets.token_urlsafe(32)}"
    key.prefix = f"{KEY_PREFIX}{public}"
    key.key_hash = api_key_hash(raw)
    key.save(force_insert=True)
    return raw


def api_key_create(*, name: str, scopes: list[str], expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    key = ApiKey(name=name, scopes=scopes, expires_at=expires_at)
    return key, api_key_issue(key=key)


@transaction.atomic
def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key for `raw_key`, or None. Marks it used (coarsely)."""
    key = ApiKey.objects.filter(key_hash=api_key_hash(raw_key)).first()
    now = timezone.now()
    if key is None or not key.is_active_at(now):
        return None
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key

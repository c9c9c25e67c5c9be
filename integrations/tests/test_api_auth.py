"""API keys: 401 missing/invalid/expired/revoked, 403 wrong scope, 429 with Retry-After, JSON errors."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import ApiKey
from integrations.services.api_keys import api_key_create, api_key_hash, api_key_revoke

pytestmark = pytest.mark.django_db

TOTALS = "/api/v1/revenue/totals"


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and isinstance(body["message"], str) and body["message"]
    return body


def client_with(**headers) -> APIClient:
    client = APIClient()
    client.credentials(**headers)
    return client


def test_missing_key_is_401_with_www_authenticate():
    response = APIClient().get(TOTALS)
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_AUTHORIZATION": "Bearer bb_00000000_not-a-real-key"},
        {"HTTP_X_API_KEY": "wrong"},
        {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"},
        {"HTTP_AUTHORIZATION": "Bearer"},
    ],
)
def test_invalid_key_is_401(headers):
    assert_error(client_with(**headers).get(TOTALS), 401, "authentication_failed")


def test_expired_and_revoked_keys_are_401():
    _expired, expired_raw = api_key_create(
        name="old", scopes=["read"], expires_at=timezone.now() - timedelta(seconds=1)
    )
    revoked, revoked_raw = api_key_create(name="gone", scopes=["read"])
    assert client_with(HTTP_X_API_KEY=revoked_raw).get(TOTALS).status_code == 200
    api_key_revoke(key=revoked)
    assert_error(client_with(HTTP_X_API_KEY=revoked_raw).get(TOTALS), 401, "authentication_failed")
    assert_error(client_with(HTTP_AUTHORIZATION=f"Bearer {expired_raw}").get(TOTALS), 401, "authentication_failed")


def test_key_is_stored_hashed_and_marked_used():
    key, raw = api_key_create(name="atlas", scopes=["read", "subscribe"])
    stored = ApiKey.objects.get(pk=key.pk)
    assert raw.startswith(stored.prefix + "_") and len(raw) > 50
    assert stored.key_hash == api_key_hash(raw) and raw not in str(stored.__dict__.values())
    assert stored.last_used_at is None
    client_with(HTTP_X_API_KEY=raw).get(TOTALS)
    assert ApiKey.objects.get(pk=key.pk).last_used_at is not None


def test_wrong_scope_is_403():
    _, subscribe_only = api_key_create(name="hooks", scopes=["subscribe"])
    _, read_only = api_key_create(name="reader", scopes=["read"])
    body = assert_error(client_with(HTTP_X_API_KEY=subscribe_only).get(TOTALS), 403, "permission_denied")
    assert "read" in body["message"]
    assert_error(client_with(HTTP_X_API_KEY=read_only).get("/api/v1/subscriptions"), 403, "permission_denied")


def test_throttled_requests_get_429_with_retry_after(settings):
    settings.ATLAS_API_THROTTLE_RATE = "3/min"
    caches[settings.ATLAS_API_THROTTLE_CACHE].clear()
    _, raw = api_key_create(name="busy", scopes=["read"])
    _, other = api_key_create(name="calm", scopes=["read"])
    client = client_with(HTTP_X_API_KEY=raw)
    assert [client.get(TOTALS).status_code for _ in range(3)] == [200, 200, 200]
    response = client.get(TOTALS)
    assert_error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 61
    assert client_with(HTTP_X_API_KEY=other).get(TOTALS).status_code == 200  # per key, not global
    caches[settings.ATLAS_API_THROTTLE_CACHE].clear()


REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
LOCMEM_CACHE = "django.core.cache.backends.locmem.LocMemCache"


@pytest.mark.django_db(False)
@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        (
            {"REDIS_URL": "redis://cache.internal:6379/1"},
            ("api_throttle", REDIS_CACHE, "redis://cache.internal:6379/1"),
        ),
        (
            {"CELERY_BROKER_URL": "rediss://broker.internal:6380/0"},
            ("api_throttle", REDIS_CACHE, "rediss://broker.internal:6380/0"),
        ),
        (
            {"REDIS_URL": "redis://cache.internal/2", "CELERY_BROKER_URL": "redis://broker.internal/0"},
            ("api_throttle", REDIS_CACHE, "redis://cache.internal/2"),
        ),
        ({"CELERY_BROKER_URL": "amqp://guest@rabbit//"}, ("default", LOCMEM_CACHE, "")),
        ({}, ("default", LOCMEM_CACHE, "")),
    ],
)
def test_throttle_counters_live_in_redis_when_redis_is_configured(environment, expected):
    """The settings module, loaded fresh under each environment."""
    base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL", "DEBUG")}
    script = (
        "import branchberg.settings as s; c = s.CACHES[s.ATLAS_API_THROTTLE_CACHE]; "
        "print(s.ATLAS_API_THROTTLE_CACHE, c['BACKEND'], c.get('LOCATION', ''), sep='|')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**base, "SECRET_KEY": "x", **environment},
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert tuple(result.stdout.strip().split("|")) == expected


def test_throttle_counts_in_redis_when_configured(settings):
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("scripts/test.sh starts the test Redis")
    settings.CACHES = {
        **settings.CACHES,
        "api_throttle": {"BACKEND": REDIS_CACHE, "LOCATION": redis_url, "KEY_PREFIX": "throttle-test"},
    }
    settings.ATLAS_API_THROTTLE_CACHE = "api_throttle"
    settings.ATLAS_API_THROTTLE_RATE = "3/min"
    caches["api_throttle"].clear()
    key, raw = api_key_create(name="shared", scopes=["read"])
    client = client_with(HTTP_X_API_KEY=raw)
    assert [client.get(TOTALS).status_code for _ in range(3)] == [200, 200, 200]
    assert_error(client.get(TOTALS), 429, "throttled")
    # the history is in Redis, where every web process reads it
    stored = redis.Redis.from_url(redis_url).keys(f"throttle-test:*key{key.pk}*")
    assert len(stored) == 1
    caches["api_throttle"].clear()


def test_an_unreachable_throttle_redis_lets_requests_through(settings, caplog):
    settings.CACHES = {
        **settings.CACHES,
        "api_throttle": {
            "BACKEND": REDIS_CACHE,
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    }
    settings.ATLAS_API_THROTTLE_CACHE = "api_throttle"
    _, raw = api_key_create(name="no-redis", scopes=["read"])
    assert client_with(HTTP_X_API_KEY=raw).get(TOTALS).status_code == 200
    assert "Redis unavailable" in caplog.text


def test_throttling_is_opt_in_per_view_so_provider_webhooks_are_never_throttled(settings):
    from integrations.api.views import ApiView

    assert not settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_CLASSES")
    assert ApiView.throttle_classes  # only the Atlas API views opt in


def test_create_api_key_command_prints_the_key_alone_on_the_last_line():
    out = StringIO()
    call_command(
        "create_api_key", "--name", "atlas-prod", "--scopes", "read,subscribe", "--expires-days", "30", stdout=out
    )
    raw = out.getvalue().strip().splitlines()[-1]
    key = ApiKey.objects.get(name="atlas-prod")
    assert key.key_hash == api_key_hash(raw) and key.scopes == ["read", "subscribe"]
    assert timedelta(days=29) < key.expires_at - timezone.now() <= timedelta(days=30)
    assert client_with(HTTP_AUTHORIZATION=f"Bearer {raw}").get(TOTALS).status_code == 200
    with pytest.raises(CommandError, match="Scopes"):
        call_command("create_api_key", "--name", "x", "--scopes", "read,admin", stdout=StringIO())


def test_admin_creates_a_key_and_shows_it_once(staff_client):
    response = staff_client.post(
        "/admin/integrations/apikey/add/", {"name": "from-admin", "scopes": ["read"], "expires_at": ""}, follow=True
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    key = ApiKey.objects.get(name="from-admin")
    raw = next(word for message in shown for word in message.split() if word.startswith(key.prefix + "_"))
    assert key.key_hash == api_key_hash(raw)
    page = staff_client.get(f"/admin/integrations/apikey/{key.pk}/change/").content.decode()
    assert raw not in page and key.prefix in page
    staff_client.post("/admin/integrations/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True)
    assert_error(client_with(HTTP_X_API_KEY=raw).get(TOTALS), 401, "authentication_failed")
    assert staff_client.get("/admin/integrations/webhooksubscription/").status_code == 200

"""Per-key request rate (DRF SimpleRateThrottle); 429 carries Retry-After (branchberg.exceptions)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "atlas"

    def __init__(self):
        self.cache = caches[settings.ATLAS_API_THROTTLE_CACHE]
        super().__init__()

    def get_rate(self) -> str:
        # Read at request time so operators (and tests) can change it without a restart of the class.
        return settings.ATLAS_API_THROTTLE_RATE

    def get_cache_key(self, request, view) -> str:
        ident = f"key{request.auth.pk}" if request.auth is not None else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

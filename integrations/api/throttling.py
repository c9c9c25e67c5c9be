"""Per-key request rate (DRF SimpleRateThrottle); 429 carries Retry-After (branchberg.exceptions).

Counters live in ATLAS_API_THROTTLE_CACHE: Django's RedisCache when Redis is configured (one
count for every web process), else process memory. If Redis cannot be reached the request is
let through and a warning logged: an outage of the counter store does not take the API down.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import caches
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)


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

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError:
            logger.warning("API throttle: Redis unavailable, request let through", exc_info=True)
            return True

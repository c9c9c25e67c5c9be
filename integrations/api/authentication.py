"""API key authentication: `Authorization: Bearer <key>` or `X-API-Key: <key>`."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from ..services.api_keys import api_key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Sets request.user and request.auth to the ApiKey. No key -> None (the permission answers 401)."""

    def authenticate(self, request):
        raw = request.META.get("HTTP_X_API_KEY", "").strip()
        header = request.META.get("HTTP_AUTHORIZATION", "").strip()
        if not raw and header:
            scheme, _, credentials = header.partition(" ")
            if scheme.lower() != "bearer" or not credentials.strip():
                raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.")
            raw = credentials.strip()
        if not raw:
            return None
        key = api_key_authenticate(raw_key=raw)
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is invalid, expired or revoked.")
        return key, key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from `manage.py create_api_key` or the admin, as `Authorization: Bearer "
            "<key>`. The same key is also accepted in an `X-API-Key: <key>` header.",
        }

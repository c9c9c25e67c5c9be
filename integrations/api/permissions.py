"""Scope permissions. No key -> 401 (DRF turns the denial into NotAuthenticated); wrong scope -> 403."""

from __future__ import annotations

from rest_framework import permissions

from ..models import ApiKey


class _HasScope(permissions.BasePermission):
    scope: str = ""

    @property
    def message(self) -> str:
        return f"This API key lacks the '{self.scope}' scope."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        return isinstance(key, ApiKey) and self.scope in key.scopes


class ReadScope(_HasScope):
    scope = ApiKey.Scope.READ


class SubscribeScope(_HasScope):
    scope = ApiKey.Scope.SUBSCRIBE

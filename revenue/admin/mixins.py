"""Admin building blocks shared by every app (outer apps import this inner one)."""

from __future__ import annotations

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """No add, change or delete in the admin: the rows are written by services only.

    Put it before `admin.ModelAdmin` in the bases. Custom views and actions keep
    their own permission checks (`has_reverse_permission`, `has_import_permission`).
    """

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

"""Configuration in the admin: entities and exchange rates, with their change history."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from ..models import Entity, ExchangeRate


@admin.register(Entity)
class EntityAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "is_default", "aliases", "created_at"]
    list_filter = ["is_default"]
    search_fields = ["name", "slug"]
    date_hierarchy = "created_at"
    prepopulated_fields = {"slug": ["name"]}
    history_list_display = ["is_default"]

    def has_delete_permission(self, request, obj=None):
        return False  # ledger rows reference entities (PROTECT); an entity is never removed


@admin.register(ExchangeRate)
class ExchangeRateAdmin(SimpleHistoryAdmin):
    list_display = ["currency", "rate_on", "usd_per_unit", "source"]
    list_filter = ["currency", "source"]
    search_fields = ["currency", "source"]
    date_hierarchy = "rate_on"
    ordering = ["currency", "-rate_on"]

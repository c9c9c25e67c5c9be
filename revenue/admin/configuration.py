"""Configuration in the admin: entities and exchange rates, with their change history."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin

from ..models import Entity, ExchangeRate
from ..services import entity_lock_date_set
from ..services.locks import PERMISSION as LOCK_DATE_PERMISSION


@admin.register(Entity)
class EntityAdmin(SimpleHistoryAdmin):
    """Entities, with the lock date (books closed through) that only `change_lock_date` may move."""

    list_display = ["name", "slug", "is_default", "lock_date", "lock_date_set_by", "aliases", "created_at"]
    list_filter = ["is_default"]
    search_fields = ["name", "slug"]
    date_hierarchy = "created_at"
    prepopulated_fields = {"slug": ["name"]}
    history_list_display = ["is_default", "lock_date", "lock_date_set_by"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_default"]}),
        (
            "Books closed (lock date)",
            {
                "fields": ["lock_date", "lock_date_set_by", "lock_date_set_at"],
                "description": (
                    "As in Xero: nobody can book on or before the lock date, from the admin, an import or a "
                    "correction; a provider's late event is booked on the first open day and raises an alert. "
                    "Moving it needs the “Can set or move an entity's lock date” permission and is audited."
                ),
            },
        ),
        ("Where money is booked", {"fields": ["stripe_account_ids", "gumroad_product_ids", "aliases"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        fields = ["lock_date_set_by", "lock_date_set_at"]
        if not request.user.has_perm(LOCK_DATE_PERMISSION):
            fields.insert(0, "lock_date")
        return fields

    def save_model(self, request, obj, form, change):
        """Everything but the lock date as usual; the lock date through its audited service."""
        moved = "lock_date" in form.changed_data
        if moved and not request.user.has_perm(LOCK_DATE_PERMISSION):
            raise PermissionDenied
        new_lock_date = obj.lock_date
        if moved:
            obj.lock_date = form.initial.get("lock_date")
        super().save_model(request, obj, form, change)
        if moved:
            entity_lock_date_set(entity=obj, lock_date=new_lock_date, actor=request.user)
            obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None):
        return False  # ledger rows reference entities (PROTECT); an entity is never removed


@admin.register(ExchangeRate)
class ExchangeRateAdmin(SimpleHistoryAdmin):
    list_display = ["currency", "rate_on", "usd_per_unit", "source"]
    list_filter = ["currency", "source"]
    search_fields = ["currency", "source"]
    date_hierarchy = "rate_on"
    ordering = ["currency", "-rate_on"]

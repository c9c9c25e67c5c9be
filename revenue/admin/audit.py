"""The ledger audit trail in the admin: read-only everywhere."""

from __future__ import annotations

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from ..models import LedgerAuditEntry
from .display import local_time
from .mixins import ReadOnlyAdminMixin


@admin.register(LedgerAuditEntry)
class LedgerAuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at_local", "actor_username", "action", "summary", "event_link"]
    list_filter = ["action", "actor_username", "entity"]
    date_hierarchy = "at"
    search_fields = ["summary", "event__event_id", "actor_username"]
    list_select_related = ["event"]
    show_full_result_count = False
    fields = [
        "at_local",
        "actor_username",
        "action",
        "summary",
        "event_link",
        "entity",
        "before_pretty",
        "after_pretty",
        "metadata_pretty",
    ]
    readonly_fields = fields

    @admin.display(description="When (Chicago time)", ordering="at")
    def at_local(self, obj: LedgerAuditEntry) -> str:
        return local_time(obj.at)

    @admin.display(description="Ledger row")
    def event_link(self, obj: LedgerAuditEntry):
        if obj.event_id is None:
            return "—"
        url = reverse("admin:revenue_revenueevent_change", args=[obj.event_id])
        return format_html('<a href="{}">{}</a>', url, obj.event.event_id)

    def _pretty(self, value):
        if value is None:
            return "—"
        return format_html("<pre class='bb-json'>{}</pre>", json.dumps(value, indent=2, sort_keys=True))

    @admin.display(description="Before")
    def before_pretty(self, obj):
        return self._pretty(obj.before)

    @admin.display(description="After")
    def after_pretty(self, obj):
        return self._pretty(obj.after)

    @admin.display(description="Details")
    def metadata_pretty(self, obj):
        return self._pretty(obj.metadata)

    class Media:
        css = {"all": ["revenue/backoffice.css"]}

"""Raw inbound deliveries: read-only, with a "reprocess" action (idempotent on the ledger keys)."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from revenue.admin.mixins import ReadOnlyAdminMixin

from ..models import InboundDelivery
from ..services.ingest import inbound_delivery_reprocess


@admin.register(InboundDelivery)
class InboundDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("received_at", "provider", "event_type", "event_id", "status", "attempts", "processed_at")
    list_filter = ("provider", "status", "event_type")
    search_fields = ("event_id", "event_type", "error")
    list_select_related = ()
    date_hierarchy = "received_at"
    ordering = ("-received_at",)
    actions = ["reprocess"]
    fields = (
        "provider",
        "event_id",
        "event_type",
        "status",
        "error",
        "attempts",
        "received_at",
        "processed_at",
        "ledger_rows",
        "headers",
        "pretty_body",
    )
    readonly_fields = fields

    @admin.display(description="Ledger rows")
    def ledger_rows(self, obj: InboundDelivery):
        events = obj.ledger_events.all().order_by("occurred_at")
        if not events:
            return "—"
        return format_html_join(
            "",
            '<div><a href="/admin/revenue/revenueevent/{}/change/">{}</a> {}</div>',
            ((event.pk, event.event_id, event.amount_display) for event in events),
        )

    @admin.display(description="Body")
    def pretty_body(self, obj: InboundDelivery):
        try:
            text = json.dumps(json.loads(obj.raw_body), indent=2, sort_keys=True)
        except ValueError:
            text = obj.raw_body
        return format_html('<pre class="bb-raw-body">{}</pre>', text)

    @admin.action(description="Reprocess the selected deliveries (idempotent)")
    def reprocess(self, request, queryset):
        outcome: dict[str, int] = {}
        for delivery in queryset.order_by("received_at"):
            result = inbound_delivery_reprocess(delivery=delivery)
            status = result.status if result is not None else "busy"
            outcome[status] = outcome.get(status, 0) + 1
        summary = ", ".join(f"{count} {status}" for status, count in sorted(outcome.items()))
        level = messages.WARNING if "failed" in outcome or "busy" in outcome else messages.SUCCESS
        self.message_user(request, f"Reprocessed: {summary}.", level)

"""The Delivery log in the back office: read-only, with a "redeliver" action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction

from ..models import Delivery
from ..services.delivery import delivery_redeliver, target_label
from ..tasks import delivery_send


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "channel",
        "topic",
        "target_display",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
        "sent_at",
        "next_attempt_at",
    )
    list_filter = ("channel", "status", "message__topic")
    search_fields = ("message__topic", "error", "external_id", "response_body")
    list_select_related = ("message",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    actions = ("redeliver",)
    readonly_fields = (
        "message",
        "topic",
        "channel",
        "target_display",
        "status",
        "attempts",
        "last_status_code",
        "response_body",
        "error",
        "external_id",
        "next_attempt_at",
        "sent_at",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Topic", ordering="message__topic")
    def topic(self, obj: Delivery) -> str:
        return obj.message.topic

    @admin.display(description="Target", ordering="target")
    def target_display(self, obj: Delivery) -> str:
        return target_label(obj.target)

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver(self, request, queryset):
        count = 0
        for delivery in queryset:
            delivery_redeliver(delivery=delivery)
            transaction.on_commit(lambda pk=delivery.pk: delivery_send.delay(pk))
            count += 1
        self.message_user(request, f"{count} deliver{'y' if count == 1 else 'ies'} queued again.", messages.SUCCESS)

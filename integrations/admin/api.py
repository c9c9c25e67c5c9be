"""Back office for the Atlas API: keys (the key is shown once, on creation) and subscriptions."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from revenue.errors import ApplicationError
from revenue.money import format_money

from ..models import ApiKey, WebhookSubscription
from ..services.api_keys import api_key_issue, api_key_revoke
from ..services.subscriptions import subscription_disable, subscription_enable


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "prefix", "scope_list", "state", "expires_at", "last_used_at", "created_at"]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["name", "prefix"]
    date_hierarchy = "created_at"
    readonly_fields = ["prefix", "last_used_at", "revoked_at", "created_at"]
    actions = ["revoke"]

    @admin.display(description="Scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description="State")
    def state(self, obj: ApiKey) -> str:
        now = timezone.now()
        if obj.revoked_at and obj.revoked_at <= now:
            return "revoked"
        if obj.expires_at and obj.expires_at <= now:
            return "expired"
        return "active"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "scopes", "expires_at"]
        return ["name", "prefix", "scopes", "expires_at", "revoked_at", "last_used_at", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        # An issued key's scopes and name stay editable; its secret never is (it is not stored).
        return self.readonly_fields if obj is not None else []

    def save_model(self, request, obj: ApiKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        raw = api_key_issue(key=obj)
        messages.warning(
            request,
            f"The API key for '{obj.name}' is {raw} — copy it now: it is stored hashed and will not be shown again.",
        )

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset) -> None:
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["url", "event_type_list", "status", "threshold", "created_by", "created_at"]
    list_filter = ["status"]
    search_fields = ["url", "id"]
    list_select_related = ["created_by"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "url",
        "event_types",
        "threshold_amount_cents",
        "threshold_currency",
        "status",
        "disabled_reason",
        "created_by",
        "created_at",
        "updated_at",
    ]
    exclude = ["secret"]
    actions = ["disable", "enable"]

    def has_add_permission(self, request) -> bool:
        return False  # Atlas registers its endpoints through the API (it must receive the secret)

    @admin.display(description="Event types")
    def event_type_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.event_types)

    @admin.display(description="Threshold")
    def threshold(self, obj: WebhookSubscription) -> str:
        if obj.threshold_amount_cents is None:
            return "—"
        return format_money(obj.threshold_amount_cents, obj.threshold_currency)

    @admin.action(description="Disable the selected subscriptions")
    def disable(self, request, queryset) -> None:
        for subscription in queryset:
            subscription_disable(subscription=subscription, reason=f"disabled in admin by {request.user}")
        self.message_user(request, "Disabled.")

    @admin.action(description="Re-enable the selected subscriptions (URL checked again)")
    def enable(self, request, queryset) -> None:
        for subscription in queryset.exclude(status=WebhookSubscription.Status.DELETED):
            try:
                subscription_enable(subscription=subscription)
            except ApplicationError as exc:
                self.message_user(request, f"{subscription.url}: {exc.message}", level=messages.ERROR)

"""Alert management in the back office: the alert list and the custom rule editor.

Actions (acknowledge / resolve / dismiss) go through a page that asks for a
note, then call the alert services. Alerts are written by detectors, never
added or deleted by hand.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.html import format_html

from revenue.business_time import business_local
from revenue.money import CurrencyError, from_minor_units, normalize_currency, to_minor_units

from .models import AlertRule, RevenueAlert
from .services import alert_acknowledge, alert_close

# Badge colours live in revenue/static/revenue/backoffice.css (.alert-severity-*, .alert-status-*): no inline
# style, for the Content-Security-Policy.


def _local(instant) -> str:
    return business_local(instant).strftime("%Y-%m-%d %H:%M %Z") if instant else "—"


class AlertNoteForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        required=False,
        help_text="What was found or done. Kept on the alert for the audit trail.",
    )

    def __init__(self, *args, note_required: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].required = note_required


@admin.register(RevenueAlert)
class RevenueAlertAdmin(admin.ModelAdmin):
    list_display = (
        "severity_badge",
        "alert_type",
        "summary",
        "entity",
        "status_badge",
        "occurrences",
        "raised",
        "last_seen",
        "handled",
    )
    list_display_links = ("summary",)
    list_filter = ("status", "severity", "alert_type", "entity", "rule")
    list_select_related = ("entity", "rule", "acknowledged_by", "resolved_by")
    search_fields = ("message", "fingerprint")
    date_hierarchy = "created_at"
    list_per_page = 50
    actions = ("acknowledge_selected", "resolve_selected", "dismiss_selected")
    readonly_fields = (
        "severity_badge",
        "alert_type",
        "status_badge",
        "message",
        "entity",
        "rule",
        "fingerprint",
        "occurrences",
        "raised",
        "last_seen",
        "acknowledged",
        "acknowledge_note",
        "closed",
        "resolution_note",
        "metadata",
    )
    fieldsets = (
        (None, {"fields": ("severity_badge", "alert_type", "status_badge", "message", "entity", "rule")}),
        (
            "Lifecycle",
            {
                "fields": (
                    "raised",
                    "last_seen",
                    "occurrences",
                    "acknowledged",
                    "acknowledge_note",
                    "closed",
                    "resolution_note",
                )
            },
        ),
        ("Details", {"fields": ("fingerprint", "metadata")}),
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Severity", ordering="severity")
    def severity_badge(self, alert: RevenueAlert) -> str:
        return format_html(
            '<span class="alert-severity alert-severity-{}">{}</span>', alert.severity, alert.get_severity_display()
        )

    @admin.display(description="Status", ordering="status")
    def status_badge(self, alert: RevenueAlert) -> str:
        return format_html(
            '<span class="alert-status alert-status-{}">{}</span>', alert.status, alert.get_status_display()
        )

    @admin.display(description="What happened")
    def summary(self, alert: RevenueAlert) -> str:
        return alert.message if len(alert.message) <= 160 else alert.message[:157] + "…"

    @admin.display(description="Raised (Central)", ordering="created_at")
    def raised(self, alert: RevenueAlert) -> str:
        return _local(alert.created_at)

    @admin.display(description="Last seen (Central)", ordering="last_seen_at")
    def last_seen(self, alert: RevenueAlert) -> str:
        return _local(alert.last_seen_at)

    @admin.display(description="Acknowledged")
    def acknowledged(self, alert: RevenueAlert) -> str:
        if not alert.acknowledged_at:
            return "—"
        return f"{alert.acknowledged_by or 'someone'} at {_local(alert.acknowledged_at)}"

    @admin.display(description="Closed")
    def closed(self, alert: RevenueAlert) -> str:
        if not alert.resolved_at:
            return "—"
        return f"{alert.get_status_display()} by {alert.resolved_by or 'someone'} at {_local(alert.resolved_at)}"

    @admin.display(description="Who / when")
    def handled(self, alert: RevenueAlert) -> str:
        if alert.resolved_at:
            return self.closed(alert)
        if alert.acknowledged_at:
            return f"Acknowledged by {alert.acknowledged_by or 'someone'} at {_local(alert.acknowledged_at)}"
        return "—"

    # --- actions with a note -----------------------------------------------------------------------

    def _with_note(self, request, queryset, *, action: str, verb: str, note_required: bool, apply):
        active = [alert for alert in queryset if alert.status in RevenueAlert.ACTIVE_STATUSES]
        if "apply" in request.POST:
            form = AlertNoteForm(request.POST, note_required=note_required)
            if form.is_valid():
                for alert in active:
                    apply(alert, form.cleaned_data["note"])
                skipped = len(queryset) - len(active)
                self.message_user(
                    request,
                    f"{verb.capitalize()}: {len(active)} alert{'s' if len(active) != 1 else ''}"
                    + (f"; {skipped} already closed, left as they were." if skipped else "."),
                    messages.SUCCESS,
                )
                return None
        else:
            form = AlertNoteForm(note_required=note_required)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{verb.capitalize()} alerts",
            "opts": self.model._meta,
            "alerts": queryset,
            "active_count": len(active),
            "form": form,
            "action": action,
            "verb": verb,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/alerts/revenuealert/note_action.html", context)

    @admin.action(description="Acknowledge selected alerts (with a note)")
    def acknowledge_selected(self, request, queryset):
        return self._with_note(
            request,
            queryset,
            action="acknowledge_selected",
            verb="acknowledged",
            note_required=False,
            apply=lambda alert, note: alert_acknowledge(alert=alert, user=request.user, note=note),
        )

    @admin.action(description="Resolve selected alerts (with a note)")
    def resolve_selected(self, request, queryset):
        return self._with_note(
            request,
            queryset,
            action="resolve_selected",
            verb="resolved",
            note_required=True,
            apply=lambda alert, note: alert_close(
                alert=alert, status=RevenueAlert.Status.RESOLVED, user=request.user, note=note
            ),
        )

    @admin.action(description="Dismiss selected alerts (with a note)")
    def dismiss_selected(self, request, queryset):
        return self._with_note(
            request,
            queryset,
            action="dismiss_selected",
            verb="dismissed",
            note_required=True,
            apply=lambda alert, note: alert_close(
                alert=alert, status=RevenueAlert.Status.DISMISSED, user=request.user, note=note
            ),
        )


WEEKDAY_CHOICES = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


class AlertRuleForm(forms.ModelForm):
    """Amounts are typed in the currency (10,000.00 USD; 5000 JPY) and stored in minor units."""

    amount_cents = forms.CharField(
        label="Amount",
        required=False,
        help_text="In the rule's currency, e.g. 10,000.00 for USD, 5000 for JPY. Amount rules only.",
    )
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Daily and silence rules: the business weekdays they apply on. None ticked = every day.",
    )

    class Meta:
        model = AlertRule
        fields = (
            "name",
            "kind",
            "is_active",
            "severity",
            "entity",
            "provider",
            "currency",
            "amount_cents",
            "rate_percent",
            "window_days",
            "minimum_events",
            "silence_hours",
            "weekdays",
            "active_from_hour",
            "active_to_hour",
            "expect_from_baseline",
            "max_alerts_per_day",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        if instance.pk and instance.amount_cents is not None and instance.currency:
            self.initial["amount_cents"] = f"{from_minor_units(instance.amount_cents, instance.currency):f}"

    def clean_currency(self) -> str:
        currency = self.cleaned_data.get("currency", "")
        if not currency:
            return ""
        try:
            return normalize_currency(currency)
        except CurrencyError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_amount_cents(self) -> int | None:
        text = (self.cleaned_data.get("amount_cents") or "").strip()
        if not text:
            return None
        currency = self.cleaned_data.get("currency")
        if not currency:
            raise forms.ValidationError("Choose the currency first: the amount is in that currency.")
        try:
            return to_minor_units(text, currency)
        except CurrencyError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    list_display = ("name", "kind", "scope", "threshold", "severity", "max_alerts_per_day", "is_active", "updated_at")
    list_filter = ("kind", "severity", "is_active", "entity", "provider")
    list_select_related = ("entity",)
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "kind", "is_active", "severity")}),
        ("Scope (blank = any)", {"fields": ("entity", "provider", "currency")}),
        ("Amount rules", {"fields": ("amount_cents",)}),
        ("Rate rules", {"fields": ("rate_percent", "window_days", "minimum_events")}),
        ("Silence rules", {"fields": ("silence_hours", "active_from_hour", "active_to_hour", "expect_from_baseline")}),
        ("When and how often", {"fields": ("weekdays", "max_alerts_per_day")}),
    )

    @admin.display(description="Scope")
    def scope(self, rule: AlertRule) -> str:
        return rule.scope_label

    @admin.display(description="Threshold")
    def threshold(self, rule: AlertRule) -> str:
        return rule.threshold_label

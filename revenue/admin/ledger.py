"""The back office: ledger browsing, manual entry, corrections, reversal, CSV import/export.

The ledger is read-only here: no generic add, change or delete. Money enters
through "Record offline payment" and "Import"; mistakes leave through
"Reverse selected" and "Correct", each a service call with an audit entry.
Every ledger page renders times in business time (America/Chicago).
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from import_export.admin import ExportMixin, ImportMixin
from import_export.results import RowResult

from ..business_time import business_zone
from ..errors import ApplicationError
from ..forms import (
    SERVICE_ERROR_FIELDS,
    CorrectionForm,
    LedgerConfirmImportForm,
    LedgerImportForm,
    ManualEntryForm,
    ReverseForm,
)
from ..models import LedgerAuditEntry, RevenueEvent
from ..money import format_money
from ..resources import IMPORT_RESOURCES, LedgerExportResource, SafeCSV
from ..selectors.search import revenue_events_search
from ..services import (
    default_effective_day,
    manual_entry_correct,
    manual_entry_create,
    revenue_event_reverse_by_user,
)
from .display import local_time, money_html
from .imports import BackgroundImportMixin
from .mixins import ReadOnlyAdminMixin


class CalendarSafeChangeList(ChangeList):
    """Django's date hierarchy computes the next year/month in Python: year 9999 (a row may be
    there) overflows. Any such parameter is a refused lookup (the list reloads), never a 500."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as exc:
            raise IncorrectLookupParameters(exc) from exc


@admin.register(RevenueEvent)
class RevenueEventAdmin(ReadOnlyAdminMixin, BackgroundImportMixin, ImportMixin, ExportMixin, admin.ModelAdmin):
    list_display = [
        "occurred_local",
        "entity",
        "provider",
        "kind_flag",
        "amount",
        "customer",
        "reference",
        "event_id",
    ]
    list_display_links = ["occurred_local"]
    list_filter = ["provider", "entity", "kind", "currency", "entity_source"]
    date_hierarchy = "occurred_at"
    search_fields = ["=event_id", "customer_email", "=customer_id", "reference"]
    search_help_text = (
        "Any id you hold: Stripe pi_, ch_, cs_, in_, re_, dp_ (with or without stripe:), a Gumroad sale id, "
        "a PO / contract number, a customer email or id. Reversals of the rows found are listed too."
    )
    list_select_related = ["entity"]
    list_per_page = 50
    show_full_result_count = False
    actions = ["reverse_selected"]
    ordering = ["-occurred_at", "-id"]
    readonly_fields = [
        "event_id",
        "provider",
        "event_type",
        "kind",
        "amount",
        "amount_usd",
        "fx_rate",
        "fx_source",
        "entity",
        "entity_source",
        "occurred_local",
        "created_local",
        "customer_email",
        "customer_id",
        "reference",
        "description",
        "source_id",
        "parent_event_id",
        "reverses_link",
        "reversed_by_link",
        "metadata_pretty",
        "audit_trail",
        "ledger_actions",
    ]
    fieldsets = [
        (None, {"fields": ["ledger_actions", "event_id", "entity", "entity_source", "provider", "event_type", "kind"]}),
        ("Money", {"fields": ["amount", "amount_usd", "fx_rate", "fx_source"]}),
        ("When", {"fields": ["occurred_local", "created_local"]}),
        ("Customer and reference", {"fields": ["customer_email", "customer_id", "reference", "description"]}),
        ("Links", {"fields": ["source_id", "parent_event_id", "reverses_link", "reversed_by_link"]}),
        ("Metadata and audit", {"fields": ["metadata_pretty", "audit_trail"]}),
    ]

    # import-export
    resource_classes = IMPORT_RESOURCES
    import_form_class = LedgerImportForm
    confirm_form_class = LedgerConfirmImportForm
    import_template_name = "admin/revenue/revenueevent/import.html"
    import_export_change_list_template = "admin/revenue/revenueevent/change_list.html"
    import_formats = [SafeCSV]
    export_formats = [SafeCSV]
    skip_admin_log = True  # the ledger audit trail records imports instead

    class Media:
        css = {"all": ["revenue/backoffice.css"]}

    # --- read-only ledger -----------------------------------------------------------------

    def get_changelist(self, request, **kwargs):
        return CalendarSafeChangeList

    def has_reverse_permission(self, request) -> bool:
        return request.user.has_perm("revenue.add_revenueevent")

    def has_import_permission(self, request) -> bool:
        return request.user.has_perm("revenue.add_revenueevent")

    def get_search_results(self, request, queryset, search_term):
        """Django's search (email fragments), plus every row the term names as an id (selectors.search)."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if not search_term.strip():
            return found, may_have_duplicates
        return found | revenue_events_search(queryset, search_term), may_have_duplicates

    def get_queryset(self, request):
        reversed_q = RevenueEvent.objects.filter(reverses=OuterRef("pk"))
        return super().get_queryset(request).annotate(is_reversed=Exists(reversed_q))

    # --- columns --------------------------------------------------------------------------

    @admin.display(description="Occurred (Chicago time)", ordering="occurred_at")
    def occurred_local(self, obj: RevenueEvent) -> str:
        return local_time(obj.occurred_at)

    @admin.display(description="Posted (Chicago time)", ordering="created_at")
    def created_local(self, obj: RevenueEvent) -> str:
        return local_time(obj.created_at)

    @admin.display(description="Amount", ordering="amount_cents")
    def amount(self, obj: RevenueEvent):
        return money_html(obj.amount_cents, obj.currency)

    @admin.display(description="Amount in USD")
    def amount_usd(self, obj: RevenueEvent) -> str:
        return format_money(obj.amount_usd_cents, "USD") if obj.amount_usd_cents is not None else "— (no rate)"

    @admin.display(description="Customer", ordering="customer_email")
    def customer(self, obj: RevenueEvent):
        name = obj.metadata.get("customer_name", "") if isinstance(obj.metadata, dict) else ""
        who = obj.customer_email or obj.customer_id or name or "—"
        return format_html('<span title="{}">{}</span>', name, who)

    @admin.display(description="Kind", ordering="kind")
    def kind_flag(self, obj: RevenueEvent):
        label = obj.get_kind_display()
        if obj.kind == RevenueEvent.Kind.REVERSAL:
            return format_html('<span class="bb-tag bb-tag-reversal">{}</span>', label)
        if getattr(obj, "is_reversed", False):
            return format_html('{} <span class="bb-tag bb-tag-reversed">{}</span>', label, "reversed")
        return label

    @admin.display(description="Reverses")
    def reverses_link(self, obj: RevenueEvent):
        if not obj.reverses_id:
            return "—"
        url = reverse("admin:revenue_revenueevent_change", args=[obj.reverses_id])
        return format_html('<a href="{}">{}</a>', url, obj.reverses.event_id)

    @admin.display(description="Reversed by")
    def reversed_by_link(self, obj: RevenueEvent):
        reversal = RevenueEvent.objects.filter(reverses=obj).first()
        if reversal is None:
            return "—"
        url = reverse("admin:revenue_revenueevent_change", args=[reversal.pk])
        return format_html('<a href="{}">{}</a> ({})', url, reversal.event_id, reversal.metadata.get("reason", ""))

    @admin.display(description="Metadata")
    def metadata_pretty(self, obj: RevenueEvent):
        return format_html("<pre class='bb-json'>{}</pre>", json.dumps(obj.metadata, indent=2, sort_keys=True))

    @admin.display(description="Audit trail")
    def audit_trail(self, obj: RevenueEvent):
        entries = LedgerAuditEntry.objects.filter(event=obj).order_by("at")
        if not entries:
            return "—"
        return format_html_join(
            "",
            "<div>{} · {} · {}</div>",
            ((local_time(e.at), e.actor_username or "system", e.summary) for e in entries),
        )

    @admin.display(description="Actions")
    def ledger_actions(self, obj: RevenueEvent):
        if obj.kind == RevenueEvent.Kind.REVERSAL or RevenueEvent.objects.filter(reverses=obj).exists():
            return "No actions: this row is a reversal or has been reversed."
        # "Reverse" submits the page's form to the ledger list's "Reverse selected" action for this one
        # row: the same confirmation (with a reason) and the same audited service as from the list.
        links = [
            format_html(
                '<input type="hidden" name="{}" value="{}">'
                '<button type="submit" class="button" formaction="{}" formmethod="post" name="action" '
                'value="reverse_selected">Reverse this entry…</button>',
                helpers.ACTION_CHECKBOX_NAME,
                obj.pk,
                reverse("admin:revenue_revenueevent_changelist"),
            )
        ]
        if obj.provider == RevenueEvent.Provider.MANUAL and obj.kind == RevenueEvent.Kind.PAYMENT:
            url = reverse("admin:revenue_revenueevent_correct", args=[obj.pk])
            links.append(format_html('<a class="button" href="{}">Correct this entry</a>', url))
        return format_html_join(" ", "{}", ((link,) for link in links))

    # --- reverse action -------------------------------------------------------------------

    @staticmethod
    def _refusal(event: RevenueEvent, reversed_ids: set) -> str:
        if event.kind == RevenueEvent.Kind.REVERSAL:
            return "cannot be reversed: it is a reversal"
        if event.pk in reversed_ids:
            return "cannot be reversed: already reversed"
        return ""

    @admin.action(description="Reverse selected entries…", permissions=["reverse"])
    def reverse_selected(self, request, queryset):
        events = list(queryset.select_related("entity").order_by("-occurred_at"))
        reversed_ids = set(RevenueEvent.objects.filter(reverses__in=events).values_list("reverses_id", flat=True))
        candidates = [(event, self._refusal(event, reversed_ids), default_effective_day(event)) for event in events]
        form = ReverseForm(request.POST if request.POST.get("post") == "yes" else None)
        if request.POST.get("post") == "yes" and form.is_valid():
            reason, effective_on = form.cleaned_data["reason"], form.cleaned_data["effective_on"]
            done = 0
            for event, refusal, _dated in candidates:
                if refusal:
                    self.message_user(request, f"{event.event_id} {refusal}", messages.WARNING)
                    continue
                try:
                    revenue_event_reverse_by_user(
                        event=event, reason=reason, actor=request.user, effective_on=effective_on
                    )
                except ApplicationError as exc:
                    self.message_user(request, f"{event.event_id}: {exc.message}", messages.ERROR)
                else:
                    done += 1
            if done:
                self.message_user(request, f"Reversed {done} entr{'y' if done == 1 else 'ies'}.", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Reverse ledger entries",
            "opts": self.model._meta,
            "candidates": candidates,
            "reversible": sum(1 for _, refusal, _dated in candidates if not refusal),
            "form": form,
            "queryset": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        with timezone.override(business_zone()):
            return TemplateResponse(request, "admin/revenue/revenueevent/reverse_confirmation.html", context).render()

    # --- manual entry and correction --------------------------------------------------------

    def get_urls(self):
        urls = super().get_urls()
        custom = [
            path("record/", self.admin_site.admin_view(self.record_view), name="revenue_revenueevent_record"),
            path(
                "<path:object_id>/correct/",
                self.admin_site.admin_view(self.correct_view),
                name="revenue_revenueevent_correct",
            ),
        ]
        return custom + urls

    def _form_page(self, request, form, *, title: str, event=None):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "form": form,
            "event": event,
            "media": self.media + form.media,
            "adminform_fieldsets": None,
        }
        return TemplateResponse(request, "admin/revenue/revenueevent/manual_entry.html", context)

    def _apply_service_error(self, form, exc: ApplicationError) -> None:
        form.add_error(SERVICE_ERROR_FIELDS.get(exc.code), exc.message)

    def record_view(self, request):
        if not self.has_reverse_permission(request):
            raise PermissionDenied
        form = ManualEntryForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                event = manual_entry_create(data=form.to_data(), actor=request.user)
            except ApplicationError as exc:
                self._apply_service_error(form, exc)
            else:
                url = reverse("admin:revenue_revenueevent_change", args=[event.pk])
                self.message_user(
                    request,
                    format_html(
                        'Recorded <a href="{}">{}</a>: {} for {}.',
                        url,
                        event.event_id,
                        event.amount_display,
                        event.entity,
                    ),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:revenue_revenueevent_changelist"))
        return self._form_page(request, form, title="Record offline payment (contract or purchase order)")

    def correct_view(self, request, object_id):
        if not self.has_reverse_permission(request):
            raise PermissionDenied
        event = get_object_or_404(RevenueEvent.objects.select_related("entity"), pk=object_id)
        if event.provider != RevenueEvent.Provider.MANUAL or event.kind != RevenueEvent.Kind.PAYMENT:
            self.message_user(request, "Only manual payments can be corrected; reverse other rows.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:revenue_revenueevent_change", args=[event.pk]))
        form = CorrectionForm(request.POST or None, correcting=event, initial=ManualEntryForm.initial_from_event(event))
        if request.method == "POST" and form.is_valid():
            try:
                correction = manual_entry_correct(
                    event=event,
                    data=form.to_data(),
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    effective_on=form.cleaned_data["effective_on"],
                )
            except ApplicationError as exc:
                self._apply_service_error(form, exc)
            else:
                new = correction.replacement
                url = reverse("admin:revenue_revenueevent_change", args=[new.pk])
                self.message_user(
                    request,
                    format_html(
                        "Corrected: {} reversed by {}, replaced by <a href='{}'>{}</a> ({}).",
                        event.event_id,
                        correction.reversal.event_id,
                        url,
                        new.event_id,
                        new.amount_display,
                    ),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:revenue_revenueevent_changelist"))
        with timezone.override(business_zone()):
            return self._form_page(request, form, title=f"Correct {event.event_id}", event=event).render()

    # --- import (preview, then confirm) -----------------------------------------------------

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        entity = form.cleaned_data.get("entity") if form is not None and hasattr(form, "cleaned_data") else None
        return {"entity": entity}

    def import_job_options(self, request, form) -> dict:
        return {"format": self.choose_import_resource_class(form, request).format_name}

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None and import_form.cleaned_data.get("entity"):
            initial["entity"] = import_form.cleaned_data["entity"].pk
        return initial

    def import_action(self, request, **kwargs):
        """import-export's preview, plus: rows with errors do not block confirming the good rows.

        The bad rows are listed with row number and column, are not imported,
        and the file can be fixed and imported again (imported rows are then skipped).
        """
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None) or {}
        result = context.get("result")
        if (
            result is not None
            and not result.has_errors()
            and result.has_validation_errors()
            and result.totals.get(RowResult.IMPORT_TYPE_NEW)
        ):
            context["confirm_form"] = self.create_confirm_form(request, import_form=context["form"])
            response = TemplateResponse(request, [self.import_template_name], context)
        return response

    def process_result(self, result, request):
        invalid = list(result.invalid_rows)
        if invalid:
            details = "; ".join(
                f"row {row.number} ({', '.join(f'{col}: {msgs[0]}' for col, msgs in row.error_dict.items())})"
                for row in invalid[:10]
            )
            self.message_user(
                request,
                f"{len(invalid)} row(s) with errors were NOT imported: {details}. "
                "Fix them and import the file again; rows already imported will be skipped.",
                messages.WARNING,
            )
        return super().process_result(result, request)

    def add_success_message(self, result, request):
        totals = result.totals
        duplicates = sum(1 for row in result.rows if row.diff and "POSSIBLE DUPLICATE" in row.diff[-1])
        text = (
            f"Import finished: {totals[RowResult.IMPORT_TYPE_NEW]} rows added, "
            f"{totals[RowResult.IMPORT_TYPE_SKIP]} skipped (already in the ledger or no money moved)."
        )
        if duplicates:
            text += f" {duplicates} possible duplicate(s) raised a duplicate alert for review."
        self.message_user(request, text, messages.SUCCESS)

    # --- export -----------------------------------------------------------------------------

    def get_export_resource_classes(self, request):
        return [LedgerExportResource]

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm("revenue.view_revenueevent")

"""Admin for reconciliation: bank deposits (with statement import), expectations, matches, the audit trail,
and the reconciliation page. Thin: every change goes through revenue.reconciliation.services."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from import_export.admin import ImportMixin
from import_export.forms import ConfirmImportForm, ImportForm

from revenue.admin.imports import BackgroundImportMixin
from revenue.admin.mixins import ReadOnlyAdminMixin
from revenue.business_time import business_today, month_end, month_start
from revenue.errors import ApplicationError, file_read_error_message
from revenue.forms import UploadLimitFormMixin
from revenue.models import Entity, ImportJob
from revenue.money import CurrencyError, format_money, normalize_currency

from . import selectors, services
from .bank_formats import (
    LAYOUT_TITLES,
    MAPPING_KEYS,
    STATEMENT_FORMATS,
    BankDepositResource,
    StatementError,
    parse_mapping,
    sniff_layout,
)
from .models import BankDeposit, DepositMatch, DepositMatchItem, ExpectedDeposit, ReconciliationAction


class _StatementOptions(forms.Form):
    entity = forms.ModelChoiceField(queryset=Entity.objects.all(), help_text="Whose bank account this statement is.")
    currency = forms.CharField(max_length=3, initial="USD", help_text="Currency of a CSV statement (OFX says its own).")
    mapping = forms.CharField(
        required=False,
        label="Column mapping",
        help_text=f"Generic CSV only, e.g. date=Posted,amount=Credit,description=Memo "
        f"(keys: {', '.join(MAPPING_KEYS)}). Empty: Date, Description, Amount.",
    )

    def clean_mapping(self):
        try:
            parse_mapping(self.cleaned_data.get("mapping", ""))
        except StatementError as exc:
            raise forms.ValidationError(str(exc)) from None
        return self.cleaned_data.get("mapping", "")

    def clean_currency(self):
        try:
            return normalize_currency(self.cleaned_data["currency"])
        except CurrencyError as exc:
            raise forms.ValidationError(str(exc)) from None


class StatementImportForm(UploadLimitFormMixin, ImportForm, _StatementOptions):
    """The format may be left empty: the file's first lines say which layout it is (`sniff_layout`).
    A format chosen that the file plainly is not is refused with the one it is."""

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.layout_keys = [f.layout_key for f in formats]
        self.fields["format"].required = False
        self.fields["format"].choices = [("", "Recognise it from the file"), *self.fields["format"].choices[1:]]
        self.layout_label = ""

    def clean(self):
        data = super().clean()
        upload = data.get("import_file")
        if upload is None:
            return data
        head = upload.read(65536)
        upload.seek(0)
        recognised = sniff_layout(head)
        chosen = self.layout_keys[int(data["format"])] if data.get("format") not in (None, "") else None
        if chosen is None and recognised is None:
            self.add_error(
                "format",
                f"This file matches none of the layouts ({', '.join(LAYOUT_TITLES.values())}): "
                "choose one, or Generic CSV with a column mapping.",
            )
        elif chosen is None:
            data["format"] = str(self.layout_keys.index(recognised))
        elif recognised not in (None, chosen) and not (chosen == "generic" and data.get("mapping")):
            self.add_error(
                "format",
                f"This file looks like {LAYOUT_TITLES[recognised]}, not {LAYOUT_TITLES[chosen]}: "
                f"choose {LAYOUT_TITLES[recognised]} (or leave the format empty).",
            )
        if not self.errors:
            self.layout_label = LAYOUT_TITLES[self.layout_keys[int(data["format"])]]
        return data


class StatementConfirmForm(ConfirmImportForm, _StatementOptions):
    entity = forms.ModelChoiceField(queryset=Entity.objects.all(), widget=forms.HiddenInput())
    currency = forms.CharField(max_length=3, widget=forms.HiddenInput())
    mapping = forms.CharField(required=False, widget=forms.HiddenInput())


@admin.register(BankDeposit)
class BankDepositAdmin(BackgroundImportMixin, ImportMixin, admin.ModelAdmin):
    resource_classes = [BankDepositResource]
    import_form_class = StatementImportForm
    confirm_form_class = StatementConfirmForm
    formats = list(STATEMENT_FORMATS.values())
    list_display = (
        "posted_on",
        "entity",
        "amount_display",
        "description",
        "bank_reference",
        "source_format",
        "flag_reason",
    )
    list_filter = ("entity", "currency", "source_format", "posted_on")
    search_fields = ("description", "bank_reference", "statement_name")
    list_select_related = ("entity",)
    date_hierarchy = "posted_on"
    readonly_fields = [f.name for f in BankDeposit._meta.fields]
    import_export_change_list_template = "admin/reconciliation/bankdeposit_change_list.html"
    import_template_name = "admin/reconciliation/import.html"

    def add_data_read_fail_error_to_form(self, form, e):
        form.add_error("import_file", file_read_error_message(e))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_import_permission(self, request):
        return request.user.has_perm("revenue.change_bankdeposit")

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        data = form.cleaned_data if form is not None and hasattr(form, "cleaned_data") else {}
        return {
            "entity": data.get("entity"),
            "currency": data.get("currency") or "USD",
            "mapping": parse_mapping(data.get("mapping", "")) if data.get("mapping") else None,
            "on_imported": services.statement_imported,
        }

    import_job_kind = ImportJob.Kind.BANK

    def import_job_options(self, request, form) -> dict:
        data = form.cleaned_data
        layout = self.get_import_formats()[int(data["format"])].layout_key
        mapping = parse_mapping(data.get("mapping", "")) if data.get("mapping") else None
        return {"layout": layout, "currency": data.get("currency") or "USD", "mapping": mapping}

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial.update(
                entity=import_form.cleaned_data["entity"].pk,
                currency=import_form.cleaned_data["currency"],
                mapping=import_form.cleaned_data.get("mapping", ""),
            )
        return initial

    def get_import_form_initial(self, request):
        """The entity of the reconciliation page the person came from (?entity=slug), else the default."""
        chosen = Entity.objects.filter(slug=request.GET.get("entity", "")).first()
        entity = chosen or Entity.objects.filter(is_default=True).first()
        return {"entity": entity.pk if entity else None, "currency": "USD"}

    @staticmethod
    def _new_deposit_ids(result) -> list:
        return [row.object_id for row in result.rows if row.import_type == "new" and row.object_id]

    def add_success_message(self, result, request):
        """What the statement brought, in the words of the preview, and what matched at once."""
        matched = DepositMatch.objects.filter(
            status=DepositMatch.Status.ACTIVE, items__deposit__in=self._new_deposit_ids(result), items__active=True
        ).distinct()
        outcomes = Counter(row.row_values.get("outcome", "") for row in result.rows)
        messages.success(
            request,
            f"{outcomes['new deposit']} new deposit(s), {outcomes['already imported']} already imported, "
            f"{outcomes['not a deposit (money out): ignored']} debit line(s) ignored; "
            f"{matched.count()} matched automatically.",
        )

    def process_result(self, result, request):
        """After confirm: the reconciliation page of the statement's entity and month."""
        super().process_result(result, request)
        posted = BankDeposit.objects.filter(pk__in=self._new_deposit_ids(result)).order_by("posted_on")
        month = posted.values_list("posted_on", flat=True).first() or business_today()
        query = {"start": month_start(month), "end": month_end(month)}
        entity = Entity.objects.filter(pk=request.POST.get("entity")).first()
        if entity is not None:
            query["entity"] = entity.slug
        return HttpResponseRedirect(f"{reverse('admin:revenue_bankdeposit_reconciliation')}?{urlencode(query)}")

    def get_urls(self):
        return [
            path(
                "reconciliation/",
                self.admin_site.admin_view(self.reconciliation_view),
                name="revenue_bankdeposit_reconciliation",
            ),
            *super().get_urls(),
        ]

    # --- the reconciliation page ----------------------------------------------------------------------

    def _period(self, request: HttpRequest) -> tuple[Entity, date, date]:
        params = request.GET
        entity = Entity.objects.filter(slug=params.get("entity", "")).first() or (
            Entity.objects.filter(is_default=True).first() or Entity.objects.first()
        )
        today = business_today()
        try:
            start = date.fromisoformat(params["start"]) if params.get("start") else month_start(today)
            end = date.fromisoformat(params["end"]) if params.get("end") else month_end(start)
        except ValueError:
            messages.error(request, "Dates must be YYYY-MM-DD; showing this month.")
            start, end = month_start(today), month_end(today)
        if end < start:
            start, end = end, start
        return entity, start, end

    def reconciliation_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        entity, start, end = self._period(request)
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            self._reconciliation_post(request, entity)
            return HttpResponseRedirect(
                f"{request.path}?{urlencode({'entity': entity.slug, 'start': start, 'end': end})}"
            )

        expected = list(selectors.expected_in_period(entity=entity, start=start, end=end))
        deposits = list(selectors.deposits_in_period(entity=entity, start=start, end=end))
        candidates = selectors.candidates_for(expected, entity=entity)
        contents = selectors.payout_contents(expected)
        for item in expected:
            item.candidates = candidates.get(item.pk, [])
            item.contents = contents.get(item.pk)
        previous_start = month_start(start - timedelta(days=1))
        next_start = month_start(month_end(start) + timedelta(days=1))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "is_nav_sidebar_enabled": False,  # the page needs the width
            "title": f"Reconciliation: {entity.name}",
            "entity": entity,
            "entities": Entity.objects.all(),
            "start": start,
            "end": end,
            "window": selectors.window_business_days(),
            "business_tz": settings.REVENUE_TIME_ZONE,
            "totals": selectors.reconciliation_totals(entity=entity, start=start, end=end).values(),
            "expected": expected,
            "deposits": deposits,
            "matches": list(selectors.matches_touching_period(entity=entity, start=start, end=end)),
            "actions": list(selectors.recent_actions(entity=entity)),
            "previous_query": urlencode(
                {"entity": entity.slug, "start": previous_start, "end": month_end(previous_start)}
            ),
            "next_query": urlencode({"entity": entity.slug, "start": next_start, "end": month_end(next_start)}),
            "import_url": f"{reverse('admin:revenue_bankdeposit_import')}?{urlencode({'entity': entity.slug})}",
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/reconciliation/page.html", context)

    def _reconciliation_post(self, request: HttpRequest, entity: Entity) -> None:
        """One button, one service call. `op` names the action and its target."""
        op = request.POST.get("op", "")
        note = request.POST.get("note", "").strip()
        user = request.user
        verb, _, rest = op.partition(":")
        try:
            if verb == "refresh":
                sync, matched = services.reconciliation_run(entity=entity)
                messages.success(
                    request,
                    f"{sync.created} new expected deposit(s), {sync.cancelled} no longer expected, "
                    f"{matched} matched automatically.",
                )
            elif verb == "match_selected":
                match = services.deposit_match(
                    deposit_ids=request.POST.getlist("deposit"),
                    expected_ids=request.POST.getlist("expected"),
                    user=user,
                    note=note,
                )
                messages.success(request, f"Matched: {self._match_summary(match)}.")
            elif verb == "match":
                expected_id, _, deposit_id = rest.partition(":")
                score = request.POST.get(f"score-{expected_id}-{deposit_id}")
                match = services.deposit_match(
                    deposit_ids=[deposit_id],
                    expected_ids=[expected_id],
                    user=user,
                    note=note,
                    score=int(score) if score and score.isdigit() else None,
                )
                messages.success(request, f"Matched: {self._match_summary(match)}.")
            elif verb == "add_entry":
                match = services.deposit_book_as_entry(
                    deposit_id=rest,
                    kind=request.POST.get(f"entry-kind-{rest}", ""),
                    counterparty=request.POST.get(f"entry-counterparty-{rest}", ""),
                    reason=request.POST.get(f"entry-reason-{rest}", ""),
                    user=user,
                )
                messages.success(request, f"Added to the ledger and matched: {self._match_summary(match)}.")
            elif verb == "unmatch":
                match = get_object_or_404(DepositMatch, pk=rest, entity=entity)
                services.deposit_unmatch(match=match, user=user, note=note)
                messages.success(request, "Match undone; its items are unmatched again.")
            elif verb in ("flag", "unflag"):
                self._flag_post(request, entity, verb=verb, target=rest, note=note)
            else:
                messages.error(request, "Unknown action.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        except (ValueError, forms.ValidationError):
            messages.error(request, "That item does not exist (bad id).")

    @staticmethod
    def _flag_post(request: HttpRequest, entity: Entity, *, verb: str, target: str, note: str) -> None:
        """`flag:<kind>:<id>` / `unflag:<kind>:<id>` on a deposit, an expected deposit or a match."""
        kind, _, pk = target.partition(":")
        model = {"deposit": BankDeposit, "expected": ExpectedDeposit, "match": DepositMatch}.get(kind)
        if model is None:
            raise ApplicationError(f"Cannot {verb} a '{kind}'", code="flag_target")
        item = get_object_or_404(model, pk=pk, entity=entity)
        if verb == "flag":
            services.reconciliation_flag(target=item, reason=note, user=request.user)
            messages.success(request, f"Flagged: {note}")
        else:
            services.reconciliation_unflag(target=item, user=request.user, note=note)
            messages.success(request, "Flag cleared.")

    @staticmethod
    def _match_summary(match: DepositMatch) -> str:
        text = f"{format_money(match.deposited_cents, match.currency)} deposited for "
        text += format_money(match.expected_cents, match.currency) + " expected"
        if match.difference_cents:
            text += f" (difference {format_money(match.difference_cents, match.currency)})"
        return text


@admin.register(ExpectedDeposit)
class ExpectedDepositAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("expected_on", "entity", "source", "reference", "amount_display", "status", "flag_reason")
    list_filter = ("entity", "source", "status", "currency")
    search_fields = ("reference", "payout__payout_id", "event__event_id")
    list_select_related = ("entity",)
    date_hierarchy = "expected_on"


class DepositMatchItemInline(admin.TabularInline):
    model = DepositMatchItem
    fields = ("deposit", "expected", "active")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DepositMatch)
class DepositMatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "entity",
        "method",
        "status",
        "expected_cents",
        "deposited_cents",
        "currency",
        "created_by",
        "flag_reason",
    )
    list_filter = ("entity", "method", "status", "currency")
    search_fields = ("note", "flag_reason")
    list_select_related = ("entity", "created_by")
    date_hierarchy = "created_at"
    inlines = [DepositMatchItemInline]


@admin.register(ReconciliationAction)
class ReconciliationActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "action", "actor", "entity", "note")
    list_filter = ("action", "entity")
    search_fields = ("note",)
    list_select_related = ("actor", "entity")
    date_hierarchy = "created_at"

"""Admin: the account mappings (edited by the accountant, with history) and the "Accountant files" page."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from simple_history.admin import SimpleHistoryAdmin

from revenue.errors import ApplicationError

from .forms import AccountantFilesForm
from .http import file_response
from .models import AccountMapping
from .services import accountant_file_build

EXPORT_PERMISSION = "accounting.export_accountant_files"


@admin.register(AccountMapping)
class AccountMappingAdmin(SimpleHistoryAdmin):
    list_display = ["role", "entity_display", "currency_display", "account_name", "account_code", "xero_tax_rate"]
    list_filter = ["role", "entity", "currency"]
    search_fields = ["account_name", "account_code"]
    list_select_related = ["entity"]
    date_hierarchy = "updated_at"
    fields = ["role", "entity", "currency", "account_name", "account_code", "xero_tax_rate"]

    @admin.display(description="Entity", ordering="entity__name")
    def entity_display(self, mapping: AccountMapping) -> str:
        return mapping.entity.name if mapping.entity else "every entity"

    @admin.display(description="Currency", ordering="currency")
    def currency_display(self, mapping: AccountMapping) -> str:
        return mapping.currency or "every currency"

    def get_urls(self):
        files = self.admin_site.admin_view(self.files_view)
        return [path("files/", files, name="accounting_files"), *super().get_urls()]

    def files_view(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        """Pick entity, period and file; download it, or read why it cannot be made (nothing partial)."""
        if not request.user.has_perm(EXPORT_PERMISSION):
            raise PermissionDenied
        initial = {"month": AccountantFilesForm.initial_month(), "entity": request.GET.get("entity") or None}
        form = AccountantFilesForm(request.POST or None, initial=initial)
        refusal: ApplicationError | None = None
        if request.method == "POST" and form.is_valid():
            try:
                file = accountant_file_build(scope=form.cleaned_data["scope"], kind=form.cleaned_data["kind"])
            except ApplicationError as exc:
                refusal = exc
            else:
                return file_response(file)
        context = {
            **self.admin_site.each_context(request),
            "title": "Accountant files",
            "opts": self.model._meta,
            "form": form,
            "refusal": refusal,
            "unmapped": refusal.extra.get("unmapped", []) if refusal else [],
            "can_map": self.has_change_permission(request),
        }
        return TemplateResponse(request, "admin/accounting/files.html", context)

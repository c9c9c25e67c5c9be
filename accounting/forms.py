"""The admin's "Accountant files" form: entity, period (a month or from-to business dates) and file."""

from __future__ import annotations

from datetime import timedelta

from django import forms

from revenue.business_time import business_today
from revenue.errors import ApplicationError
from revenue.models import Entity

from .selectors import ExportScope, export_period
from .services import FILE_LABELS, FileKind


class AccountantFilesForm(forms.Form):
    entity = forms.ModelChoiceField(
        Entity.objects.order_by("name"),
        required=False,
        empty_label="All entities (ledger detail and summary only)",
        help_text="Journals are per entity: QuickBooks and Xero files need one.",
    )
    month = forms.CharField(
        required=False,
        max_length=7,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
        help_text="A business month (America/Chicago), e.g. 2026-06. Or leave it empty and give the days below.",
    )
    date_from = forms.DateField(
        required=False, label="First day", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        required=False, label="Last day", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    file = forms.ChoiceField(
        choices=[(kind.value, label) for kind, label in FILE_LABELS.items()],
        widget=forms.RadioSelect,
        initial=FileKind.LEDGER_CSV.value,
    )

    @staticmethod
    def initial_month() -> str:
        """Last month: the one being closed."""
        return f"{business_today().replace(day=1) - timedelta(days=1):%Y-%m}"

    def clean(self) -> dict:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            first, last = export_period(
                month=data.get("month") or None, date_from=data.get("date_from"), date_to=data.get("date_to")
            )
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None
        data["scope"] = ExportScope(data.get("entity"), first, last)
        data["kind"] = FileKind(data["file"])
        return data

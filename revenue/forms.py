"""Back-office forms: manual entry, correction, reversal and the CSV import steps.

Forms parse and validate input at the edge (amounts typed in the currency's
units); services do the writing.
"""

from __future__ import annotations

import csv
import io

from django import forms
from django.conf import settings
from django.contrib.admin.widgets import AdminDateWidget
from django.template.defaultfilters import filesizeformat
from import_export.forms import ConfirmImportForm, ImportForm

from .backfill import FORMAT_TITLES, FileFormatError, check_columns, names_entity, recognise_format
from .business_time import business_today
from .entries import EXPECTS_BANK_DEPOSIT
from .models import Entity, Payout, RevenueEvent
from .money import (
    ISO_4217_CODES,
    CurrencyError,
    format_money,
    minor_unit_exponent,
    normalize_currency,
    to_minor_units,
)
from .services import ManualEntryData, active_manual_entries

COMMON_CURRENCIES = ["USD", "EUR", "GBP", "CAD", "AUD", "JPY", "KWD"]
CURRENCY_CHOICES = [(c, c) for c in COMMON_CURRENCIES] + [
    (c, c) for c in sorted(ISO_4217_CODES) if c not in COMMON_CURRENCIES
]

# Error codes raised by the manual-entry services -> the form field they concern.
SERVICE_ERROR_FIELDS = {
    "duplicate_reference": "reference",
    "reference_required": "reference",
    "invalid_amount": "amount",
    "invalid_currency": "currency",
    "future_date": "received_on",
    "reason_required": "reason",
}


class ManualEntryForm(forms.Form):
    entity = forms.ModelChoiceField(queryset=Entity.objects.all(), empty_label=None)
    customer_email = forms.EmailField(required=False, label="Customer email")
    customer_name = forms.CharField(required=False, max_length=200, label="Customer name")
    reference = forms.CharField(
        max_length=120,
        label="PO / contract number",
        help_text="Unique per entity: the same number cannot be recorded twice unless the first entry is reversed.",
    )
    amount = forms.CharField(
        max_length=40,
        label="Amount received",
        help_text="In the currency's units, e.g. 1,234.50 USD · 5000 JPY · 1.234 KWD.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "1,234.50"}),
    )
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES, initial="USD")
    received_on = forms.DateField(
        label="Date received",
        widget=AdminDateWidget,
        help_text="Business date (America/Chicago). Booked at 12:00 noon local time on that day.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))
    expects_bank_deposit = forms.BooleanField(
        required=False,
        initial=True,
        label="Expects a bank deposit",
        help_text="Tick when this money will arrive as a bank deposit (used by reconciliation).",
    )

    def __init__(self, *args, correcting: RevenueEvent | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.correcting = correcting
        self.fields["received_on"].initial = business_today()

    def clean_reference(self) -> str:
        return self.cleaned_data["reference"].strip()

    def clean(self):
        cleaned = super().clean()
        currency, amount = cleaned.get("currency"), cleaned.get("amount")
        if currency and amount:
            try:
                minor = to_minor_units(amount, currency)
            except CurrencyError as exc:
                exponent = minor_unit_exponent(currency)
                example = format_money(123450 if exponent else 5000, currency)
                self.add_error("amount", f"{exc}. Example: {example}.")
            else:
                if minor <= 0:
                    self.add_error("amount", "The amount received must be more than zero.")
                else:
                    cleaned["amount_cents"] = minor
        received_on = cleaned.get("received_on")
        if received_on and received_on > business_today():
            self.add_error("received_on", "The date received cannot be in the future.")
        entity, reference = cleaned.get("entity"), cleaned.get("reference")
        if entity and reference:
            clash = active_manual_entries(entity=entity, reference=reference)
            if self.correcting is not None:
                clash = clash.exclude(pk=self.correcting.pk)
            clash = clash.first()
            if clash is not None:
                self.add_error(
                    "reference",
                    f"'{reference}' is already recorded for {entity.name} ({clash.amount_display}, {clash.event_id}). "
                    "Correct that entry instead of recording it twice.",
                )
        return cleaned

    def to_data(self) -> ManualEntryData:
        c = self.cleaned_data
        return ManualEntryData(
            entity=c["entity"],
            reference=c["reference"],
            amount_cents=c["amount_cents"],
            currency=c["currency"],
            received_on=c["received_on"],
            customer_email=c.get("customer_email") or "",
            customer_name=c.get("customer_name") or "",
            description=c.get("description") or "",
            expects_bank_deposit=c.get("expects_bank_deposit", False),
        )

    @classmethod
    def initial_from_event(cls, event: RevenueEvent) -> dict:
        from .money import from_minor_units

        return {
            "entity": event.entity_id,
            "customer_email": event.customer_email or "",
            "customer_name": event.metadata.get("customer_name", ""),
            "reference": event.reference,
            "amount": f"{from_minor_units(event.amount_cents, event.currency):,}",
            "currency": event.currency,
            "received_on": event.metadata.get("received_on") or event.occurred_at.date(),
            "description": event.description,
            "expects_bank_deposit": event.metadata.get(EXPECTS_BANK_DEPOSIT, False),
        }


def effective_on_field(help_text: str) -> forms.DateField:
    """The optional business date a correction or reversal counts on."""
    return forms.DateField(required=False, label="Reversal dated", widget=AdminDateWidget, help_text=help_text)


class CorrectionForm(ManualEntryForm):
    reason = forms.CharField(
        max_length=500,
        label="Reason for the correction",
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Recorded on the reversal and in the audit trail.",
    )
    effective_on = effective_on_field(
        "Business date the reversal of the old entry counts on. Empty: the old entry's own date, so the "
        "correction lands in its period (or the first open day when that period is locked)."
    )


class ReverseForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        label="Reason",
        widget=forms.TextInput(attrs={"size": 60, "autofocus": True}),
        help_text="Recorded on each reversing row and in the audit trail.",
    )
    effective_on = effective_on_field(
        "Business date the reversals count on. Empty: each entry's own date, so the reversal lands in its "
        "period (or the first open day when that period is locked). When posted stays on record either way."
    )


class UploadLimitFormMixin:
    """The upload limit on an import form: checked in the browser before sending (static JS, no inline
    script), by revenue.middleware from Content-Length, and here on the received file."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from .middleware import upload_limit_message

        attrs = self.fields["import_file"].widget.attrs
        attrs["data-max-bytes"] = str(settings.IMPORT_MAX_UPLOAD_BYTES)
        attrs["data-limit-message"] = upload_limit_message()
        self.fields["import_file"].help_text = (
            f"Up to {filesizeformat(settings.IMPORT_MAX_UPLOAD_BYTES)}. Files above "
            f"{filesizeformat(settings.IMPORT_BACKGROUND_THRESHOLD_BYTES)} are imported in the background, "
            "with a progress page."
        )

    def clean_import_file(self):
        from .middleware import upload_limit_message

        upload = self.cleaned_data.get("import_file")
        if upload is not None and upload.size > settings.IMPORT_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(upload_limit_message(upload.size))
        return upload

    @property
    def media(self):
        return super().media + forms.Media(js=["revenue/upload_limit.js"])


class LedgerImportForm(UploadLimitFormMixin, ImportForm):
    """Reads the file's header row: a file of another kind than the one chosen is imported as the kind
    it is, and the preview says so; a file that cannot say which entity its rows belong to needs one."""

    entity = forms.ModelChoiceField(
        queryset=Entity.objects.all(),
        required=False,
        label="Entity for rows that do not name one",
        help_text="Required when the file has no entity column (a Gumroad export never has one). "
        "Rows naming an entity, or a product mapped to one, keep theirs.",
    )

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.format_names = [resource.format_name for resource in resources]
        self.recognised = ""
        self.recognised_note = ""

    def clean(self):
        data = super().clean()
        upload, chosen = data.get("import_file"), data.get("resource")
        if upload is None or chosen in (None, ""):
            return data
        headers = _header_row(upload)
        if headers is None:  # not readable text: the import itself says why, in a sentence
            return data
        fmt = self.format_names[int(chosen)]
        try:
            check_columns(headers, fmt)
        except FileFormatError as exc:
            recognised = recognise_format(headers)
            if recognised is None:
                self.add_error("resource", str(exc))
                return data
            self.recognised_note = f"recognised from its header row; you chose {FORMAT_TITLES[fmt]}"
            fmt = recognised
            data["resource"] = str(self.format_names.index(fmt))
        if data.get("entity") is None and not names_entity(headers, fmt):
            self.add_error(
                "entity",
                f"A {FORMAT_TITLES[fmt]} does not say which entity each row belongs to: choose the entity "
                "(rows of a product mapped to an entity keep that one).",
            )
        self.recognised = FORMAT_TITLES[fmt]
        return data


def _header_row(upload) -> list[str] | None:
    """The first CSV row of an upload (the file is rewound for the import); None when it is not UTF-8 CSV."""
    head = upload.read(65536)
    upload.seek(0)
    try:
        first_line = head.decode("utf-8-sig").split("\n", 1)[0]
        return None if "\x00" in first_line else next(csv.reader(io.StringIO(first_line)), [])
    except (UnicodeDecodeError, csv.Error):
        return None


class LedgerConfirmImportForm(ConfirmImportForm):
    entity = forms.ModelChoiceField(queryset=Entity.objects.all(), required=False, widget=forms.HiddenInput)


class PayoutEntryForm(forms.ModelForm):
    """An expected bank deposit entered by hand: a Gumroad payout, or a wire / check batch."""

    provider = forms.ChoiceField(
        choices=[("gumroad", "Gumroad"), ("manual", "Manual (wire / check)")],
        help_text="Stripe payouts arrive by webhook (payout.paid) and are not entered here.",
    )
    payout_amount = forms.CharField(label="Amount", help_text="In the currency's units, e.g. 1,234.50 USD.")
    currency = forms.CharField(max_length=3, initial="USD")

    class Meta:
        model = Payout
        fields = ["provider", "payout_id", "entity", "payout_amount", "currency", "arrival_on", "statement_descriptor"]
        labels = {"payout_id": "Payout reference", "arrival_on": "Expected in the bank on"}

    def clean_currency(self) -> str:
        try:
            return normalize_currency(self.cleaned_data["currency"])
        except CurrencyError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        cleaned = super().clean()
        if "payout_amount" in cleaned and "currency" in cleaned:
            try:
                cleaned["amount_cents"] = to_minor_units(cleaned["payout_amount"], cleaned["currency"])
            except CurrencyError as exc:
                self.add_error("payout_amount", str(exc))
            else:
                if cleaned["amount_cents"] <= 0:
                    self.add_error("payout_amount", "A payout is a positive amount.")
        return cleaned

"""Provider payouts in the admin: read-mostly, and "Add" for a payout entered by hand."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from ..forms import PayoutEntryForm
from ..models import Payout
from ..services import payout_upsert
from .display import money_html


@admin.register(Payout)
class PayoutAdmin(SimpleHistoryAdmin):
    """Read-mostly: payouts come from the providers; only the metadata notes can be edited."""

    list_display = ["payout_id", "provider", "entity", "amount", "status", "arrival_on"]
    list_filter = ["provider", "entity", "status", "currency"]
    search_fields = ["=payout_id", "statement_descriptor"]
    list_select_related = ["entity"]
    date_hierarchy = "arrival_on"
    readonly_fields = [
        "provider",
        "payout_id",
        "entity",
        "amount",
        "currency",
        "amount_cents",
        "status",
        "arrival_on",
        "statement_descriptor",
        "created_at",
        "updated_at",
    ]
    fields = [*readonly_fields, "metadata"]
    add_form = PayoutEntryForm

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:  # "Add": a Gumroad payout or a wire/check batch entered by hand
            kwargs["form"] = self.add_form
            kwargs["fields"] = self.add_form.Meta.fields
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return self.add_form.Meta.fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        payout, _ = payout_upsert(
            provider=data["provider"],
            payout_id=data["payout_id"],
            entity=data["entity"],
            amount_cents=data["amount_cents"],
            currency=data["currency"],
            status=Payout.Status.PAID,
            arrival_on=data.get("arrival_on"),
            statement_descriptor=data.get("statement_descriptor", ""),
            metadata={"entered_by": request.user.get_username()},
        )
        for field in Payout._meta.concrete_fields:  # the admin logs and redirects with this object
            setattr(obj, field.attname, getattr(payout, field.attname))

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Amount", ordering="amount_cents")
    def amount(self, obj: Payout):
        return money_html(obj.amount_cents, obj.currency)

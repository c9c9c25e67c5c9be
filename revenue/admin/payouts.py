"""Provider payouts in the admin: read-mostly, "Add" for a payout entered by hand, and on a payout's page its
tie-out against the balance transactions it settles (revenue.selectors.payouts)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

from ..business_time import business_zone
from ..forms import PayoutEntryForm
from ..models import Payout
from ..money import format_money
from ..selectors.payouts import payout_tie_out, payouts_with_settled_net
from ..services import payout_upsert
from .display import money_html


@admin.register(Payout)
class PayoutAdmin(SimpleHistoryAdmin):
    """Read-mostly: payouts come from the providers; only the metadata notes can be edited."""

    list_display = ["payout_id", "provider", "entity", "amount", "status", "arrival_on", "tie_out"]
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
    change_form_template = "admin/revenue/payout/change_form.html"

    class Media:
        css = {"all": ["revenue/backoffice.css", "revenue/reconciliation.css"]}

    def get_queryset(self, request):
        return payouts_with_settled_net(super().get_queryset(request))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        payout = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if payout is not None:
            extra["tie_out"] = payout_tie_out(payout=payout)
            extra["import_url"] = reverse("admin:revenue_revenueevent_import")
            extra["business_tz"] = business_zone()
        return super().change_view(request, object_id, form_url, extra_context=extra)

    @admin.display(description="Tie-out")
    def tie_out(self, obj: Payout) -> str:
        """From the payout reconciliation report: "ties out", "differs by …", or a dash before the report."""
        if not getattr(obj, "settled_lines", 0):
            return "—"
        difference = obj.amount_cents - (obj.settled_net_cents or 0)
        if difference == 0:
            return f"ties out ({obj.settled_lines} lines)"
        return f"differs by {format_money(difference, obj.currency)}"

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

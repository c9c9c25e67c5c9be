"""Summaries in the back office: read-only figures, with "recompute" and "send" actions that call services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from revenue.money import format_money
from revenue.selectors import ledger_rows_path
from revenue.selectors.buckets import BUCKET_LABELS, GUMROAD_FEES_UNKNOWN

from .models import RevenueSummary
from .services import summary_compute, summary_send


@admin.register(RevenueSummary)
class RevenueSummaryAdmin(admin.ModelAdmin):
    list_display = (
        "period",
        "start_date",
        "end_date",
        "scope",
        "net_display",
        "event_count",
        "payment_count",
        "currencies",
        "as_of",
        "sent_at",
        "amended_at",
    )
    list_filter = ("period", "entity", ("sent_at", admin.EmptyFieldListFilter))
    search_fields = ("entity__name", "entity__slug")
    list_select_related = ("entity",)
    date_hierarchy = "start_date"
    actions = ("recompute", "send")
    readonly_fields = [field.name for field in RevenueSummary._meta.fields] + [
        "per_currency",
        "money",
        "scope",
        "net_display",
    ]
    # Money first, as money; the stored figures (cents and JSON) folded away in a <details>.
    fieldsets = [
        (None, {"fields": ["period", "start_date", "end_date", "scope", "money", "net_display"]}),
        ("Status", {"fields": ["as_of", "sent_at", "amended_at"]}),
        (
            "Stored figures (raw)",
            {
                "classes": ["collapse"],
                "fields": [
                    "id",
                    "entity",
                    "currency",
                    "total_amount_cents",
                    "event_count",
                    "payment_count",
                    "payments_cents",
                    "refunds_cents",
                    "disputes_cents",
                    "disputes_won_cents",
                    "fees_cents",
                    "adjustments_cents",
                    "net_cents",
                    "average_transaction_cents",
                    "unconverted_event_count",
                    "by_currency",
                    "by_provider",
                    "by_kind",
                    "by_entity",
                    "fx",
                    "sent_snapshot",
                    "created_at",
                    "updated_at",
                    "per_currency",
                ],
            },
        ),
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Scope", ordering="entity__name")
    def scope(self, obj: RevenueSummary) -> str:
        return obj.entity.name if obj.entity_id else "All entities"

    @admin.display(description="Net (reporting currency)", ordering="total_amount_cents")
    def net_display(self, obj: RevenueSummary) -> str:
        return format_money(obj.total_amount_cents, obj.currency)

    @admin.display(description="Currencies")
    def currencies(self, obj: RevenueSummary) -> str:
        return ", ".join(obj.by_currency) or "—"

    @admin.display(description="Per currency (exact)")
    def per_currency(self, obj: RevenueSummary):
        return format_html_join(
            "",
            "<div>{}: net {} — {} — {} events{}</div>",
            (
                (
                    currency,
                    format_money(m["net_cents"], currency),
                    ", ".join(
                        f"{label.lower()} {format_money(m.get(f'{bucket}_cents', 0), currency)}"
                        for bucket, label in BUCKET_LABELS.items()
                    ),
                    m["event_count"],
                    f" ({GUMROAD_FEES_UNKNOWN})" if m.get("gumroad_fees_unknown") else "",
                )
                for currency, m in obj.by_currency.items()
            ),
        )

    @admin.display(description="Money, per currency")
    def money(self, obj: RevenueSummary):
        """Per currency: net and its parts, each amount linked to the ledger rows of the period (and entity)."""
        columns = [("Net", "net_cents"), *((label, f"{bucket}_cents") for bucket, label in BUCKET_LABELS.items())]
        if not obj.by_currency:
            return "Nothing booked in this period."
        head = format_html_join("", '<th class="bb-num">{}</th>', ((label,) for label, _ in columns))
        rows = []
        for currency, figures in obj.by_currency.items():
            url = ledger_rows_path(
                first_day=obj.start_date, last_day=obj.end_date, entity_id=obj.entity_id, currency=currency
            )
            cells = format_html_join(
                "",
                '<td class="bb-num"><a class="bb-money" href="{}">{}</a></td>',
                ((url, format_money(figures.get(key, 0), currency)) for _, key in columns),
            )
            rows.append(
                format_html(
                    '<tr><th scope="row">{}</th>{}<td class="bb-num"><a href="{}">{} row{}</a></td></tr>',
                    currency,
                    cells,
                    url,
                    figures.get("event_count", 0),
                    "" if figures.get("event_count", 0) == 1 else "s",
                )
            )
        return format_html(
            '<table class="bb-summary-money"><thead><tr><th>Currency</th>{}<th class="bb-num">Ledger rows</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            head,
            format_html_join("", "{}", ((row,) for row in rows)),
        )

    @admin.action(description="Recompute the selected periods")
    def recompute(self, request, queryset):
        periods = {(row.period, row.start_date) for row in queryset}
        for cadence, start_date in sorted(periods):
            summary_compute(cadence=cadence, day=start_date)
        self.message_user(request, f"Recomputed {len(periods)} period(s).", messages.SUCCESS)

    @admin.action(description="Send the selected periods (only those not sent yet)")
    def send(self, request, queryset):
        periods = {(row.period, row.start_date): row for row in queryset}
        sent = sum(1 for row in periods.values() if summary_send(summary=row) is not None)
        skipped = len(periods) - sent
        self.message_user(request, f"Sent {sent} period(s); {skipped} had already been sent.", messages.SUCCESS)

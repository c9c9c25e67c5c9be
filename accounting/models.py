"""The chart-of-accounts mapping behind the QuickBooks Online and Xero journal files.

One row maps a role (a money bucket of revenue.selectors.buckets, or one provider's clearing
account) to an account in the accountant's books, for one entity or every entity and for one
currency or every currency. The most specific row wins; a role the ledger needs and no row maps
blocks the journal export (accounting.services), never a partial file.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history import register as simple_history_register

from revenue.models import Entity
from revenue.money import CurrencyError, normalize_currency


class AccountMapping(models.Model):
    class Role(models.TextChoices):
        # The money buckets (docs/numbers.md): where each kind of ledger row is posted.
        PAYMENTS = "payments", "Sales (payments)"
        REFUNDS = "refunds", "Refunds"
        DISPUTES = "disputes", "Disputes (chargebacks)"
        DISPUTES_WON = "disputes_won", "Disputes won back"
        FEES = "fees", "Processor fees"
        ADJUSTMENTS = "adjustments", "Adjustments and reversals"
        # The other side of every entry: money held at the provider until it is paid out.
        CLEARING_STRIPE = "clearing_stripe", "Stripe clearing"
        CLEARING_GUMROAD = "clearing_gumroad", "Gumroad clearing"
        CLEARING_MANUAL = "clearing_manual", "Manual / bank clearing"

    role = models.CharField(max_length=32, choices=Role.choices)
    entity = models.ForeignKey(
        Entity,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="account_mappings",
        help_text="Empty: every entity without a row of its own.",
    )
    currency = models.CharField(
        max_length=3, blank=True, default="", help_text="ISO 4217 code; empty: every currency without a row of its own."
    )
    account_name = models.CharField(
        max_length=100,
        help_text="QuickBooks Online account name, exactly as in its chart of accounts (sub-accounts as Parent:Child).",
    )
    account_code = models.CharField(max_length=10, help_text="Xero account code (e.g. 200, not '200 - Sales').")
    xero_tax_rate = models.CharField(
        max_length=100, default="Tax Exempt", help_text="Xero tax rate name, as in Xero's tax settings."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["entity__name", "currency", "role"]
        permissions = [("export_accountant_files", "Can download accountant files (ledger, summary, journals)")]
        constraints = [
            models.UniqueConstraint(
                fields=["role", "entity", "currency"],
                condition=Q(entity__isnull=False),
                name="accounting_accountmapping_one_per_entity",
            ),
            models.UniqueConstraint(
                fields=["role", "currency"],
                condition=Q(entity__isnull=True),
                name="accounting_accountmapping_one_for_all_entities",
            ),
            models.CheckConstraint(
                condition=Q(currency="") | Q(currency__regex=r"^[A-Z]{3}$"),
                name="accounting_accountmapping_currency_code",
            ),
        ]

    def __str__(self) -> str:
        scope = f"{self.entity or 'every entity'}, {self.currency or 'every currency'}"
        return f"{self.get_role_display()} ({scope}) → {self.account_name} / {self.account_code}"

    def clean(self) -> None:
        for name in ("account_name", "account_code", "xero_tax_rate"):
            value = (getattr(self, name) or "").strip()
            setattr(self, name, value)
            if value.startswith(("=", "+", "-", "@")):
                raise ValidationError({name: "Must not start with = + - or @ (a spreadsheet would read a formula)."})
        if self.currency:
            try:
                self.currency = normalize_currency(self.currency)
            except CurrencyError as exc:
                raise ValidationError({"currency": str(exc)}) from None


simple_history_register(AccountMapping, app="accounting", excluded_fields=["updated_at"])

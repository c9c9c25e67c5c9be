"""Provider payouts: money a provider sends to the bank.

Written by the webhook intake and the payout admin (`revenue.services.payout_upsert`);
reconciliation reads them to expect bank deposits, so they live beside the ledger,
not inside reconciliation. Change history via django-simple-history.
"""

import uuid

from django.db import models
from django.utils import timezone
from simple_history import register as simple_history_register

from ..money import format_money
from .configuration import Entity
from .ledger import RevenueEvent


class Payout(models.Model):
    """Money a provider sends to the bank: the expected bank deposit."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_TRANSIT = "in_transit", "In transit"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(max_length=16, choices=RevenueEvent.Provider.choices)
    payout_id = models.CharField(max_length=255)
    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="payouts")
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PAID)
    arrival_on = models.DateField(null=True, blank=True)
    statement_descriptor = models.CharField(max_length=255, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-arrival_on", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "payout_id"], name="revenue_payout_unique_provider_id"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} payout {self.payout_id} {format_money(self.amount_cents, self.currency)}"


simple_history_register(Payout, app="revenue", excluded_fields=["updated_at"])


class PayoutSettlement(models.Model):
    """One balance transaction an automatic Stripe payout settles, as Stripe's payout reconciliation
    report (`payout_reconciliation.itemized`) lists it: the report's own gross, fee and net.

    Keyed by the balance transaction (each settles in exactly one payout) and by the payout's id,
    not a foreign key: the report may be imported before the payouts export or the `payout.paid`
    webhook has created the Payout row. `ledger_keys` are the ledger event ids this transaction
    books under (the webhooks' canonical keys), so the tie-out finds its ledger rows in one query.
    """

    id = models.BigAutoField(primary_key=True)
    provider = models.CharField(max_length=16, choices=RevenueEvent.Provider.choices)
    payout_id = models.CharField(max_length=255)
    balance_transaction_id = models.CharField(max_length=255)
    reporting_category = models.CharField(max_length=64)
    currency = models.CharField(max_length=3)
    gross_cents = models.BigIntegerField()
    fee_cents = models.BigIntegerField()
    net_cents = models.BigIntegerField()
    source_id = models.CharField(max_length=255, blank=True, default="")
    description = models.CharField(max_length=500, blank=True, default="")
    occurred_at = models.DateTimeField()
    ledger_keys = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["occurred_at", "balance_transaction_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "balance_transaction_id"],
                name="revenue_payoutsettlement_unique_balance_transaction",
            ),
            models.CheckConstraint(
                condition=models.Q(net_cents=models.F("gross_cents") - models.F("fee_cents")),
                name="revenue_payoutsettlement_net_is_gross_minus_fee",
            ),
        ]
        indexes = [models.Index(fields=["provider", "payout_id"], name="revenue_payoutsettle_payout")]

    def __str__(self) -> str:
        return f"{self.balance_transaction_id} in {self.payout_id}: {format_money(self.net_cents, self.currency)}"

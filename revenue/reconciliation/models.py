"""Reconciliation: bank deposits against payouts and the ledger.

Imported deposits and expectations are never edited: a wrong one is flagged, a match is
undone, and every change leaves a ReconciliationAction. Tables keep the `revenue_` names.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from revenue.models.configuration import Entity
from revenue.models.ledger import RevenueEvent
from revenue.models.payouts import Payout
from revenue.money import format_money


class BankDeposit(models.Model):
    """A credit line of a bank statement. Imported, never edited: a wrong import is flagged, not changed.

    `dedupe_key` makes re-importing a statement add nothing: the bank's own reference (FITID,
    slip number) when there is one, else (date, amount, description, n-th occurrence in the file),
    so two identical lines are two deposits only when the statement really lists two.
    """

    class Format(models.TextChoices):
        GENERIC = "generic", "Generic CSV (date, description, amount / column mapping)"
        CHASE = "chase", "Chase business checking CSV"
        BOFA = "bofa", "Bank of America CSV"
        WELLS_FARGO = "wells_fargo", "Wells Fargo CSV"
        OFX = "ofx", "OFX / QFX"
        MANUAL = "manual", "Entered by hand"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="bank_deposits")
    posted_on = models.DateField(help_text="Posting date on the statement (the bank's own calendar day).")
    amount_cents = models.BigIntegerField(help_text="Positive, in the currency's minor unit.")
    currency = models.CharField(max_length=3, default="USD")
    description = models.CharField(max_length=500, blank=True, default="")
    bank_reference = models.CharField(max_length=255, blank=True, default="", help_text="FITID or check/slip #.")
    account = models.CharField(max_length=64, blank=True, default="", help_text="Bank account id, when known.")
    dedupe_key = models.CharField(max_length=400)
    source_format = models.CharField(max_length=20, choices=Format.choices, default=Format.GENERIC)
    statement_name = models.CharField(max_length=255, blank=True, default="")
    statement_line = models.PositiveIntegerField(null=True, blank=True)
    imported_at = models.DateTimeField(default=timezone.now, editable=False)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    flag_reason = models.CharField(max_length=255, blank=True, default="")
    flagged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-posted_on", "-imported_at"]
        indexes = [models.Index(fields=["entity", "posted_on"], name="revenue_bankdep_entity_posted")]
        constraints = [
            models.UniqueConstraint(fields=["entity", "dedupe_key"], name="revenue_bankdeposit_unique_dedupe_key"),
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="revenue_bankdeposit_credit_only"),
        ]

    def __str__(self) -> str:
        return f"{self.posted_on} {format_money(self.amount_cents, self.currency)} {self.description[:40]}"

    @property
    def amount_display(self) -> str:
        return format_money(self.amount_cents, self.currency)


class ExpectedDeposit(models.Model):
    """Money that should land in the bank: a paid provider payout, or a manual PO paid by wire/check."""

    class Source(models.TextChoices):
        STRIPE_PAYOUT = "stripe_payout", "Stripe payout"
        GUMROAD_PAYOUT = "gumroad_payout", "Gumroad payout"
        MANUAL_PAYOUT = "manual_payout", "Payout entered by hand"
        MANUAL = "manual", "Manual entry (wire/check)"

    class Status(models.TextChoices):
        OPEN = "open", "Expected"
        CANCELLED = "cancelled", "No longer expected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="expected_deposits")
    source = models.CharField(max_length=20, choices=Source.choices)
    payout = models.OneToOneField(
        Payout, null=True, blank=True, on_delete=models.PROTECT, related_name="expected_deposit"
    )
    event = models.OneToOneField(
        RevenueEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="expected_deposit"
    )
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    expected_on = models.DateField()
    reference = models.CharField(max_length=255, blank=True, default="")
    match_hints = models.JSONField(
        default=list, blank=True, help_text="Words a bank description should contain (STRIPE, a PO number, …)."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    cancelled_reason = models.CharField(max_length=255, blank=True, default="")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    flag_reason = models.CharField(max_length=255, blank=True, default="")
    flagged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-expected_on", "-created_at"]
        indexes = [models.Index(fields=["entity", "expected_on"], name="revenue_expdep_entity_on")]
        constraints = [
            models.CheckConstraint(
                condition=Q(payout__isnull=False, event__isnull=True) | Q(payout__isnull=True, event__isnull=False),
                name="revenue_expecteddeposit_one_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.reference} {format_money(self.amount_cents, self.currency)}"

    @property
    def amount_display(self) -> str:
        return format_money(self.amount_cents, self.currency)


class DepositMatch(models.Model):
    """A reconciliation: one or more expected deposits settled by one or more bank deposits.

    One-to-one is the usual case; a split (one payout paid as two deposits) or a
    bundle (two payouts landing as one deposit) is the same thing with more items.
    """

    class Method(models.TextChoices):
        AUTO = "auto", "Automatic"
        MANUAL = "manual", "Confirmed by a person"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        UNDONE = "undone", "Undone"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="deposit_matches")
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=10, choices=Method.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    expected_cents = models.BigIntegerField(help_text="Sum of the expected side when matched.")
    deposited_cents = models.BigIntegerField(help_text="Sum of the bank side when matched.")
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.TextField(blank=True, default="")
    flag_reason = models.CharField(max_length=255, blank=True, default="")
    flagged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deposit matches"

    def __str__(self) -> str:
        return f"{self.get_method_display()} match {format_money(self.deposited_cents, self.currency)}"

    @property
    def difference_cents(self) -> int:
        return self.deposited_cents - self.expected_cents


class DepositMatchItem(models.Model):
    """One side of a match. `active` mirrors the match so the database keeps each item in one live match."""

    match = models.ForeignKey(DepositMatch, on_delete=models.PROTECT, related_name="items")
    deposit = models.ForeignKey(
        BankDeposit, null=True, blank=True, on_delete=models.PROTECT, related_name="match_items"
    )
    expected = models.ForeignKey(
        ExpectedDeposit, null=True, blank=True, on_delete=models.PROTECT, related_name="match_items"
    )
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(deposit__isnull=False, expected__isnull=True)
                | Q(deposit__isnull=True, expected__isnull=False),
                name="revenue_depositmatchitem_one_side",
            ),
            models.UniqueConstraint(
                fields=["deposit"], condition=Q(active=True), name="revenue_depositmatchitem_deposit_once"
            ),
            models.UniqueConstraint(
                fields=["expected"], condition=Q(active=True), name="revenue_depositmatchitem_expected_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.deposit or self.expected}"


class ReconciliationAction(models.Model):
    """Audit trail: who did what to which deposit, expectation or match, and when. Never edited."""

    class Action(models.TextChoices):
        IMPORT = "import", "Statement imported"
        AUTO_MATCH = "auto_match", "Matched automatically"
        MATCH = "match", "Matched"
        UNMATCH = "unmatch", "Unmatched"
        FLAG = "flag", "Flagged"
        UNFLAG = "unflag", "Flag cleared"
        EXPECTATION_CANCELLED = "expectation_cancelled", "No longer expected"

    action = models.CharField(max_length=24, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when the system acted (auto-match, payout failure).",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    match = models.ForeignKey(DepositMatch, null=True, blank=True, on_delete=models.PROTECT, related_name="actions")
    deposit = models.ForeignKey(BankDeposit, null=True, blank=True, on_delete=models.PROTECT, related_name="actions")
    expected = models.ForeignKey(
        ExpectedDeposit, null=True, blank=True, on_delete=models.PROTECT, related_name="actions"
    )
    note = models.TextField(blank=True, default="")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"], name="revenue_reconact_created")]

    def __str__(self) -> str:
        who = self.actor or "system"
        return f"{self.get_action_display()} by {who} at {self.created_at:%Y-%m-%d %H:%M}"

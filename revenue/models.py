"""The ledger and what it needs: entities, rates, payouts and the outbox.

RevenueEvent is append-only. A correction is a new reversing row linked to the
row it reverses; with SAFE_MODE on the database itself refuses UPDATE/DELETE.
"""

import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history import register as simple_history_register

from .money import format_money

# The database's own bounds for a ledger time (see RevenueEvent.Meta.constraints).
OCCURRED_AT_FLOOR = datetime(1970, 1, 1, tzinfo=UTC)
OCCURRED_AT_CEILING = datetime(2200, 1, 1, tzinfo=UTC)


class Entity(models.Model):
    """A legal entity that receives money (A+ Enterprise LLC, Legacy Unchained Inc)."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=64, unique=True)
    is_default = models.BooleanField(
        default=False, help_text="Events with no entity hint are booked here. Exactly one entity is the default."
    )
    stripe_account_ids = models.JSONField(
        default=list, blank=True, help_text="Stripe Connect account ids (acct_…) whose events belong here."
    )
    gumroad_product_ids = models.JSONField(
        default=list, blank=True, help_text="Gumroad product ids / permalinks whose sales belong here."
    )
    aliases = models.JSONField(default=list, blank=True, help_text="Other names used in metadata and CSV files.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "entities"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="revenue_entity_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RevenueEvent(models.Model):
    """One money movement. `event_id` is the canonical key of the movement, not of a delivery."""

    class Provider(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        GUMROAD = "gumroad", "Gumroad"
        MANUAL = "manual", "Manual"

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"
        DISPUTE = "dispute", "Dispute"
        DISPUTE_REVERSAL = "dispute_reversal", "Dispute reversal"
        FEE = "fee", "Fee"
        ADJUSTMENT = "adjustment", "Adjustment"
        REVERSAL = "reversal", "Reversal"

    class FxSource(models.TextChoices):
        NONE = "", "No conversion"
        IDENTITY = "identity", "Reporting currency (rate 1)"
        STRIPE = "stripe_balance_transaction", "Stripe balance transaction"
        RATE_TABLE = "rate_table", "Rate table"

    class EntitySource(models.TextChoices):
        CONNECT_ACCOUNT = "connect_account", "Stripe Connect account"
        METADATA = "metadata", "Metadata"
        PRODUCT = "product", "Product mapping"
        EXPLICIT = "explicit", "Chosen by a person"
        DEFAULT = "default", "Default entity"
        UNRESOLVED = "unresolved", "Unresolved (booked to default)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_id = models.CharField(max_length=255, unique=True)
    provider = models.CharField(max_length=16, choices=Provider.choices)
    event_type = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PAYMENT)
    amount_cents = models.BigIntegerField(help_text="Signed, in the currency's minor unit (JPY has none, KWD has 3).")
    currency = models.CharField(max_length=3)
    amount_usd_cents = models.BigIntegerField(null=True, blank=True)
    fx_rate = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    fx_source = models.CharField(max_length=32, choices=FxSource.choices, default=FxSource.NONE, blank=True)
    customer_email = models.EmailField(max_length=254, null=True, blank=True)
    customer_id = models.CharField(max_length=255, null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="events")
    entity_source = models.CharField(max_length=20, choices=EntitySource.choices, default=EntitySource.DEFAULT)
    occurred_at = models.DateTimeField(help_text="When the money moved (provider time).")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    processed_at = models.DateTimeField(default=timezone.now)
    source_id = models.CharField(
        max_length=255, blank=True, default="", help_text="Provider object id (pi_, re_, sale id)."
    )
    parent_event_id = models.CharField(
        max_length=255,
        blank=True,
        default="",
        db_index=True,
        help_text="event_id of the sale a refund, dispute or fee belongs to (it may arrive later).",
    )
    reference = models.CharField(
        max_length=120, blank=True, default="", db_index=True, help_text="PO / contract number."
    )
    description = models.TextField(blank=True, default="")
    reverses = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        help_text="The row this row reverses (a correction).",
    )

    class Meta:
        db_table = "revenue_events"
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["occurred_at", "id"], name="revenue_ev_occurred_id"),
            models.Index(fields=["entity", "occurred_at"], name="revenue_ev_entity_occurred"),
            models.Index(fields=["provider", "occurred_at"], name="revenue_ev_provider_occurred"),
            models.Index(fields=["customer_email", "occurred_at"], name="revenue_ev_email_occurred"),
            models.Index(fields=["created_at"], name="revenue_ev_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind__in=["payment", "dispute_reversal"]) | Q(amount_cents__gte=0),
                name="revenue_revenueevent_credit_kinds_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["refund", "dispute", "fee"]) | Q(amount_cents__lte=0),
                name="revenue_revenueevent_debit_kinds_not_positive",
            ),
            models.CheckConstraint(
                condition=Q(kind="reversal", reverses__isnull=False) | ~Q(kind="reversal"),
                name="revenue_revenueevent_reversal_has_target",
            ),
            # The last line of defence behind the service's time window (LEDGER_EARLIEST_DATE ..
            # now + leeway): wide, so it never refuses a real row. NOT VALID in the database
            # (migration 0007): rows from before it stay readable, see revenue.db_types.
            models.CheckConstraint(
                condition=Q(occurred_at__gte=OCCURRED_AT_FLOOR, occurred_at__lt=OCCURRED_AT_CEILING),
                name="revenue_revenueevent_occurred_at_sane",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.amount_display}"

    @property
    def amount_display(self) -> str:
        return format_money(self.amount_cents, self.currency)


class RevenueDailyRollup(models.Model):
    """Sums of ledger rows per UTC calendar day, entity, provider, currency and kind.

    Derived data, written only by database triggers on `revenue_events` (migration
    0006): in the same statement and transaction as every insert, and every update,
    delete or truncate SAFE_MODE allows, whatever the path (services, bulk import,
    COPY, raw SQL). `revenue_totals` reads it for whole UTC days. Days are UTC, not
    business days, so the rollup does not depend on REVENUE_TIME_ZONE.
    """

    occurred_on_utc = models.DateField(help_text="UTC calendar date of occurred_at.")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=16)
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=20)
    credit_cents = models.BigIntegerField(default=0, help_text="Sum of the positive rows.")
    debit_cents = models.BigIntegerField(default=0, help_text="Sum of the negative rows (<= 0).")
    event_count = models.BigIntegerField(default=0)

    class Meta:
        db_table = "revenue_daily_rollup"
        constraints = [
            models.UniqueConstraint(
                fields=["occurred_on_utc", "entity", "provider", "currency", "kind"],
                name="revenue_revenuedailyrollup_one_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_on_utc} {self.entity_id} {self.provider} {self.currency} {self.kind}"


class ExchangeRate(models.Model):
    """Reporting-currency rate for a currency on a day, with where it came from."""

    currency = models.CharField(max_length=3)
    rate_on = models.DateField()
    usd_per_unit = models.DecimalField(max_digits=20, decimal_places=10)
    source = models.CharField(max_length=100, default="manual")

    class Meta:
        ordering = ["currency", "-rate_on"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "rate_on"], name="revenue_exchangerate_one_per_day"),
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.usd_per_unit} USD on {self.rate_on}"


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


class OutboxMessage(models.Model):
    """A fact announced in the same transaction as the fact itself.

    The integrations app delivers these (Slack, Notion, Atlas subscribers) from
    Celery; a rolled-back transaction never sends, and a broker outage never loses.
    """

    topic = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(dispatched_at__isnull=True), name="revenue_outbox_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"


# --- Reconciliation: bank deposits against payouts and the ledger -------------------------------


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


class LedgerAuditEntry(models.Model):
    """Who did what to the ledger, when, with the state before and after.

    Ledger rows never change, so "before/after" of a reversal or correction is
    the original row and the rows appended. Written in the same transaction as
    the action; read-only everywhere.
    """

    class Action(models.TextChoices):
        CREATE = "create", "Manual entry created"
        REVERSE = "reverse", "Reversed"
        CORRECT = "correct", "Corrected (reversal + new entry)"
        IMPORT = "import", "CSV import"
        ADMIN_ACTION = "admin_action", "Admin action"

    action = models.CharField(max_length=20, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True, default="", help_text="Kept if the user is deleted.")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    event = models.ForeignKey(
        RevenueEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_entries"
    )
    entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    summary = models.CharField(max_length=255)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "ledger audit entry"
        verbose_name_plural = "ledger audit trail"
        indexes = [models.Index(fields=["action", "at"], name="revenue_audit_action_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_username or 'system'}: {self.summary}"


class ImportJob(models.Model):
    """A large admin upload (ledger CSV or bank statement) imported by a worker, batch by batch.

    The file lives in the database (`ImportJobChunk`), not on the web server's disk: on
    Railway the web and worker services share PostgreSQL, never a filesystem. Counters are
    updated after every batch; `cancel_requested` is honoured between batches.
    """

    class Kind(models.TextChoices):
        LEDGER = "ledger", "Ledger CSV"
        BANK = "bank", "Bank statement"

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Finished"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.DONE, Status.FAILED, Status.CANCELLED)

    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=120, blank=True, default="")
    file_name = models.CharField(max_length=255)
    file_size_bytes = models.BigIntegerField(default=0)
    # ledger: {"format": "generic"|"stripe"|"gumroad", "entity_id": int|None};
    # bank: {"layout": ..., "entity_id": int, "currency": "USD", "mapping": {...}|None}
    options = models.JSONField(default=dict, blank=True)
    entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    booked = models.PositiveIntegerField(default=0, help_text="Ledger entries or bank deposits added.")
    skipped = models.PositiveIntegerField(default=0, help_text="Already imported, or no money moved.")
    error_count = models.PositiveIntegerField(default=0)
    # The first errors, each {"row": n, "column": "...", "message": "..."}; error_count has them all.
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True, default="")
    cancel_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "background import"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.file_name} ({self.get_status_display()})"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total_rows:
            return 0
        return min(100, self.rows_done * 100 // self.total_rows)


class ImportJobChunk(models.Model):
    """One piece (about 1 MiB) of an uploaded file, read back in order by the worker."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="revenue_importjobchunk_unique_seq")]

    def __str__(self) -> str:
        return f"import job {self.job_id}, chunk {self.seq}"


# Configuration tables keep a full change history (who, when, before/after) via django-simple-history.
simple_history_register(Entity, app=__package__, excluded_fields=["created_at"])
simple_history_register(ExchangeRate, app=__package__)
simple_history_register(Payout, app=__package__, excluded_fields=["updated_at"])

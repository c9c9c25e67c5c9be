"""The ledger: one row per money movement, and its per-day rollup.

RevenueEvent is append-only. A correction is a new reversing row linked to the
row it reverses; with SAFE_MODE on the database itself refuses UPDATE/DELETE.
"""

import uuid
from datetime import UTC, datetime

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from ..money import format_money
from .configuration import Entity

# The database's own bounds for a ledger time (see RevenueEvent.Meta.constraints).
OCCURRED_AT_FLOOR = datetime(1970, 1, 1, tzinfo=UTC)
OCCURRED_AT_CEILING = datetime(2200, 1, 1, tzinfo=UTC)


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
            # revenue.duplicates: a new payment's twins (same customer, amount, currency, near in time)
            # by index probes, not a join over the ledger.
            models.Index(
                Lower("customer_email"),
                "amount_cents",
                "currency",
                "occurred_at",
                condition=Q(kind="payment"),
                name="revenue_ev_dup_email",
            ),
            models.Index(
                "customer_id",
                "amount_cents",
                "currency",
                "occurred_at",
                condition=Q(kind="payment"),
                name="revenue_ev_dup_customer",
            ),
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

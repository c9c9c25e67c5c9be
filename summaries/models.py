"""Revenue summaries: one snapshot per (period, start_date, entity); entity NULL means all entities.

Keeps the specified `revenue_summaries` columns (id, period, start_date, end_date,
total_amount_cents, event_count, entity, created_at) and adds what a digest needs.
Money columns outside the JSON breakdowns are in the reporting currency
(`currency`, USD), converted at the rate stated on each ledger row; the exact
per-currency figures, and the rates used, live in `by_currency` and `fx`.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from revenue.models import Entity
from revenue.periods import Cadence


class RevenueSummary(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The cadence (revenue.periods.Cadence). The field keeps the spec's column name `period`
    # (renaming only the attribute would need a state-only migration for no behaviour change).
    period = models.CharField(max_length=10, choices=Cadence.choices)
    start_date = models.DateField(help_text="First business day of the period (America/Chicago).")
    end_date = models.DateField(help_text="Last business day of the period, inclusive.")
    entity = models.ForeignKey(
        Entity,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="summaries",
        help_text="Empty: all entities together.",
    )
    total_amount_cents = models.BigIntegerField(
        default=0, help_text="Net in the reporting currency, converted at the rates stated on the ledger rows."
    )
    event_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Extensions beyond the specified table:
    currency = models.CharField(max_length=3, default="USD", help_text="Reporting currency of the *_cents columns.")
    # The money buckets (revenue.selectors.buckets, docs/numbers.md).
    payments_cents = models.BigIntegerField(default=0, help_text="Payments.")
    refunds_cents = models.BigIntegerField(default=0, help_text="Refunds (negative).")
    disputes_cents = models.BigIntegerField(default=0, help_text="Money lost to disputes (negative).")
    disputes_won_cents = models.BigIntegerField(default=0, help_text="Disputed money given back (positive).")
    fees_cents = models.BigIntegerField(default=0, help_text="Processor fees, when known (negative).")
    adjustments_cents = models.BigIntegerField(default=0, help_text="Adjustments and reversals.")
    net_cents = models.BigIntegerField(default=0)
    payment_count = models.PositiveIntegerField(default=0)
    gumroad_fees_unknown = models.BooleanField(
        default=False, help_text="A Gumroad sale in the period has no fee row yet: fees_cents leaves it out."
    )
    average_transaction_cents = models.BigIntegerField(
        null=True, blank=True, help_text="Payments / number of payments, in the reporting currency."
    )
    unconverted_event_count = models.PositiveIntegerField(
        default=0, help_text="Rows with no stated rate: in by_currency, not in the reporting-currency columns."
    )
    by_currency = models.JSONField(default=dict, blank=True)
    by_provider = models.JSONField(default=dict, blank=True)
    by_kind = models.JSONField(default=dict, blank=True)
    by_entity = models.JSONField(default=dict, blank=True)
    fx = models.JSONField(default=dict, blank=True, help_text="Per currency: the rates and sources used.")
    as_of = models.DateTimeField(default=timezone.now, help_text="When these figures were computed.")
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_snapshot = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per currency net and event count last reported; late events are measured against it.",
    )
    amended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "revenue_summaries"
        verbose_name_plural = "revenue summaries"
        ordering = ["-start_date", "period"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "start_date", "entity"],
                condition=Q(entity__isnull=False),
                name="summaries_revenuesummary_one_per_entity",
            ),
            models.UniqueConstraint(
                fields=["period", "start_date"],
                condition=Q(entity__isnull=True),
                name="summaries_revenuesummary_one_for_all",
            ),
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")), name="summaries_revenuesummary_ends_after_start"
            ),
        ]
        indexes = [
            models.Index(fields=["period", "sent_at"], name="summaries_period_sent"),
        ]

    def __str__(self) -> str:
        scope = self.entity.name if self.entity_id else "All entities"
        return f"{self.get_period_display()} {self.start_date} ({scope})"

    @property
    def is_sent(self) -> bool:
        return self.sent_at is not None

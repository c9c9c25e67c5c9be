"""Alerts: one condition raises one alert (fingerprint), with a lifecycle."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from revenue.models import Entity, RevenueEvent
from revenue.money import CurrencyError, format_money, normalize_currency


class RevenueAlert(models.Model):
    class AlertType(models.TextChoices):
        THRESHOLD = "threshold", "Threshold"
        ANOMALY = "anomaly", "Anomaly"
        DUPLICATE = "duplicate", "Duplicate"
        SILENCE = "silence", "Webhook silence"
        RECONCILIATION = "reconciliation", "Reconciliation"
        ENTITY = "entity", "Unresolved entity"
        INGESTION = "ingestion", "Ingestion failure"
        DELIVERY = "delivery", "Delivery failure"
        LOCKED_PERIOD = "locked_period", "Late row for a locked period"

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    ACTIVE_STATUSES = (Status.OPEN, Status.ACKNOWLEDGED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    alert_type = models.CharField(max_length=20, choices=AlertType.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    message = models.TextField()
    metadata = models.JSONField(default=dict, blank=True)
    resolved = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Extensions beyond the specified table:
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    fingerprint = models.CharField(max_length=255, help_text="One condition, one alert: the condition's identity.")
    entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts")
    occurrences = models.PositiveIntegerField(default=1)
    last_seen_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution_note = models.TextField(blank=True, default="")
    acknowledge_note = models.TextField(blank=True, default="")
    rule = models.ForeignKey(
        "AlertRule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
        help_text="The custom rule that raised it, if any.",
    )

    class Meta:
        db_table = "revenue_alerts"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=Q(status__in=["open", "acknowledged"]),
                name="alerts_revenuealert_one_active_per_fingerprint",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "severity", "created_at"], name="alerts_status_sev_created"),
            models.Index(fields=["rule", "created_at"], name="alerts_rule_created"),
        ]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.message[:80]}"


class AlertRule(models.Model):
    """A custom rule, edited in admin. Scope fields left blank mean "any".

    The rule looks at the ledger rows matching its scope (entity, provider,
    currency) and raises at most `max_alerts_per_day` new alerts a business day.
    """

    class Kind(models.TextChoices):
        DAILY_ABOVE = "daily_above", "Daily net revenue above an amount"
        DAILY_BELOW = "daily_below", "Daily net revenue below an amount"
        TRANSACTION_ABOVE = "transaction_above", "Single transaction above an amount"
        REFUND_RATE_ABOVE = "refund_rate_above", "Refund rate above a percentage"
        DISPUTE_RATE_ABOVE = "dispute_rate_above", "Dispute rate above a percentage"
        SILENCE = "silence", "No events for N hours when events are expected"

    AMOUNT_KINDS = (Kind.DAILY_ABOVE, Kind.DAILY_BELOW, Kind.TRANSACTION_ABOVE)
    RATE_KINDS = (Kind.REFUND_RATE_ABOVE, Kind.DISPUTE_RATE_ABOVE)

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    is_active = models.BooleanField(default=True)
    severity = models.CharField(
        max_length=10, choices=RevenueAlert.Severity.choices, default=RevenueAlert.Severity.WARNING
    )
    # Scope: blank means any.
    entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules")
    provider = models.CharField(max_length=16, choices=RevenueEvent.Provider.choices, blank=True, default="")
    currency = models.CharField(
        max_length=3, blank=True, default="", help_text="ISO 4217. Required for amount rules (amounts have a currency)."
    )
    # Parameters (which ones apply depends on the kind; see clean()).
    amount_cents = models.BigIntegerField(
        null=True, blank=True, help_text="Threshold in the currency's minor unit (cents; JPY has none)."
    )
    rate_percent = models.DecimalField(
        max_digits=6, decimal_places=2, null=True, blank=True, help_text="e.g. 1.50 for 1.5 %."
    )
    window_days = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(366)], help_text="Rate rules: business days."
    )
    silence_hours = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(24 * 14)]
    )
    weekdays = models.JSONField(
        default=list,
        blank=True,
        help_text="Daily and silence rules: business weekdays they apply on (0 = Monday … 6 = Sunday); empty = all.",
    )
    active_from_hour = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(23)],
        help_text="Silence: expected from this hour (Central).",
    )
    active_to_hour = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(24)], help_text="Silence: … until this hour (exclusive)."
    )
    expect_from_baseline = models.BooleanField(
        default=True,
        help_text="Silence: expect events only when the same hours of the trailing 8 same weekdays usually had some.",
    )
    minimum_events = models.PositiveIntegerField(
        default=0, help_text="Rate rules: payments needed in the window before the rule applies."
    )
    max_alerts_per_day = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1)], help_text="New alerts this rule may raise per business day."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind__in=["daily_above", "daily_below", "transaction_above"])
                | (Q(amount_cents__isnull=False) & ~Q(currency="")),
                name="alerts_alertrule_amount_kinds_have_amount",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["refund_rate_above", "dispute_rate_above"]) | Q(rate_percent__isnull=False),
                name="alerts_alertrule_rate_kinds_have_rate",
            ),
            models.CheckConstraint(
                condition=~Q(kind="silence") | Q(silence_hours__isnull=False),
                name="alerts_alertrule_silence_has_hours",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.currency:
            try:
                self.currency = normalize_currency(self.currency)
            except CurrencyError as exc:
                errors["currency"] = str(exc)
        if self.kind in self.AMOUNT_KINDS:
            if self.amount_cents is None:
                errors["amount_cents"] = "An amount rule needs an amount."
            elif self.amount_cents < 0:
                errors["amount_cents"] = "Give the amount as a positive number."
            if not self.currency:
                errors.setdefault(
                    "currency", "An amount rule needs a currency: amounts are never summed across currencies."
                )
        if self.kind in self.RATE_KINDS:
            if self.rate_percent is None:
                errors["rate_percent"] = "A rate rule needs a percentage."
            elif not (0 < self.rate_percent <= 100):
                errors["rate_percent"] = "Give a percentage between 0 and 100."
        if self.kind == self.Kind.SILENCE and not self.silence_hours:
            errors["silence_hours"] = "A silence rule needs a number of hours."
        if not isinstance(self.weekdays, list) or any(
            not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6 for day in self.weekdays
        ):
            errors["weekdays"] = "A list of weekday numbers, 0 = Monday … 6 = Sunday, e.g. [0, 1, 2, 3, 4]."
        if (self.active_from_hour is None) != (self.active_to_hour is None):
            errors["active_to_hour"] = "Give both hours or neither."
        elif self.active_from_hour is not None and self.active_from_hour >= self.active_to_hour:
            errors["active_to_hour"] = "The end hour must be after the start hour."
        if errors:
            raise ValidationError(errors)

    @property
    def scope_label(self) -> str:
        parts = [
            self.entity.name if self.entity_id else "all entities",
            self.get_provider_display() if self.provider else "all providers",
        ]
        if self.currency:
            parts.append(self.currency)
        return ", ".join(parts)

    @property
    def threshold_label(self) -> str:
        if self.kind in self.AMOUNT_KINDS and self.amount_cents is not None and self.currency:
            return format_money(self.amount_cents, self.currency)
        if self.kind in self.RATE_KINDS and self.rate_percent is not None:
            return f"{self.rate_percent}% over {self.window_days} day{'s' if self.window_days != 1 else ''}"
        if self.kind == self.Kind.SILENCE and self.silence_hours:
            return f"{self.silence_hours} h without events"
        return ""

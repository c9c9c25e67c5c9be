"""Alerts: one condition raises one alert (fingerprint), with a lifecycle."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from revenue.models import Entity


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
        indexes = [models.Index(fields=["status", "severity", "created_at"], name="alerts_status_sev_created")]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.message[:80]}"

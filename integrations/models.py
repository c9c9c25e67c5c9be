"""What crosses the boundary: the outbound delivery log (inbound raw deliveries live beside it)."""

from django.db import models
from django.utils import timezone

from revenue.models import OutboxMessage


class Delivery(models.Model):
    """One outbox message sent (or being sent) to one target on one channel."""

    class Channel(models.TextChoices):
        SLACK = "slack", "Slack"
        NOTION = "notion", "Notion"
        ATLAS = "atlas", "Atlas subscriber"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (gave up)"
        DISABLED = "disabled", "Target disabled (410)"

    message = models.ForeignKey(OutboxMessage, on_delete=models.PROTECT, related_name="deliveries")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    target = models.CharField(max_length=500, help_text="Where it goes: a URL, a database id or a subscription id.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    external_id = models.CharField(max_length=255, blank=True, default="", help_text="e.g. the Notion page id.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker is sending it until then (a crashed worker's lease expires)."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "channel", "target"], name="integrations_delivery_once_per_target"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} -> {self.target} ({self.status})"

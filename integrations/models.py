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


class InboundDelivery(models.Model):
    """One verified webhook delivery, kept verbatim before anything is mapped.

    Unique per (provider, event_id): Stripe's `evt_…` id, or Gumroad's
    `{sale_id}:{resource_name}`. Never deduplicated on a body hash (Gumroad
    retries add `retry_count`). Linked to the ledger rows it produced or confirmed.
    """

    class Provider(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        GUMROAD = "gumroad", "Gumroad"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received (not yet processed)"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (test or unknown type)"
        FAILED = "failed", "Failed (kept for reprocessing)"

    provider = models.CharField(max_length=16, choices=Provider.choices)
    event_id = models.CharField(max_length=255, help_text="Provider event id (evt_…) or Gumroad sale_id:resource_name.")
    event_type = models.CharField(max_length=100, blank=True, default="")
    raw_body = models.TextField(help_text="The body exactly as received (after verification).")
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    ledger_events = models.ManyToManyField(
        "revenue.RevenueEvent", blank=True, related_name="inbound_deliveries", help_text="Ledger rows it produced."
    )

    class Meta:
        verbose_name_plural = "inbound deliveries"
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="integrations_inbounddelivery_once"),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="integrations_inbound_status"),
            models.Index(fields=["received_at"], name="integrations_inbound_received"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id} ({self.status})"

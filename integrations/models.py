"""What crosses the boundary: the outbound delivery log (inbound raw deliveries live beside it)."""

import uuid

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


class ApiKey(models.Model):
    """An Atlas client's credential. Only the SHA-256 of the key is stored; the key is shown once."""

    class Scope(models.TextChoices):
        READ = "read", "Read revenue data"
        SUBSCRIBE = "subscribe", "Manage webhook subscriptions"

    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=16, unique=True, editable=False, help_text="First characters, to recognise a key."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False, help_text="sha256 hex of the full key.")
    scopes = models.JSONField(default=list, help_text="Any of: read, subscribe.")
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        # "Atlas", beside dj-stripe's own "API keys" (Stripe's secret keys) in the same admin.
        verbose_name = "Atlas API key"
        verbose_name_plural = "Atlas API keys"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_active_at(self, instant) -> bool:
        if self.revoked_at is not None and self.revoked_at <= instant:
            return False
        return self.expires_at is None or self.expires_at > instant


class WebhookSubscription(models.Model):
    """An Atlas endpoint that wants outbox topics, signed per the Standard Webhooks spec."""

    class EventType(models.TextChoices):
        EVENT_RECORDED = "revenue.event.recorded", "Ledger event recorded"
        SUMMARY_DAILY = "summary.daily", "Daily summary"
        SUMMARY_WEEKLY = "summary.weekly", "Weekly summary"
        SUMMARY_MONTHLY = "summary.monthly", "Monthly summary"
        ALERT_RAISED = "alert.raised", "Alert raised"
        THRESHOLD_CROSSED = "threshold.crossed", "Single event at or above a threshold"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"
        DELETED = "deleted", "Deleted by the client"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=500)
    event_types = models.JSONField(default=list)
    secret = models.CharField(max_length=100, editable=False, help_text="whsec_… signing secret.")
    threshold_amount_cents = models.BigIntegerField(null=True, blank=True)
    threshold_currency = models.CharField(max_length=3, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    disabled_reason = models.CharField(max_length=255, blank=True, default="")
    created_by = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="subscriptions"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(threshold_amount_cents__isnull=True) & models.Q(threshold_currency=""))
                | (models.Q(threshold_amount_cents__gt=0) & ~models.Q(threshold_currency="")),
                name="integrations_webhooksubscription_threshold_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.url} ({self.status})"

"""The transactional outbox: facts announced in the same transaction as the fact itself."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


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

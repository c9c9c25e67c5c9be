"""The ledger audit trail: who did what to the ledger, written in the same transaction."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .configuration import Entity
from .ledger import RevenueEvent


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
        LOCK_DATE = "lock_date", "Lock date set or moved"

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

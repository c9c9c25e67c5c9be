"""Alert lifecycle: raise (deduplicated by fingerprint), acknowledge, resolve, dismiss."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from revenue.models import Entity
from revenue.outbox import outbox_publish

from .models import RevenueAlert

TOPIC_ALERT_RAISED = "alert.raised"


def _alert_payload(alert: RevenueAlert) -> dict:
    return {
        "id": str(alert.id),
        "alert_type": alert.alert_type,
        "severity": alert.severity,
        "message": alert.message,
        "metadata": alert.metadata,
        "entity": alert.entity.slug if alert.entity else None,
        "fingerprint": alert.fingerprint,
        "created_at": alert.created_at.isoformat(),
    }


@transaction.atomic
def alert_raise(
    *,
    alert_type: str,
    severity: str,
    message: str,
    fingerprint: str,
    metadata: dict | None = None,
    entity: Entity | None = None,
) -> tuple[RevenueAlert, bool]:
    """Raise an alert, or update the active one with the same fingerprint.

    Returns (alert, created). Only a newly raised alert is announced (outbox
    `alert.raised`), so a lasting condition is one message, not a stream.
    """
    now = timezone.now()
    active = (
        RevenueAlert.objects.select_for_update()
        .filter(fingerprint=fingerprint, status__in=RevenueAlert.ACTIVE_STATUSES)
        .first()
    )
    if active is None:
        try:
            with transaction.atomic():
                alert = RevenueAlert.objects.create(
                    alert_type=alert_type,
                    severity=severity,
                    message=message,
                    fingerprint=fingerprint,
                    metadata=metadata or {},
                    entity=entity,
                    created_at=now,
                    last_seen_at=now,
                )
        except IntegrityError:  # raced with another raiser of the same condition
            active = RevenueAlert.objects.select_for_update().get(
                fingerprint=fingerprint, status__in=RevenueAlert.ACTIVE_STATUSES
            )
        else:
            outbox_publish(topic=TOPIC_ALERT_RAISED, payload=_alert_payload(alert))
            return alert, True
    active.occurrences += 1
    active.last_seen_at = now
    active.message = message
    active.metadata = {**active.metadata, **(metadata or {})}
    if _severity_rank(severity) > _severity_rank(active.severity):
        active.severity = severity
    active.save(update_fields=["occurrences", "last_seen_at", "message", "metadata", "severity"])
    return active, False


def _severity_rank(severity: str) -> int:
    return [RevenueAlert.Severity.INFO, RevenueAlert.Severity.WARNING, RevenueAlert.Severity.CRITICAL].index(severity)


@transaction.atomic
def alert_acknowledge(*, alert: RevenueAlert, user=None) -> RevenueAlert:
    if alert.status == RevenueAlert.Status.OPEN:
        alert.status = RevenueAlert.Status.ACKNOWLEDGED
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = user
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
    return alert


@transaction.atomic
def alert_close(*, alert: RevenueAlert, status: str, user=None, note: str = "") -> RevenueAlert:
    """Resolve or dismiss. A recurrence of the condition then raises a new alert."""
    if status not in (RevenueAlert.Status.RESOLVED, RevenueAlert.Status.DISMISSED):
        raise ValueError(f"cannot close an alert as '{status}'")
    alert.status = status
    alert.resolved = True
    alert.resolved_at = timezone.now()
    alert.resolved_by = user
    alert.resolution_note = note
    alert.save(update_fields=["status", "resolved", "resolved_at", "resolved_by", "resolution_note"])
    return alert

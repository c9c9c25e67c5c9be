"""The ledger audit trail: who did what, when, with the state before and after.

Written by the services that act for a person (manual entry, correction,
reversal, import), inside the same transaction as the action itself.
"""

from __future__ import annotations

from django.db import transaction

from .models import Entity, LedgerAuditEntry, RevenueEvent


def event_snapshot(event: RevenueEvent) -> dict:
    """The audit view of a ledger row: enough to tell what it said without the row."""
    return {
        "id": str(event.id),
        "event_id": event.event_id,
        "provider": event.provider,
        "kind": event.kind,
        "amount_cents": event.amount_cents,
        "currency": event.currency,
        "entity": event.entity.slug,
        "occurred_at": event.occurred_at.isoformat(),
        "customer_email": event.customer_email,
        "reference": event.reference,
        "description": event.description,
        "reverses": event.reverses.event_id if event.reverses_id else None,
        "metadata": event.metadata,
    }


@transaction.atomic
def ledger_audit_record(
    *,
    action: str,
    summary: str,
    actor=None,
    event: RevenueEvent | None = None,
    entity: Entity | None = None,
    before: dict | None = None,
    after: dict | None = None,
    metadata: dict | None = None,
) -> LedgerAuditEntry:
    if action not in LedgerAuditEntry.Action.values:
        raise ValueError(f"unknown audit action '{action}'")
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return LedgerAuditEntry.objects.create(
        action=action,
        actor=user,
        actor_username=user.get_username() if user else "",
        event=event,
        entity=entity or (event.entity if event is not None else None),
        summary=summary[:255],
        before=before,
        after=after,
        metadata=metadata or {},
    )

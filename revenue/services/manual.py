"""Money entered by a person: offline contracts and purchase orders, corrections, reversals.

A manual entry is an ordinary ledger row (provider `manual`) written through
`revenue_event_record`, plus an audit entry in the same transaction. The
PO / contract number is unique per entity among entries that have not been
reversed, so a correction (reversal + new entry) can reuse the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet

from ..audit import event_snapshot, ledger_audit_record
from ..business_time import business_local, business_today, business_zone
from ..entries import EXPECTS_BANK_DEPOSIT, LedgerEntry
from ..errors import ApplicationError, Conflict
from ..models import Entity, LedgerAuditEntry, RevenueEvent
from ..money import CurrencyError, format_money, normalize_currency
from .ledger import revenue_event_lock, revenue_event_record, revenue_event_reverse
from .locks import effective_instant

if TYPE_CHECKING:  # auth models import at type-check time only: no app-loading order change
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    # Who acts: request.user in the admin, or None (a script).
    Actor = AbstractBaseUser | AnonymousUser | None

MANUAL_EVENT_TYPE = "offline_payment"
MANUAL_SOURCE = "manual:form"
# A business date becomes an instant at local noon: never near midnight, so it
# lands on the stated day whatever the DST offset.
RECEIVED_AT_LOCAL_TIME = time(12, 0)


MANUAL_KINDS = (RevenueEvent.Kind.PAYMENT, RevenueEvent.Kind.ADJUSTMENT)


@dataclass(frozen=True)
class ManualEntryData:
    entity: Entity
    reference: str
    amount_cents: int
    currency: str
    received_on: date
    customer_email: str = ""
    customer_name: str = ""
    description: str = ""
    expects_bank_deposit: bool = True
    # What the money is: a customer's payment (the form), or other income booked from a bank deposit.
    kind: str = RevenueEvent.Kind.PAYMENT


@dataclass(frozen=True)
class Correction:
    reversal: RevenueEvent
    replacement: RevenueEvent


def received_on_to_instant(received_on: date) -> datetime:
    """Business date -> the UTC instant booked for it (local noon, America/Chicago by default)."""
    return datetime.combine(received_on, RECEIVED_AT_LOCAL_TIME, tzinfo=business_zone()).astimezone(UTC)


def active_manual_entries(*, entity: Entity, reference: str) -> QuerySet[RevenueEvent]:
    """Manual payments with this PO / contract number that have not been reversed."""
    return RevenueEvent.objects.filter(
        entity=entity,
        provider=RevenueEvent.Provider.MANUAL,
        reference__iexact=reference.strip(),
        reversed_by__isnull=True,
    ).exclude(kind=RevenueEvent.Kind.REVERSAL)


def _validate(data: ManualEntryData) -> str:
    reference = data.reference.strip()
    if not reference:
        raise ApplicationError("A PO / contract number is required", code="reference_required")
    try:
        currency = normalize_currency(data.currency)
    except CurrencyError as exc:
        raise ApplicationError(str(exc), code="invalid_currency") from None
    if data.kind not in MANUAL_KINDS:
        raise ApplicationError(
            f"A manual entry is a payment or an adjustment, not '{data.kind}'", code="invalid_manual_kind"
        )
    if isinstance(data.amount_cents, bool) or not isinstance(data.amount_cents, int) or data.amount_cents <= 0:
        raise ApplicationError("The amount received must be more than zero", code="invalid_amount")
    if data.received_on > business_today():
        raise ApplicationError("The date received cannot be in the future", code="future_date")
    return currency


def _record(*, data: ManualEntryData, actor: Actor, extra_metadata: dict[str, Any] | None = None) -> RevenueEvent:
    currency = _validate(data)
    reference = data.reference.strip()
    # Serialise manual entries per entity so the PO-uniqueness check cannot race.
    Entity.objects.select_for_update().filter(pk=data.entity.pk).first()
    clash = active_manual_entries(entity=data.entity, reference=reference).first()
    if clash is not None:
        raise Conflict(
            f"PO / contract number '{reference}' is already recorded for {data.entity.name} "
            f"({clash.amount_display} on {business_local(clash.occurred_at):%Y-%m-%d}). "
            "Use Correct on that entry instead of recording it twice.",
            code="duplicate_reference",
        )
    # v1, v2, ... per correction: readable, and a double-submitted form collides on the unique event_id.
    version = (
        RevenueEvent.objects.filter(
            entity=data.entity, provider=RevenueEvent.Provider.MANUAL, reference__iexact=reference
        )
        .exclude(kind=RevenueEvent.Kind.REVERSAL)
        .count()
        + 1
    )
    event_id = f"manual:{data.entity.slug}:{reference}" + (f":v{version}" if version > 1 else "")
    metadata = {
        "source": MANUAL_SOURCE,
        "customer_name": data.customer_name.strip(),
        EXPECTS_BANK_DEPOSIT: bool(data.expects_bank_deposit),
        "received_on": data.received_on.isoformat(),
        "entered_by": actor.get_username() if actor is not None and actor.is_authenticated else "",
        **(extra_metadata or {}),
    }
    result = revenue_event_record(
        entry=LedgerEntry(
            event_id=event_id,
            provider=RevenueEvent.Provider.MANUAL,
            event_type=MANUAL_EVENT_TYPE,
            kind=data.kind,
            amount_cents=data.amount_cents,
            currency=currency,
            occurred_at=received_on_to_instant(data.received_on),
            customer_email=data.customer_email.strip().lower() or None,
            metadata=metadata,
            source_id=reference,
            reference=reference,
            description=data.description.strip(),
        ),
        entity=data.entity,
    )
    if not result.created:
        raise Conflict(f"Entry '{event_id}' already exists", code="duplicate_reference")
    return result.event


@transaction.atomic
def manual_entry_create(
    *, data: ManualEntryData, actor: Actor = None, extra_metadata: dict[str, Any] | None = None
) -> RevenueEvent:
    """Record an offline payment (contract, purchase order) as a provider `manual` ledger row."""
    event = _record(data=data, actor=actor, extra_metadata=extra_metadata)
    ledger_audit_record(
        action=LedgerAuditEntry.Action.CREATE,
        actor=actor,
        event=event,
        summary=f"Recorded {event.amount_display} ({event.reference}) for {event.entity.name}",
        after=event_snapshot(event),
    )
    return event


@transaction.atomic
def revenue_event_reverse_by_user(
    *, event: RevenueEvent, reason: str, actor: Actor = None, effective_on: date | None = None
) -> RevenueEvent:
    """A person reverses a ledger row: the reversing row and its audit entry, in one transaction.

    The reversal is dated `effective_on` (business date), by default in the period of the row it
    reverses (`locks.default_effective_day`); a day in a locked period is refused.

    The audited, person-initiated form of the system primitive `revenue_event_reverse`
    (which webhooks use for provider-side reversals and which writes no audit entry).
    """
    reason = reason.strip()
    if not reason:
        raise ApplicationError("A reason is required to reverse an entry", code="reason_required")
    event = revenue_event_lock(event=event)
    reversal = revenue_event_reverse(
        event=event,
        reason=reason,
        occurred_at=effective_instant(event, effective_on),
        metadata={"reversed_by": actor.get_username() if actor is not None and actor.is_authenticated else ""},
    )
    ledger_audit_record(
        action=LedgerAuditEntry.Action.REVERSE,
        actor=actor,
        event=event,
        summary=f"Reversed {event.event_id} ({event.amount_display}): {reason}",
        before=event_snapshot(event),
        after=event_snapshot(reversal),
        metadata={"reason": reason, "reversal_event_id": reversal.event_id},
    )
    return reversal


@transaction.atomic
def manual_entry_correct(
    *, event: RevenueEvent, data: ManualEntryData, reason: str, actor: Actor = None, effective_on: date | None = None
) -> Correction:
    """Correct a manual entry in one step: reverse it and record the corrected entry.

    The reversal is dated as `revenue_event_reverse_by_user` dates one; the corrected entry on its
    own date received.
    Both rows and the audit entry commit together or not at all.
    """
    reason = reason.strip()
    if not reason:
        raise ApplicationError("A reason is required to correct an entry", code="reason_required")
    original = revenue_event_lock(event=event)
    if original.provider != RevenueEvent.Provider.MANUAL or original.kind != RevenueEvent.Kind.PAYMENT:
        raise ApplicationError(
            "Only manual payments can be corrected here; reverse provider rows instead", code="not_correctable"
        )
    if RevenueEvent.objects.filter(reverses=original).exists():
        raise Conflict(f"{original.event_id} has already been reversed", code="already_reversed")
    username = actor.get_username() if actor is not None and actor.is_authenticated else ""
    reversal = revenue_event_reverse(
        event=original,
        reason=f"Corrected: {reason}",
        occurred_at=effective_instant(original, effective_on),
        metadata={"reversed_by": username, "correction": True},
    )
    replacement = _record(data=data, actor=actor, extra_metadata={"corrects": original.event_id})
    ledger_audit_record(
        action=LedgerAuditEntry.Action.CORRECT,
        actor=actor,
        event=original,
        summary=(
            f"Corrected {original.event_id}: {original.amount_display} -> "
            f"{format_money(replacement.amount_cents, replacement.currency)} ({reason})"
        ),
        before=event_snapshot(original),
        after={"reversal": event_snapshot(reversal), "replacement": event_snapshot(replacement)},
        metadata={"reason": reason},
    )
    return Correction(reversal=reversal, replacement=replacement)

"""Lock dates: an entity's books closed through a business date, as in Xero.

No row may take an effective date (the business date of `occurred_at`) on or before its
entity's lock date. What happens to one that would depends on who sends it:

- a person (a manual entry, a correction, a reversal, a file import) is refused with a
  sentence naming the lock date and who set it (`PeriodLocked`);
- a provider's late event (a webhook) cannot be refused, the money moved: it is booked on
  the entity's first open day and keeps its own time under `TRUE_OCCURRED_AT`; the per-write
  alert checks raise an alert for it.

Setting or moving a lock date needs the `revenue.change_lock_date` permission and is audited
(the entity's change history and the ledger audit trail).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from ..audit import ledger_audit_record
from ..business_time import business_date_of, business_local, day_start
from ..entries import TRUE_OCCURRED_AT, LedgerEntry
from ..errors import ApplicationError
from ..models import Entity, LedgerAuditEntry, RevenueEvent

if TYPE_CHECKING:
    from .manual import Actor

# Providers whose rows report money that already moved: a late one is moved, never refused.
PROVIDERS_BOOKED_LATE = (RevenueEvent.Provider.STRIPE, RevenueEvent.Provider.GUMROAD)
PERMISSION = "revenue.change_lock_date"


class PeriodLocked(ApplicationError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="period_locked")


def is_locked(entity: Entity, day: date) -> bool:
    """True when `day` (a business date) is on or before the entity's lock date."""
    return entity.lock_date is not None and day <= entity.lock_date


def first_open_day(entity: Entity) -> date | None:
    """The first business date after the lock date; None when nothing is locked."""
    return entity.lock_date + timedelta(days=1) if entity.lock_date is not None else None


def lock_description(entity: Entity) -> str:
    """'locked through 2026-05-31 by alice on 2026-06-03' (who and when, where known)."""
    text = f"{entity.name}'s books are locked through {entity.lock_date:%Y-%m-%d}"
    if entity.lock_date_set_by:
        text += f" (set by {entity.lock_date_set_by}"
        if entity.lock_date_set_at is not None:
            text += f" on {business_local(entity.lock_date_set_at):%Y-%m-%d}"
        text += ")"
    return text


def lock_refusal(entity: Entity, day: date) -> str:
    """The sentence refusing a row dated `day`, or "" when the day is open."""
    if not is_locked(entity, day):
        return ""
    return (
        f"{day:%Y-%m-%d} is in a locked period: {lock_description(entity)}. "
        f"Date it on or after {first_open_day(entity):%Y-%m-%d}, or ask whoever closed the period to move the lock date."
    )


def lock_check(entity: Entity, occurred_at: datetime) -> None:
    """Refuse (PeriodLocked) a row a person writes into a locked period."""
    refusal = lock_refusal(entity, business_date_of(occurred_at))
    if refusal:
        raise PeriodLocked(refusal)


def entry_past_lock(entry: LedgerEntry, entity: Entity) -> LedgerEntry:
    """The entry as it may be booked for `entity`: unchanged when its date is open; a provider's late
    row moved to the first open day (its own time kept in metadata); anything else refused."""
    if not is_locked(entity, business_date_of(entry.occurred_at)):
        return entry
    if entry.provider not in PROVIDERS_BOOKED_LATE:
        lock_check(entity, entry.occurred_at)
    open_day = first_open_day(entity)
    assert open_day is not None  # is_locked
    return replace(
        entry,
        occurred_at=day_start(open_day),
        metadata={**entry.metadata, TRUE_OCCURRED_AT: entry.occurred_at.isoformat()},
    )


def default_effective_day(event: RevenueEvent) -> date:
    """Where a correction or reversal of `event` is dated unless a person picks a day: the day of
    what it corrects, or the entity's first open day when that day is locked."""
    day = business_date_of(event.occurred_at)
    if is_locked(event.entity, day):
        open_day = first_open_day(event.entity)
        assert open_day is not None
        return open_day
    return day


def effective_instant(event: RevenueEvent, day: date | None) -> datetime:
    """The `occurred_at` of a row correcting `event` on business date `day` (default: see
    `default_effective_day`); refused when a person picked a locked day."""
    day = day or default_effective_day(event)
    lock_check(event.entity, day_start(day))
    if day == business_date_of(event.occurred_at):
        return event.occurred_at
    return day_start(day)


def _shown(day: date | None) -> str:
    return day.isoformat() if day is not None else "none"


@transaction.atomic
def entity_lock_date_set(*, entity: Entity, lock_date: date | None, actor: Actor = None) -> Entity:
    """Set, move or clear the lock date, recording who and when (the caller checks PERMISSION)."""
    entity = Entity.objects.select_for_update().get(pk=entity.pk)
    before = entity.lock_date
    if before == lock_date:
        return entity
    username = actor.get_username() if actor is not None and actor.is_authenticated else ""
    entity.lock_date = lock_date
    entity.lock_date_set_by = username
    entity.lock_date_set_at = timezone.now()
    entity.save(update_fields=["lock_date", "lock_date_set_by", "lock_date_set_at"])
    ledger_audit_record(
        action=LedgerAuditEntry.Action.LOCK_DATE,
        actor=actor,
        entity=entity,
        summary=f"Lock date of {entity.name}: {_shown(before)} -> {_shown(lock_date)}",
        before={"lock_date": before.isoformat() if before else None},
        after={"lock_date": lock_date.isoformat() if lock_date else None},
    )
    return entity

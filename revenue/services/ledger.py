"""Writes to the ledger. Every function is keyword-only and transactional.

There is no update or delete path for ledger rows: a correction is
`revenue_event_reverse`, which appends a reversing row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ..business_time import time_window_problem
from ..entries import LedgerEntry
from ..errors import ApplicationError, Conflict
from ..models import Entity, Payout, RevenueDailyRollup, RevenueEvent
from ..money import CurrencyError, normalize_currency
from ..outbox import outbox_publish
from ..selectors import revenue_daily_rollup_expected
from .conversion import usd_conversion
from .locks import entry_past_lock

TOPIC_EVENT_RECORDED = "revenue.event.recorded"


@dataclass(frozen=True)
class EntityResolution:
    entity: Entity
    source: str
    # A sentence when a hint named another entity than the configured mapping (the mapping won).
    conflict: str = ""

    @property
    def resolved(self) -> bool:
        return self.source != RevenueEvent.EntitySource.UNRESOLVED


@dataclass(frozen=True)
class RecordResult:
    event: RevenueEvent
    created: bool
    entity_resolved: bool
    entity_conflict: str = ""


def _matches(entity: Entity, hint: str) -> bool:
    wanted = hint.strip().casefold()
    names = [entity.slug, entity.name, *entity.aliases]
    return any(wanted == str(name).strip().casefold() for name in names)


_SOURCE_WORDS: dict[str, str] = {
    RevenueEvent.EntitySource.CONNECT_ACCOUNT: "Stripe Connect account mapping",
    RevenueEvent.EntitySource.PRODUCT: "product mapping",
    RevenueEvent.EntitySource.METADATA: "entity hint",
}


def _named(entities: list[Entity], hint: str) -> Entity | None:
    return next((e for e in entities if _matches(e, hint)), None) if hint.strip() else None


def entity_resolve(
    *,
    entity_hint: str = "",
    stripe_account: str = "",
    product_id: str = "",
    buyer_hint: str = "",
    entities: list[Entity] | None = None,
) -> EntityResolution:
    """Resolve the entity: configuration first (Connect account, product mapping), then a hint, then the default.

    `entity_hint` is set by our own side (Stripe metadata our server wrote, a CSV
    column); it decides only when no mapping does. `buyer_hint` is what a buyer
    can type (Gumroad `url_params[entity]`) and never decides. When either names
    another entity than the one chosen, `conflict` says so, for an alert.
    A hint that names no known entity books to the default as unresolved: never
    a silent guess. `entities` (all of them, loaded once) spares a batch one query per row.
    """
    entities = list(Entity.objects.all()) if entities is None else entities
    default = next((e for e in entities if e.is_default), None)
    if default is None:
        raise ApplicationError("No default entity is configured", code="no_default_entity")
    resolution: EntityResolution | None = None
    unresolved = False
    if stripe_account:
        mapped = next((e for e in entities if stripe_account in e.stripe_account_ids), None)
        if mapped is not None:
            resolution = EntityResolution(mapped, RevenueEvent.EntitySource.CONNECT_ACCOUNT)
        else:
            unresolved = True
    if resolution is None and product_id:
        mapped = next((e for e in entities if product_id in e.gumroad_product_ids), None)
        if mapped is not None:
            resolution = EntityResolution(mapped, RevenueEvent.EntitySource.PRODUCT)
    hinted = _named(entities, entity_hint)
    if resolution is None and entity_hint:
        if hinted is not None:
            resolution = EntityResolution(hinted, RevenueEvent.EntitySource.METADATA)
        else:
            unresolved = True
    if resolution is None:
        source = RevenueEvent.EntitySource.UNRESOLVED if unresolved else RevenueEvent.EntitySource.DEFAULT
        resolution = EntityResolution(default, source)
    conflicts = []
    if hinted is not None and hinted != resolution.entity:
        conflicts.append(f"the entity hint {entity_hint!r} names {hinted.name}")
    buyer_named = _named(entities, buyer_hint)
    if buyer_named is not None and buyer_named != resolution.entity:
        conflicts.append(f"the buyer-supplied entity {buyer_hint!r} names {buyer_named.name}")
    if conflicts:
        chosen = _SOURCE_WORDS.get(resolution.source, "default entity")
        conflict = f"{' and '.join(conflicts)}, but the {chosen} says {resolution.entity.name}"
        resolution = replace(resolution, conflict=conflict)
    return resolution


def _event_payload(event: RevenueEvent) -> dict[str, str | int | None]:
    return {
        "id": str(event.id),
        "event_id": event.event_id,
        "provider": event.provider,
        "event_type": event.event_type,
        "kind": event.kind,
        "amount_cents": event.amount_cents,
        "currency": event.currency,
        "amount_usd_cents": event.amount_usd_cents,
        "entity": event.entity.slug,
        "occurred_at": event.occurred_at.isoformat(),
        "customer_email": event.customer_email,
        "parent_event_id": event.parent_event_id,
    }


def _validate(entry: LedgerEntry) -> LedgerEntry:
    try:
        currency = normalize_currency(entry.currency)
    except CurrencyError as exc:
        raise ApplicationError(str(exc), code="invalid_currency") from None
    if not entry.event_id:
        raise ApplicationError("A ledger entry needs an event_id", code="missing_event_id")
    if entry.kind not in RevenueEvent.Kind.values:
        raise ApplicationError(f"Unknown ledger kind '{entry.kind}'", code="invalid_kind")
    if entry.provider not in RevenueEvent.Provider.values:
        raise ApplicationError(f"Unknown provider '{entry.provider}'", code="invalid_provider")
    if not isinstance(entry.amount_cents, int) or isinstance(entry.amount_cents, bool):
        raise ApplicationError("amount_cents must be an integer of minor units", code="invalid_amount")
    if timezone.is_naive(entry.occurred_at):
        raise ApplicationError("occurred_at must be timezone-aware", code="naive_datetime")
    problem = time_window_problem(entry.occurred_at)
    if problem:
        raise ApplicationError(f"occurred_at {problem}: refused, nothing booked", code="occurred_at_out_of_range")
    for name in _TEXT_FIELDS:
        if "\x00" in (getattr(entry, name) or ""):
            raise ApplicationError(f"{name} contains a NUL character: refused, nothing booked", code="nul_character")
    if _contains_nul(entry.metadata):
        raise ApplicationError("metadata contains a NUL character: refused, nothing booked", code="nul_character")
    return replace(entry, currency=currency)


_TEXT_FIELDS = (
    "event_id",
    "event_type",
    "customer_email",
    "customer_id",
    "source_id",
    "parent_event_id",
    "reference",
    "description",
    "entity_hint",
    "stripe_account",
    "product_id",
    "reverses_event_id",
)


def _contains_nul(value: object) -> bool:
    """PostgreSQL text and jsonb cannot hold U+0000: find it before the database refuses it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def _entity_resolution(entry: LedgerEntry, entity: Entity | None) -> EntityResolution:
    """The caller's explicit entity, else the configured rules (revenue.services.entity_resolve)."""
    if entity is not None:
        return EntityResolution(entity, RevenueEvent.EntitySource.EXPLICIT)
    return entity_resolve(
        entity_hint=entry.entity_hint,
        stripe_account=entry.stripe_account,
        product_id=entry.product_id,
        buyer_hint=entry.buyer_entity_hint,
    )


def _reversal_target(entry: LedgerEntry) -> RevenueEvent | None:
    if not entry.reverses_event_id:
        return None
    reverses = RevenueEvent.objects.filter(event_id=entry.reverses_event_id).first()
    if reverses is None:
        raise ApplicationError(f"No ledger row '{entry.reverses_event_id}' to reverse", code="reverse_target_missing")
    return reverses


def _new_ledger_row(entry: LedgerEntry, resolution: EntityResolution, *, reverses: RevenueEvent | None) -> RevenueEvent:
    """The unsaved ledger row for a validated entry, with its USD conversion."""
    conversion = usd_conversion(entry)
    now = timezone.now()
    return RevenueEvent(
        event_id=entry.event_id,
        provider=entry.provider,
        event_type=entry.event_type,
        kind=entry.kind,
        amount_cents=entry.amount_cents,
        currency=entry.currency,
        amount_usd_cents=conversion.amount_usd_cents,
        fx_rate=conversion.fx_rate,
        fx_source=conversion.fx_source,
        customer_email=entry.customer_email or None,
        customer_id=entry.customer_id or None,
        metadata=entry.metadata,
        entity=resolution.entity,
        entity_source=resolution.source,
        occurred_at=entry.occurred_at,
        created_at=now,
        processed_at=now,
        source_id=entry.source_id,
        parent_event_id=entry.parent_event_id,
        reference=entry.reference,
        description=entry.description,
        reverses=reverses,
    )


@transaction.atomic
def revenue_event_record(*, entry: LedgerEntry, entity: Entity | None = None) -> RecordResult:
    """Record one money movement idempotently: insert, or return the existing row.

    Safe under concurrency: a racing insert of the same event_id waits on the
    unique index and then returns the winner's row, never an IntegrityError.
    The outbox row is written only by the insert that created the ledger row.
    """
    entry = _validate(entry)
    existing = RevenueEvent.objects.filter(event_id=entry.event_id).select_related("entity").first()
    if existing is not None:
        return RecordResult(existing, False, existing.entity_source != RevenueEvent.EntitySource.UNRESOLVED)

    resolution = _entity_resolution(entry, entity)
    entry = entry_past_lock(entry, resolution.entity)
    event = _new_ledger_row(entry, resolution, reverses=_reversal_target(entry))
    try:
        with transaction.atomic():
            event.save(force_insert=True)
    except IntegrityError:
        winner = RevenueEvent.objects.filter(event_id=entry.event_id).select_related("entity").first()
        if winner is None:  # a different constraint failed: that is the caller's error
            raise
        return RecordResult(winner, False, winner.entity_source != RevenueEvent.EntitySource.UNRESOLVED)
    outbox_publish(topic=TOPIC_EVENT_RECORDED, payload=_event_payload(event))
    return RecordResult(event, True, resolution.resolved, resolution.conflict)


@transaction.atomic
def revenue_event_lock(*, event: RevenueEvent) -> RevenueEvent:
    """Serialise writers acting on one ledger row until the transaction ends; returns the row re-read.

    Not SELECT ... FOR UPDATE: that needs UPDATE privilege, which the app role does not hold on
    the ledger (revenue/db_roles.py). A transaction-scoped advisory lock keyed on the row needs none.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"revenue_events:{event.pk}"])
    return RevenueEvent.objects.select_related("entity").get(pk=event.pk)


@transaction.atomic
def revenue_event_reverse(
    *,
    event: RevenueEvent,
    reason: str,
    occurred_at: datetime | None = None,
    event_id: str = "",
    event_type: str = "reversal",
    metadata: dict[str, Any] | None = None,
) -> RevenueEvent:
    """Append the row that cancels `event`, dated `occurred_at` (default: on `event` itself, so it counts
    in the period of what it cancels). A row can be reversed once; a reversal cannot be reversed."""
    if event.kind == RevenueEvent.Kind.REVERSAL:
        raise Conflict("A reversal cannot itself be reversed; record a new entry instead", code="reverse_reversal")
    if RevenueEvent.objects.filter(reverses=event).exists():
        raise Conflict(f"{event.event_id} has already been reversed", code="already_reversed")
    entry = LedgerEntry(
        event_id=event_id or f"{event.event_id}:reversal",
        provider=event.provider,
        event_type=event_type,
        kind=RevenueEvent.Kind.REVERSAL,
        amount_cents=-event.amount_cents,
        currency=event.currency,
        occurred_at=occurred_at or event.occurred_at,
        customer_email=event.customer_email,
        customer_id=event.customer_id,
        metadata={"reason": reason, **(metadata or {})},
        source_id=event.source_id,
        parent_event_id=event.parent_event_id or event.event_id,
        reference=event.reference,
        description=f"Reversal of {event.event_id}: {reason}",
        amount_usd_cents=-event.amount_usd_cents if event.amount_usd_cents is not None else None,
        fx_rate=event.fx_rate,
        fx_source=event.fx_source,
        reverses_event_id=event.event_id,
    )
    result = revenue_event_record(entry=entry, entity=event.entity)
    return result.event


_PAYOUT_STATUS_RANK: dict[str, int] = {
    Payout.Status.PENDING: 0,
    Payout.Status.IN_TRANSIT: 1,
    Payout.Status.PAID: 2,
    Payout.Status.FAILED: 3,
    Payout.Status.CANCELED: 3,
}


@transaction.atomic
def payout_upsert(
    *,
    provider: str,
    payout_id: str,
    entity: Entity,
    amount_cents: int,
    currency: str,
    status: str,
    arrival_on: date | None = None,
    statement_descriptor: str = "",
    metadata: dict[str, Any] | None = None,
) -> tuple[Payout, bool]:
    """Create or update the expected bank deposit for a provider payout. Returns (payout, created).

    Status only moves forward (pending -> in_transit -> paid -> failed/canceled): a
    late `payout.paid` never undoes a `payout.failed` that arrived first.
    """
    if status not in Payout.Status.values:
        raise ApplicationError(f"Unknown payout status '{status}'", code="invalid_payout_status")
    if not payout_id:
        raise ApplicationError("A payout needs its provider id", code="missing_payout_id")
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool):
        raise ApplicationError("amount_cents must be an integer of minor units", code="invalid_amount")
    try:
        currency = normalize_currency(currency)
    except CurrencyError as exc:
        raise ApplicationError(str(exc), code="invalid_currency") from None
    values = {
        "entity": entity,
        "amount_cents": amount_cents,
        "currency": currency,
        "arrival_on": arrival_on,
        "statement_descriptor": statement_descriptor,
    }
    payout = Payout.objects.select_for_update().filter(provider=provider, payout_id=payout_id).first()
    if payout is None:
        try:
            with transaction.atomic():
                payout = Payout.objects.create(
                    provider=provider, payout_id=payout_id, status=status, metadata=metadata or {}, **values
                )
                return payout, True
        except IntegrityError:  # raced with another delivery of the same payout
            payout = Payout.objects.select_for_update().get(provider=provider, payout_id=payout_id)
    for field_name, value in values.items():
        setattr(payout, field_name, value)
    if _PAYOUT_STATUS_RANK[status] >= _PAYOUT_STATUS_RANK[payout.status]:
        payout.status = status
    payout.metadata = {**payout.metadata, **(metadata or {})}
    payout.save()
    return payout, False


@transaction.atomic
def revenue_daily_rollup_rebuild() -> int:
    """Recompute revenue_daily_rollup from the ledger; returns the number of rollup rows.

    The triggers keep the rollup exact on every write. This is for when they could not run
    (a data-only restore or a replica applying rows with triggers disabled). Ledger writers
    wait until it commits (SHARE lock), so no row is counted twice or missed.
    """
    table = RevenueDailyRollup._meta.db_table
    columns = "occurred_on_utc, entity_id, provider, currency, kind, credit_cents, debit_cents, event_count"
    select, params = revenue_daily_rollup_expected().query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {RevenueEvent._meta.db_table} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 (model table names)
        cursor.execute(f"INSERT INTO {table} ({columns}) {select}", params)
        inserted: int = cursor.rowcount
        return inserted

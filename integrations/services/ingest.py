"""Inbound webhooks: store the verified raw delivery, then map it and record what it means.

Order of work (nothing is lost at any step):
1. `inbound_deliveries_store`: one INSERT … ON CONFLICT DO NOTHING, committed on its
   own; the intake's group commit hands it every delivery waiting in the process.
   A repeat of the same provider event id inserts nothing.
2. `inbound_delivery_process`: under a row lock, map the raw body with the pure
   provider mapping and apply the facts (`facts_apply`) in one transaction.
   A mapping bug marks the delivery failed and raises an alert (raw kept, 200);
   a database failure propagates (the view answers 503 and the provider retries).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import psycopg
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from alerts.models import RevenueAlert
from alerts.services import alert_raise
from revenue.entries import LedgerEntry
from revenue.errors import Conflict
from revenue.models import RevenueEvent
from revenue.services import (
    entity_resolve,
    payout_upsert,
    revenue_event_record,
    revenue_event_reverse,
    stripe_charge_fee_booked,
    stripe_refund_outstanding,
)

from ..facts import Fact, Mapped, PayoutFact, Record, StripeRefund, StripeRefundTotal
from ..gumroad import mapping as gumroad_mapping
from ..models import InboundDelivery
from ..stripe import mapping as stripe_mapping

AlertType = RevenueAlert.AlertType

logger = logging.getLogger(__name__)

# Failures of our own infrastructure: the provider must retry (503), nothing is marked failed.
INFRASTRUCTURE_ERRORS = (OperationalError, InterfaceError)


class NewDelivery(NamedTuple):
    """A verified delivery about to be stored."""

    provider: str
    event_id: str
    event_type: str
    raw_body: str
    headers: dict[str, str]


def _table() -> str:
    return connection.ops.quote_name(InboundDelivery._meta.db_table)


@functools.cache
def _insert_values_sql(rows: int) -> str:
    values = ", ".join([f"(%s, %s, %s, %s, %s, '{InboundDelivery.Status.RECEIVED}', '', 0, %s)"] * rows)
    return (
        f"INSERT INTO {_table()} (provider, event_id, event_type, raw_body, headers, status, error, attempts, "  # noqa: S608
        f"received_at) VALUES {values} ON CONFLICT (provider, event_id) DO NOTHING RETURNING id, provider, event_id"
    )


def inbound_deliveries_store(deliveries: Sequence[NewDelivery]) -> list[tuple[int | None, bool]]:
    """Durably store verified deliveries in one statement and one commit. Returns (id, created) per
    delivery, in order; a repeat (stored before, or earlier in the same batch) returns (None, False).

    Deliberately not the ORM: this is the hot path the benchmark compares with a raw
    single-row INSERT. On PostgreSQL it is one prepared multi-row INSERT on Django's own
    connection with server-side binding: a batch is one round trip, and several-kilobyte
    bodies are neither quoted in Python nor re-planned.
    """
    if connection.vendor != "postgresql":
        now = timezone.now()
        return [_store_one_portable(delivery, now) for delivery in deliveries]
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        rows = cursor.execute(_insert_values_sql(len(deliveries)), _insert_params(deliveries), prepare=True)
        return _store_outcomes(deliveries, rows)


async def inbound_deliveries_store_async(
    conn: psycopg.AsyncConnection, deliveries: Sequence[NewDelivery]
) -> list[tuple[int | None, bool]]:
    """`inbound_deliveries_store` on an async psycopg connection in autocommit (the ASGI intake's own)."""
    async with psycopg.AsyncCursor(conn) as cursor:
        await cursor.execute(_insert_values_sql(len(deliveries)), _insert_params(deliveries), prepare=True)
        return _store_outcomes(deliveries, await cursor.fetchall())


def _insert_params(deliveries: Sequence[NewDelivery]) -> list[object]:
    now = timezone.now()
    params: list[object] = []
    for d in deliveries:
        params += [d.provider, d.event_id, d.event_type, d.raw_body, json.dumps(d.headers), now]
    return params


def _store_outcomes(
    deliveries: Sequence[NewDelivery], rows: Iterable[tuple[int, str, str]]
) -> list[tuple[int | None, bool]]:
    inserted = {(provider, event_id): pk for pk, provider, event_id in rows}
    results = []
    for delivery in deliveries:  # a repeat within the batch: the first copy is the one created
        pk = inserted.pop((delivery.provider, delivery.event_id), None)
        results.append((pk, pk is not None))
    return results


def _store_one_portable(delivery: NewDelivery, now: datetime) -> tuple[int | None, bool]:
    """SQLite (the zero-setup run): one INSERT … ON CONFLICT DO NOTHING per delivery."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table()} (provider, event_id, event_type, raw_body, headers, status, error, "  # noqa: S608
            "attempts, received_at) VALUES (%s, %s, %s, %s, %s, %s, '', 0, %s) "
            "ON CONFLICT (provider, event_id) DO NOTHING RETURNING id",
            [*delivery[:4], json.dumps(delivery.headers), InboundDelivery.Status.RECEIVED, now],
        )
        row = cursor.fetchone()
    return (row[0], True) if row else (None, False)


def inbound_delivery_store(
    *, provider: str, event_id: str, event_type: str, raw_body: str, headers: dict[str, str]
) -> tuple[int | None, bool]:
    """Durably store one verified delivery (its own commit). Returns (id, created); a repeat returns (None, False)."""
    return inbound_deliveries_store([NewDelivery(provider, event_id, event_type, raw_body, headers)])[0]


def inbound_delivery_pending_id(*, provider: str, event_id: str) -> int | None:
    """For a repeat delivery: the id of the stored delivery if it still awaits processing."""
    return (
        InboundDelivery.objects.filter(provider=provider, event_id=event_id, status=InboundDelivery.Status.RECEIVED)
        .values_list("pk", flat=True)
        .first()
    )


# ---------------------------------------------------------------- processing


def _map(delivery: InboundDelivery) -> Mapped:
    if delivery.provider == InboundDelivery.Provider.STRIPE:
        return stripe_mapping.map_event(json.loads(delivery.raw_body, parse_float=Decimal))
    payload = gumroad_mapping.parse_body(delivery.raw_body, delivery.headers.get("Content-Type", ""))
    return gumroad_mapping.map_ping(payload, received_at=delivery.received_at)


def inbound_delivery_process(*, delivery_id: int, force: bool = False) -> InboundDelivery | None:
    """Map and record one stored delivery. Idempotent: the ledger keys make a replay a no-op.

    Returns None when another worker holds the delivery (it is being processed right now).
    `force` reprocesses a delivery already processed or ignored (admin/replay).
    """
    try:
        with transaction.atomic():
            delivery = InboundDelivery.objects.select_for_update(skip_locked=True).filter(pk=delivery_id).first()
            if delivery is None:
                return None
            if not force and delivery.status in (InboundDelivery.Status.PROCESSED, InboundDelivery.Status.IGNORED):
                return delivery
            delivery.attempts += 1
            mapped = _map(delivery)
            events = facts_apply(facts=mapped.facts, source=f"{delivery.provider} {delivery.event_id}")
            if events:
                delivery.ledger_events.add(*events)
            delivery.status = InboundDelivery.Status.PROCESSED if mapped.handled else InboundDelivery.Status.IGNORED
            delivery.error = "" if mapped.handled else mapped.note
            delivery.processed_at = timezone.now()
            delivery.save(update_fields=["status", "error", "processed_at", "attempts"])
            return delivery
    except INFRASTRUCTURE_ERRORS:
        raise
    except Exception as exc:  # a mapping bug or a payload we cannot book: keep it, say so, answer 200
        logger.exception("inbound delivery %s failed to process", delivery_id)
        return _delivery_fail(delivery_id=delivery_id, error=f"{exc.__class__.__name__}: {exc}")


@transaction.atomic
def _delivery_fail(*, delivery_id: int, error: str) -> InboundDelivery | None:
    delivery = InboundDelivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None or delivery.status == InboundDelivery.Status.PROCESSED:
        return delivery
    delivery.status = InboundDelivery.Status.FAILED
    delivery.error = error[:4000]
    delivery.attempts += 1
    delivery.processed_at = timezone.now()
    delivery.save(update_fields=["status", "error", "attempts", "processed_at"])
    alert_raise(
        alert_type=AlertType.INGESTION,
        severity="critical",
        message=f"{delivery.provider} delivery {delivery.event_id} ({delivery.event_type}) could not be booked: {error}",
        fingerprint=f"ingestion:{delivery.provider}:{delivery.event_id}",
        metadata={"delivery_id": delivery.pk, "event_type": delivery.event_type, "error": error[:1000]},
    )
    return delivery


def inbound_delivery_reprocess(*, delivery: InboundDelivery) -> InboundDelivery | None:
    """Admin / replay: process again whatever its status (idempotent on the ledger keys)."""
    return inbound_delivery_process(delivery_id=delivery.pk, force=True)


def inbound_deliveries_drain(*, max_seconds: float = 50.0, batch: int = 200) -> int:
    """Book every stored delivery still waiting, oldest first, in one pass (a worker's job).

    Walks ids upwards so it never spins on rows another worker holds; rows
    stored while it runs have higher ids and are picked up in the same pass.
    """
    started = time.monotonic()
    last_id, done = 0, 0
    while time.monotonic() - started < max_seconds:
        ids = list(
            InboundDelivery.objects.filter(status=InboundDelivery.Status.RECEIVED, pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            break
        for delivery_id in ids:
            if inbound_delivery_process(delivery_id=delivery_id) is not None:
                done += 1
        last_id = ids[-1]
    return done


def inbound_deliveries_stuck_process(*, older_than: timedelta, limit: int = 500) -> int:
    """Process deliveries still 'received' after `older_than` (their hand-off to a worker was lost)."""
    cutoff = timezone.now() - older_than
    ids = list(
        InboundDelivery.objects.filter(status=InboundDelivery.Status.RECEIVED, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in ids:
        inbound_delivery_process(delivery_id=delivery_id)
    return len(ids)


def inbound_deliveries_replay(*, failed: bool = False, since: datetime | None = None) -> dict[str, int]:
    """Reprocess failed (and stuck 'received') deliveries, or everything received since a time."""
    deliveries = InboundDelivery.objects.all()
    if failed:
        deliveries = deliveries.filter(status__in=[InboundDelivery.Status.FAILED, InboundDelivery.Status.RECEIVED])
    if since is not None:
        deliveries = deliveries.filter(received_at__gte=since)
    counts: dict[str, int] = {}
    for delivery_id in deliveries.order_by("received_at", "pk").values_list("pk", flat=True).iterator():
        result = inbound_delivery_process(delivery_id=delivery_id, force=True)
        status = result.status if result is not None else "busy"
        counts[status] = counts.get(status, 0) + 1
    return counts


# ---------------------------------------------------------------- facts -> ledger


def facts_apply(*, facts: list[Fact], source: str) -> list[RevenueEvent]:
    """Turn mapped facts into ledger writes (idempotent). Returns the ledger rows involved."""
    events: list[RevenueEvent] = []
    for fact in facts:
        if isinstance(fact, Record):
            events.append(_record(fact.entry, mirror_parent=fact.mirror_parent, source=source))
        elif isinstance(fact, StripeRefund):
            events += _stripe_refund_apply(fact, source=source)
        elif isinstance(fact, StripeRefundTotal):
            events += _stripe_refund_total_apply(fact, source=source)
        elif isinstance(fact, PayoutFact):
            _payout_apply(fact, source=source)
        else:  # a new fact type without its writer is a programming error
            raise TypeError(f"unknown fact {fact!r}")
    return events


def entry_with_parent_entity(entry: LedgerEntry, parent_entity_slug: str | None) -> LedgerEntry:
    """A refund, dispute or fee belongs to its sale's entity unless it says otherwise itself."""
    if parent_entity_slug is not None and not entry.entity_hint and not entry.stripe_account and not entry.product_id:
        return replace(entry, entity_hint=parent_entity_slug)
    return entry


def _with_parent_entity(entry: LedgerEntry) -> tuple[LedgerEntry, RevenueEvent | None]:
    if not entry.parent_event_id:
        return entry, None
    parent = RevenueEvent.objects.select_related("entity").filter(event_id=entry.parent_event_id).first()
    return entry_with_parent_entity(entry, parent.entity.slug if parent is not None else None), parent


def _record(entry: LedgerEntry, *, mirror_parent: bool = False, source: str) -> RevenueEvent:
    booked_fee = stripe_charge_fee_booked(entry)  # the charge's fee, booked from the payments export
    if booked_fee is not None:
        return booked_fee
    entry, parent = _with_parent_entity(entry)
    if mirror_parent and parent is not None:
        sign = -1 if entry.amount_cents < 0 else 1
        entry = replace(
            entry,
            amount_cents=sign * abs(parent.amount_cents),
            currency=parent.currency,
            amount_usd_cents=None if parent.amount_usd_cents is None else sign * abs(parent.amount_usd_cents),
            fx_rate=parent.fx_rate,
            fx_source=parent.fx_source,
        )
    result = revenue_event_record(entry=entry)
    if result.created:
        _entity_checks(
            result.event, entry=entry, resolved=result.entity_resolved, source=source, conflict=result.entity_conflict
        )
    return result.event


def _entity_checks(event: RevenueEvent, *, entry: LedgerEntry, resolved: bool, source: str, conflict: str = "") -> None:
    entity_alerts_raise(event, entry=entry, resolved=resolved, source=source, conflict=conflict)
    if not event.parent_event_id:
        # A refund/dispute/fee that arrived before its sale was booked without the sale's entity.
        strays = list(
            RevenueEvent.objects.filter(parent_event_id=event.event_id)
            .exclude(entity=event.entity)
            .values_list("event_id", flat=True)[:20]
        )
        entity_strays_alert(event, strays=strays)


def entity_alerts_raise(
    event: RevenueEvent, *, entry: LedgerEntry, resolved: bool, source: str, conflict: str = ""
) -> None:
    """The alerts a newly booked row may need about its entity (a hint overruled, nothing matched)."""
    if conflict and not event.parent_event_id:
        # One alert per payment: its refunds and fees follow the sale. Configuration beat a hint (e.g. a buyer's url_params[entity]): booked by the mapping, flagged here.
        alert_raise(
            alert_type=AlertType.ENTITY,
            severity="warning",
            message=(
                f"{event.event_id} was booked to {event.entity.name}: {conflict} ({source}). "
                "A hint never overrides the configured mapping; if the mapping is wrong, fix it on the entity "
                "(Admin > Revenue > Entities), then reverse and re-book the row."
            ),
            fingerprint=f"entity:conflict:{event.event_id}",
            metadata={
                "event_id": event.event_id,
                "entity_hint": entry.entity_hint,
                "buyer_entity_hint": entry.buyer_entity_hint,
                "stripe_account": entry.stripe_account,
                "product_id": entry.product_id,
            },
            entity=event.entity,
        )
    if not resolved:
        alert_raise(
            alert_type=AlertType.ENTITY,
            severity="warning",
            message=(
                f"{event.event_id} was booked to the default entity {event.entity.name}: "
                f"entity hint {entry.entity_hint!r} / Stripe account {entry.stripe_account!r} "
                f"/ product {entry.product_id!r} matches no entity ({source})."
            ),
            fingerprint=f"entity:{event.event_id}",
            metadata={
                "event_id": event.event_id,
                "entity_hint": entry.entity_hint,
                "stripe_account": entry.stripe_account,
                "product_id": entry.product_id,
            },
            entity=event.entity,
        )


def entity_strays_alert(event: RevenueEvent, *, strays: list[str]) -> None:
    """A sale whose refunds/disputes/fees (`strays`, booked before it) went to another entity."""
    if strays:
        alert_raise(
            alert_type=AlertType.ENTITY,
            severity="warning",
            message=(
                f"{event.event_id} belongs to {event.entity.name} but rows booked before it "
                f"({', '.join(strays)}) went to another entity: correct them with a reversal and a re-entry."
            ),
            fingerprint=f"entity:{event.event_id}:children",
            metadata={"event_id": event.event_id, "rows": strays},
            entity=event.entity,
        )


def _lock(key: str) -> None:
    """Serialise work on one Stripe charge's refunds across processes (transaction-scoped)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key])


def _unattributed_open(*, parent_event_id: str, charge_id: str) -> int:
    total = RevenueEvent.objects.filter(
        parent_event_id=parent_event_id,
        metadata__refund_charge=charge_id,
        metadata__refund_role__in=["unattributed", "settlement"],
    ).aggregate(total=Sum("amount_cents"))["total"]
    return -(total or 0)


@transaction.atomic
def _stripe_refund_apply(fact: StripeRefund, *, source: str) -> list[RevenueEvent]:
    _lock(f"stripe-refunds:{fact.charge_id}")
    entry, _parent = _with_parent_entity(fact.entry)
    result = revenue_event_record(entry=entry)
    refund = result.event
    events = [refund]
    if result.created:
        _entity_checks(
            refund, entry=entry, resolved=result.entity_resolved, source=source, conflict=result.entity_conflict
        )
        open_amount = _unattributed_open(parent_event_id=refund.parent_event_id, charge_id=fact.charge_id)
        if open_amount > 0 and not fact.failed:
            # charge.refunded booked this money before its refund id was known: settle it now.
            settle = min(open_amount, -refund.amount_cents)
            settlement = replace(
                entry,
                event_id=f"{entry.event_id}:settles-unattributed",
                kind="adjustment",
                amount_cents=settle,
                amount_usd_cents=None,
                fx_rate=None,
                fx_source="",
                metadata={**entry.metadata, "refund_role": "settlement"},
                description=f"{refund.source_id} explains refund money booked earlier as unattributed",
                entity_hint=refund.entity.slug,
                stripe_account="",
            )
            events.append(revenue_event_record(entry=settlement).event)
    if fact.failed and not RevenueEvent.objects.filter(reverses=refund).exists():
        with contextlib.suppress(Conflict):  # already reversed: same end state
            events.append(
                revenue_event_reverse(
                    event=refund,
                    reason=f"refund {fact.failure_reason}",
                    occurred_at=fact.failed_at,
                    event_id=f"{refund.event_id}:reversal",
                    event_type=fact.entry.event_type,
                    metadata={"refund_charge": fact.charge_id, "refund_role": "refund"},
                )
            )
    return events


@transaction.atomic
def _stripe_refund_total_apply(fact: StripeRefundTotal, *, source: str) -> list[RevenueEvent]:
    _lock(f"stripe-refunds:{fact.charge_id}")
    parent_event_id = fact.template.parent_event_id
    outstanding = stripe_refund_outstanding(
        parent_event_id=parent_event_id, charge_id=fact.charge_id, amount_refunded=fact.amount_refunded
    )
    if outstanding == 0:
        return []
    entry = replace(fact.template, amount_cents=-outstanding)
    return [_record(entry, source=source)]


def _payout_apply(fact: PayoutFact, *, source: str) -> None:
    resolution = entity_resolve(stripe_account=fact.stripe_account)
    _payout, created = payout_upsert(
        provider=fact.provider,
        payout_id=fact.payout_id,
        entity=resolution.entity,
        amount_cents=fact.amount_cents,
        currency=fact.currency,
        status=fact.status,
        arrival_on=fact.arrival_on,
        statement_descriptor=fact.statement_descriptor,
        metadata=fact.metadata,
    )
    if created and not resolution.resolved:
        alert_raise(
            alert_type=AlertType.ENTITY,
            severity="warning",
            message=f"Payout {fact.payout_id} from Stripe account {fact.stripe_account!r} matches no entity ({source}).",
            fingerprint=f"entity:payout:{fact.payout_id}",
            metadata={"payout_id": fact.payout_id, "stripe_account": fact.stripe_account},
            entity=resolution.entity,
        )


__all__ = [
    "INFRASTRUCTURE_ERRORS",
    "NewDelivery",
    "facts_apply",
    "inbound_deliveries_replay",
    "inbound_deliveries_store",
    "inbound_delivery_pending_id",
    "inbound_delivery_process",
    "inbound_delivery_reprocess",
    "inbound_delivery_store",
]

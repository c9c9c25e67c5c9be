"""Book stored deliveries in batches: a burst reaches the ledger as fast as it arrives.

`inbound_delivery_process` books one delivery in its own transaction (~14 statements).
A drain pass here claims up to `limit` stored deliveries (`FOR UPDATE SKIP LOCKED`: workers
share a backlog without waiting on each other), maps them with the same pure mappers, and
books them in ONE transaction:

* deliveries whose facts are plain `Record`s (sales, disputes, fees, Gumroad sales: nearly
  all of a burst) are booked set-based by `revenue.services.ledger_batch`: one query for every
  row they refer to, one INSERT of the new ledger rows, one INSERT of their outbox rows,
  one INSERT of the delivery links, one UPDATE of the deliveries;
* deliveries with an inherently sequential rule (Stripe refunds against cumulative totals
  under their advisory lock, failed-refund reversals, payouts, Gumroad refunds that mirror
  their sale, a charge's fee that a file may have booked under its other key) go through `facts_apply`, the one-by-one path, in the same transaction. The
  set-based rows planned before them are written first, so they see the ledger exactly as
  booking one by one in id order would.

A delivery that cannot be mapped or booked is marked failed with its alert (its savepoint is
rolled back, the rest of the batch is booked); a database failure propagates and the whole
batch stays `received` for the retry.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from revenue.models import Entity, RevenueEvent
from revenue.services import RecordResult, entity_resolve, entry_past_lock, is_stripe_charge_fee
from revenue.services.ledger_batch import (
    PlannedRow,
    revenue_entry_validate,
    revenue_events_insert_many,
    revenue_events_known,
)

from ..facts import Mapped, Record
from ..models import InboundDelivery
from .ingest import (
    INFRASTRUCTURE_ERRORS,
    _delivery_fail,
    _map,
    entity_alerts_raise,
    entity_strays_alert,
    entry_with_parent_entity,
    facts_apply,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
Status = InboundDelivery.Status
Link = InboundDelivery.ledger_events.through


def _set_based(mapped: Mapped) -> bool:
    """Plain records only. A Stripe charge's fee asks first whether a file booked it under its other
    key (`revenue.services.fees`: one fee per charge), so it takes the one-by-one path."""
    return all(
        isinstance(fact, Record)
        and not fact.mirror_parent
        and not fact.entry.reverses_event_id
        and not is_stripe_charge_fee(fact.entry)
        for fact in mapped.facts
    )


def _source(delivery: InboundDelivery) -> str:
    return f"{delivery.provider} {delivery.event_id}"


@dataclass
class _Segment:
    """Consecutive set-based deliveries, booked together."""

    deliveries: list[tuple[InboundDelivery, Mapped]] = field(default_factory=list)
    # What the segment writes: event_id -> planned row, and which delivery planned it first.
    planned: dict[str, PlannedRow] = field(default_factory=dict)
    planned_by: dict[str, InboundDelivery] = field(default_factory=dict)
    keys_of: dict[int, list[str]] = field(default_factory=dict)


class _BatchBooking:
    def __init__(self) -> None:
        self.entities = list(Entity.objects.all())
        self.segment = _Segment()
        self.finished: list[InboundDelivery] = []
        self.links: list[tuple[int, UUID]] = []

    def run(self, deliveries: list[InboundDelivery]) -> None:
        for delivery in deliveries:
            try:
                mapped = _map(delivery)
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as exc:
                self._fail(delivery, exc)
                continue
            if _set_based(mapped):
                self.segment.deliveries.append((delivery, mapped))
            else:
                self._flush()
                self._one_by_one(delivery, mapped)
        self._flush()
        Link.objects.bulk_create(
            [Link(inbounddelivery_id=d, revenueevent_id=e) for d, e in self.links], ignore_conflicts=True
        )
        InboundDelivery.objects.bulk_update(self.finished, ["status", "error", "processed_at", "attempts"])

    def _fail(self, delivery: InboundDelivery, exc: Exception) -> None:
        logger.error("inbound delivery %s failed to process", delivery.pk, exc_info=exc)
        _delivery_fail(delivery_id=delivery.pk, error=f"{exc.__class__.__name__}: {exc}")

    def _finish(self, delivery: InboundDelivery, mapped: Mapped) -> None:
        delivery.attempts += 1
        delivery.status = Status.PROCESSED if mapped.handled else Status.IGNORED
        delivery.error = "" if mapped.handled else mapped.note
        delivery.processed_at = timezone.now()
        self.finished.append(delivery)

    def _one_by_one(self, delivery: InboundDelivery, mapped: Mapped) -> None:
        """The sequential path (`facts_apply`), in a savepoint: a failure marks only this delivery."""
        try:
            with transaction.atomic():
                events = facts_apply(facts=mapped.facts, source=_source(delivery))
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as exc:
            self._fail(delivery, exc)
            return
        self.links += [(delivery.pk, event.pk) for event in events]
        self._finish(delivery, mapped)

    def _flush(self) -> None:
        """Book the pending set-based deliveries; if the set-based write itself is refused
        (a constraint no validation foresaw), book them one by one so only the culprit fails."""
        segment, self.segment = self.segment, _Segment()
        if not segment.deliveries:
            return
        try:
            with transaction.atomic():
                links, finished = self._book_segment(segment)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception:
            logger.exception(
                "set-based booking of %d deliveries refused; booking them one by one", len(segment.deliveries)
            )
            for delivery, mapped in segment.deliveries:
                self._one_by_one(delivery, mapped)
            return
        self.links += links
        for delivery, mapped in finished:
            self._finish(delivery, mapped)

    def _book_segment(self, segment: _Segment) -> tuple[list[tuple[int, UUID]], list[tuple[InboundDelivery, Mapped]]]:
        entries = [fact.entry for _, mapped in segment.deliveries for fact in mapped.facts if isinstance(fact, Record)]
        known = revenue_events_known(event_ids=[e.event_id for e in entries] + [e.parent_event_id for e in entries])
        booked: list[tuple[InboundDelivery, Mapped]] = []
        for delivery, mapped in segment.deliveries:
            try:
                self._plan(segment, delivery, mapped, known)
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as exc:
                self._fail(delivery, exc)
                continue
            booked.append((delivery, mapped))
        results = revenue_events_insert_many(rows=list(segment.planned.values()))
        self._alerts(segment, results)
        events = {**known, **{key: result.event for key, result in results.items()}}
        links = [(d.pk, events[key].pk) for d, _ in booked for key in segment.keys_of[d.pk]]
        return links, booked

    def _plan(
        self, segment: _Segment, delivery: InboundDelivery, mapped: Mapped, known: dict[str, RevenueEvent]
    ) -> None:
        """Validate and resolve one delivery's entries, as `_record` would in id order; nothing is
        added to the segment unless every entry of the delivery passes."""
        mine: dict[str, PlannedRow] = {}
        keys: list[str] = []
        for fact in mapped.facts:
            assert isinstance(fact, Record)  # _set_based
            entry = revenue_entry_validate(entry=fact.entry)
            entry = entry_with_parent_entity(entry, self._entity_slug(entry.parent_event_id, segment, mine, known))
            keys.append(entry.event_id)
            if entry.event_id in known or entry.event_id in segment.planned or entry.event_id in mine:
                continue
            resolution = entity_resolve(
                entity_hint=entry.entity_hint,
                stripe_account=entry.stripe_account,
                product_id=entry.product_id,
                buyer_hint=entry.buyer_entity_hint,
                entities=self.entities,
            )
            mine[entry.event_id] = PlannedRow(entry_past_lock(entry, resolution.entity), resolution)
        segment.planned.update(mine)
        segment.planned_by.update(dict.fromkeys(mine, delivery))
        segment.keys_of[delivery.pk] = keys

    @staticmethod
    def _entity_slug(
        event_id: str, segment: _Segment, mine: dict[str, PlannedRow], known: dict[str, RevenueEvent]
    ) -> str | None:
        if not event_id:
            return None
        if event_id in known:
            return known[event_id].entity.slug
        planned = mine.get(event_id) or segment.planned.get(event_id)
        return planned.resolution.entity.slug if planned is not None else None

    def _alerts(self, segment: _Segment, results: dict[str, RecordResult]) -> None:
        """`_entity_checks` for every created row; the strays of all new sales in one query."""
        created = {key: result for key, result in results.items() if result.created}
        for key, result in created.items():
            source = _source(segment.planned_by[key])
            entry = segment.planned[key].entry
            entity_alerts_raise(
                result.event,
                entry=entry,
                resolved=result.entity_resolved,
                source=source,
                conflict=result.entity_conflict,
            )
        roots = {key: result.event for key, result in created.items() if not result.event.parent_event_id}
        if not roots:
            return
        strays: dict[str, list[str]] = {}
        children = RevenueEvent.objects.filter(parent_event_id__in=sorted(roots)).values_list(
            "parent_event_id", "event_id", "entity_id"
        )
        for parent_id, event_id, entity_id in children.order_by("parent_event_id", "event_id"):
            if entity_id != roots[parent_id].entity_id and len(strays.setdefault(parent_id, [])) < 20:
                strays[parent_id].append(event_id)
        for parent_id, rows in strays.items():
            entity_strays_alert(roots[parent_id], strays=rows)


def inbound_deliveries_book_batch(*, limit: int = BATCH_SIZE) -> int:
    """Claim up to `limit` stored deliveries (oldest first, skipping those another worker holds)
    and book them in one transaction. Returns how many were claimed (0: nothing waiting)."""
    with transaction.atomic():
        deliveries = list(
            InboundDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=Status.RECEIVED)
            .order_by("pk")[:limit]
        )
        if deliveries:
            _BatchBooking().run(deliveries)
    return len(deliveries)


def inbound_deliveries_book(*, max_seconds: float = 50.0, limit: int = BATCH_SIZE) -> int:
    """A worker's drain pass: book batches until nothing is waiting (or the time is up).

    It stops only after a claim found nothing, so a delivery stored while a batch was being
    booked is booked by this pass, not left for the next hand-off.
    """
    started = time.monotonic()
    done = 0
    while time.monotonic() - started < max_seconds:
        claimed = inbound_deliveries_book_batch(limit=limit)
        if not claimed:
            break
        done += claimed
    return done

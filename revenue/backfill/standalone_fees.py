"""Imported fees whose payment the ledger does not know: booked anyway (valid data is never
dropped), standalone, and handed to the registered reporters (branchberg wires the alerts app in;
the inner app cannot import it)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef

from ..entries import LedgerEntry
from ..models import RevenueEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StandaloneFee:
    event_id: str
    parent_event_id: str
    amount_cents: int
    currency: str
    entity_id: int

    @property
    def fingerprint(self) -> str:
        return f"fee:standalone:{self.event_id}"


def fee_entries_with_parent(entries: Iterable[LedgerEntry]) -> list[str]:
    """The event ids of the fee entries that name their payment: the only ones that can be standalone."""
    return [e.event_id for e in entries if e.kind == RevenueEvent.Kind.FEE and e.parent_event_id]


def standalone_fees_find(*, event_ids: list[str]) -> list[StandaloneFee]:
    """Fee rows among `event_ids` that name a payment no ledger row is (one query; none for no ids)."""
    if not event_ids:
        return []
    parent = RevenueEvent.objects.filter(event_id=OuterRef("parent_event_id"))
    rows = (
        RevenueEvent.objects.filter(event_id__in=event_ids, kind=RevenueEvent.Kind.FEE)
        .exclude(parent_event_id="")
        .filter(~Exists(parent))
        .order_by("event_id")
        .values_list("event_id", "parent_event_id", "amount_cents", "currency", "entity_id")
    )
    return [StandaloneFee(*row) for row in rows]


_reporters: list[Callable[[StandaloneFee], None]] = []


def standalone_fee_reporter_register(reporter: Callable[[StandaloneFee], None]) -> None:
    """An outer app (alerts, wired by branchberg) asks to hear about fees booked without their payment."""
    if reporter not in _reporters:
        _reporters.append(reporter)


def standalone_fees_report(fees: list[StandaloneFee]) -> None:
    """Hand each standalone fee to the reporters, in the caller's transaction."""
    if fees and not _reporters:
        logger.warning("%d fee(s) booked without their payment but no reporter is registered", len(fees))
    for fee in fees:
        for reporter in _reporters:
            reporter(fee)

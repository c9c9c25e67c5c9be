"""The import's possible-duplicate check: new rows judged by the one rule in
`revenue.duplicates`, handed to the registered reporters (branchberg wires the alerts
app in as one; the inner app cannot import it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from ..business_time import business_date_of
from ..duplicates import (
    duplicate_candidates,
    duplicate_fingerprint,
    duplicate_window,
    event_source,
    is_possible_duplicate,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PossibleDuplicate:
    """A new row that looks like a row already in the ledger (see `revenue.duplicates`)."""

    event_id: str
    other_event_id: str
    customer_email: str
    amount_cents: int
    currency: str
    business_day: date
    entity_id: int
    sources: tuple[str, str]

    @property
    def fingerprint(self) -> str:
        """The same fingerprint the alerts beat gives this pair."""
        return duplicate_fingerprint([self.event_id, self.other_event_id])


def possible_duplicates_find(*, event_ids: list[str]) -> list[PossibleDuplicate]:
    """Rows among `event_ids` that `is_possible_duplicate` pairs with another row. One entry per pair."""
    window = duplicate_window()
    found: dict[str, PossibleDuplicate] = {}
    for new, other in duplicate_candidates(event_ids=event_ids):
        if not is_possible_duplicate(new, other, window=window):
            continue
        duplicate = PossibleDuplicate(
            event_id=new.event_id,
            other_event_id=other.event_id,
            customer_email=new.customer_email or new.customer_id or "",
            amount_cents=new.amount_cents,
            currency=new.currency,
            business_day=business_date_of(new.occurred_at),
            entity_id=new.entity_id,
            sources=(event_source(new), event_source(other)),
        )
        found.setdefault(duplicate.fingerprint, duplicate)
    return list(found.values())


_duplicate_reporters: list[Callable[[PossibleDuplicate], None]] = []


def duplicate_reporter_register(reporter: Callable[[PossibleDuplicate], None]) -> None:
    """An outer app (alerts, wired by branchberg) asks to hear about possible duplicates."""
    if reporter not in _duplicate_reporters:
        _duplicate_reporters.append(reporter)


def possible_duplicates_report(duplicates: list[PossibleDuplicate]) -> None:
    """Hand each possible duplicate to the reporters, in the caller's transaction."""
    if duplicates and not _duplicate_reporters:
        logger.warning("%d possible duplicate(s) found but no reporter is registered", len(duplicates))
    for duplicate in duplicates:
        for reporter in _duplicate_reporters:
            reporter(duplicate)

"""Writes to the revenue ledger, one module per sub-domain, re-exported here.

`ledger` records, reverses and resolves entities (the system primitives webhooks and imports
use); `manual` is money entered by a person, each write with its audit entry.
Reconciliation's writes live in `revenue.reconciliation.services`.
"""

from .ledger import (
    TOPIC_EVENT_RECORDED,
    EntityResolution,
    RecordResult,
    entity_resolve,
    payout_upsert,
    revenue_daily_rollup_rebuild,
    revenue_event_lock,
    revenue_event_record,
    revenue_event_reverse,
)
from .manual import (
    Correction,
    ManualEntryData,
    active_manual_entries,
    manual_entry_correct,
    manual_entry_create,
    received_on_to_instant,
    revenue_event_reverse_by_user,
)

__all__ = [
    "TOPIC_EVENT_RECORDED",
    "Correction",
    "EntityResolution",
    "ManualEntryData",
    "RecordResult",
    "active_manual_entries",
    "entity_resolve",
    "manual_entry_correct",
    "manual_entry_create",
    "payout_upsert",
    "received_on_to_instant",
    "revenue_daily_rollup_rebuild",
    "revenue_event_lock",
    "revenue_event_record",
    "revenue_event_reverse",
    "revenue_event_reverse_by_user",
]

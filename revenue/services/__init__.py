"""Writes to the revenue ledger, one module per sub-domain, re-exported here.

`ledger` records, reverses and resolves entities (the system primitives webhooks and imports
use); `manual` is money entered by a person, each write with its audit entry.
Reconciliation's writes live in `revenue.reconciliation.services`.
"""

from .conversion import CachedRateTable, UsdConversion, rate_table_rate_on, usd_conversion
from .fees import is_stripe_charge_fee, stripe_charge_fee_booked, stripe_fee_charge_key
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
from .locks import (
    PeriodLocked,
    default_effective_day,
    entity_lock_date_set,
    entry_past_lock,
    first_open_day,
    lock_check,
    lock_description,
    lock_refusal,
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
from .refunds import stripe_refund_outstanding, stripe_refunded_known

__all__ = [
    "TOPIC_EVENT_RECORDED",
    "CachedRateTable",
    "Correction",
    "EntityResolution",
    "ManualEntryData",
    "PeriodLocked",
    "RecordResult",
    "UsdConversion",
    "active_manual_entries",
    "default_effective_day",
    "entity_lock_date_set",
    "entity_resolve",
    "entry_past_lock",
    "first_open_day",
    "is_stripe_charge_fee",
    "lock_check",
    "lock_description",
    "lock_refusal",
    "manual_entry_correct",
    "manual_entry_create",
    "payout_upsert",
    "rate_table_rate_on",
    "received_on_to_instant",
    "revenue_daily_rollup_rebuild",
    "revenue_event_lock",
    "revenue_event_record",
    "revenue_event_reverse",
    "revenue_event_reverse_by_user",
    "stripe_charge_fee_booked",
    "stripe_fee_charge_key",
    "stripe_refund_outstanding",
    "stripe_refunded_known",
    "usd_conversion",
]

"""Ledger entries for tests: real services, explicit values."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from revenue.entries import LedgerEntry

_counter = itertools.count(1)


def ledger_entry(**overrides) -> LedgerEntry:
    n = next(_counter)
    values = {
        "event_id": f"test:evt_{n}",
        "provider": "stripe",
        "event_type": "payment_intent.succeeded",
        "kind": "payment",
        "amount_cents": 1000,
        "currency": "USD",
        "occurred_at": datetime(2026, 6, 1, 15, 0, tzinfo=UTC),
        "customer_email": f"customer{n}@example.com",
    }
    values.update(overrides)
    return LedgerEntry(**values)

"""Fixtures for the Atlas API tests (imported by the test_api_* modules)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from integrations.services.api_keys import api_key_create
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

# Frozen "now" for the hand-computed ledger: 23:30 CST on Sunday 2026-11-01, the
# 25-hour day on which Central time falls back from CDT (UTC-5) to CST (UTC-6).
NOW = datetime(2026, 11, 2, 5, 30, tzinfo=UTC)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def read_key(db):
    _key, raw = api_key_create(name="atlas-read", scopes=["read"])
    return raw


@pytest.fixture
def subscribe_key(db):
    _key, raw = api_key_create(name="atlas-subscribe", scopes=["subscribe"])
    return raw


@pytest.fixture
def api(read_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {read_key}")
    return client


@pytest.fixture
def subscriber_api(subscribe_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=subscribe_key)
    return client


# (name, occurred_at, entity slug, provider, kind, amount in minor units, currency)
LEDGER = [
    ("E1", utc(2026, 11, 1, 5, 30), "aplus-enterprise", "stripe", "payment", 10000, "USD"),  # Nov 1 00:30 CDT
    ("E2", utc(2026, 11, 1, 4, 30), "aplus-enterprise", "stripe", "payment", 5000, "USD"),  # Oct 31 23:30 CDT
    ("E3", utc(2026, 11, 2, 5, 15), "legacy-unchained", "gumroad", "payment", 5000, "JPY"),  # Nov 1 23:15 CST
    ("E4", utc(2026, 11, 1, 6, 30), "aplus-enterprise", "manual", "payment", 1234, "KWD"),  # 01:30 CDT (1st)
    ("E5", utc(2026, 11, 1, 7, 30), "aplus-enterprise", "manual", "refund", -234, "KWD"),  # 01:30 CST (2nd)
    ("E6", utc(2026, 11, 1, 12, 0), "aplus-enterprise", "stripe", "refund", -2500, "USD"),
    ("E7", utc(2026, 10, 27, 15, 0), "legacy-unchained", "gumroad", "payment", 20000, "USD"),  # Tue Oct 27
    ("E8", utc(2026, 10, 26, 4, 59), "aplus-enterprise", "stripe", "payment", 7000, "USD"),  # Sun Oct 25 23:59 CDT
    ("E9", utc(2026, 11, 1, 15, 0), "aplus-enterprise", "stripe", "fee", -300, "USD"),
    ("E10", utc(2026, 11, 2, 6, 30), "aplus-enterprise", "stripe", "payment", 99999, "USD"),  # Nov 2 00:30 CST
    ("E11", utc(2026, 11, 1, 20, 0), "legacy-unchained", "gumroad", "refund", -1500, "JPY"),
]


@pytest.fixture
def ledger(entities):
    """The hand-computed ledger above, recorded through the real ledger service. name -> event."""
    events = {}
    for name, occurred_at, slug, provider, kind, amount, currency in LEDGER:
        entry = ledger_entry(
            event_id=f"ledger:{name}",
            provider=provider,
            kind=kind,
            amount_cents=amount,
            currency=currency,
            occurred_at=occurred_at,
            event_type="sale" if kind == "payment" else kind,
        )
        events[name] = revenue_event_record(entry=entry, entity=entities[slug]).event
    return events

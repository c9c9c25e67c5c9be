"""Checks of `revenue_daily_rollup` (kept by triggers) against the ledger it summarises."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from ..models import RevenueDailyRollup, RevenueEvent

_UTC = ZoneInfo("UTC")


def revenue_daily_rollup_expected() -> QuerySet[RevenueEvent, Mapping[str, Any]]:
    """What revenue_daily_rollup should hold, computed from the ledger (one GROUP BY)."""
    return (
        RevenueEvent.objects.order_by()
        .annotate(day=TruncDate("occurred_at", tzinfo=_UTC))
        .values("day", "entity_id", "provider", "currency", "kind")
        .annotate(
            credit=Coalesce(Sum("amount_cents", filter=Q(amount_cents__gt=0)), 0),
            debit=Coalesce(Sum("amount_cents", filter=Q(amount_cents__lt=0)), 0),
            rows=Count("id"),
        )
    )


# (UTC day, entity id, provider, currency, kind)
RollupKey = tuple[date, int, str, str, str]


def revenue_daily_rollup_drift() -> list[RollupKey]:
    """Keys (UTC day, entity id, provider, currency, kind) where the rollup differs from the ledger.

    Empty unless the triggers were bypassed (a restore or replica with triggers disabled).
    """
    expected = {
        (r["day"], r["entity_id"], r["provider"], r["currency"], r["kind"]): (r["credit"], r["debit"], r["rows"])
        for r in revenue_daily_rollup_expected().iterator()
    }
    stored = {
        (r.occurred_on_utc, r.entity_id, r.provider, r.currency, r.kind): (r.credit_cents, r.debit_cents, r.event_count)
        for r in RevenueDailyRollup.objects.exclude(event_count=0).iterator()
    }
    return sorted(key for key in expected.keys() | stored.keys() if expected.get(key) != stored.get(key))

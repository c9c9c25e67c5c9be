"""Reads about conversion to the reporting currency: which ledger rows have no rate ("no rate")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Min

from ..business_time import day_start
from ..models import RevenueEvent


@dataclass(frozen=True)
class MissingRate:
    currency: str
    rows: int
    first_on: date  # the earliest business day concerned (UTC date of the first row is close enough to name it)


def rows_without_rate(*, since: date) -> list[MissingRate]:
    """Per currency, ledger rows since `since` that carry no USD amount because no rate existed (one query)."""
    groups = (
        RevenueEvent.objects.filter(amount_usd_cents__isnull=True, occurred_at__gte=day_start(since))
        .order_by()
        .values("currency")
        .annotate(rows=Count("id"), first=Min("occurred_at"))
        .order_by("currency")
    )
    return [MissingRate(g["currency"], g["rows"], g["first"].date()) for g in groups]

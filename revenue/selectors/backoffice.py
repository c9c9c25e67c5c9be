"""Reads for the back office overview (admin index)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Count, Sum

from ..business_time import business_today, day_bounds
from ..models import RevenueEvent
from ..money import format_money


# Plain dicts, not a TypedDict: the back office template tag adds a "url" key to each row.
def revenue_by_entity_and_currency(*, day: date | None = None) -> list[dict[str, Any]]:
    """Net ledger total per entity and currency for one business day (GROUP BY in the database).

    Never summed across currencies.
    """
    day = day or business_today()
    start, end = day_bounds(day)
    rows = (
        RevenueEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        .values("entity_id", "entity__name", "currency")
        .annotate(total_cents=Sum("amount_cents"), count=Count("id"))
        .order_by("entity__name", "currency")
    )
    return [
        {
            "entity_id": row["entity_id"],
            "entity": row["entity__name"],
            "currency": row["currency"],
            "total_cents": row["total_cents"],
            "total": format_money(row["total_cents"], row["currency"]),
            "count": row["count"],
        }
        for row in rows
    ]

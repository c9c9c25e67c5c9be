"""Trend series per currency over business periods (daily, weekly or monthly), with growth of net.

Amount buckets are those of `totals` (gross, refunds, other debits, net, count), in
integer minor units per currency; buckets are business periods (DST-correct).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from ..business_time import business_zone, day_start
from ..models import Entity, RevenueEvent
from ..periods import Cadence, cadence_of, periods_between
from .totals import _amount_aggregates


def growth_ratio(current: int, previous: int) -> str | None:
    """Period-over-period growth of net as a decimal string (0.2500 = +25 %); None when previous is 0."""
    if previous == 0:
        return None
    ratio = (Decimal(current) - Decimal(previous)) / abs(Decimal(previous))
    return str(ratio.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class TrendPoint:
    period_start: date
    period_end: date  # inclusive business date
    gross_cents: int
    refunds_cents: int
    other_debits_cents: int
    net_cents: int
    count: int
    growth: str | None
    complete: bool


@dataclass(frozen=True)
class Trends:
    cadence: Cadence
    start: date
    end: date
    series: dict[str, list[TrendPoint]]  # currency -> points


_TRUNC = {Cadence.DAILY: TruncDay, Cadence.WEEKLY: TruncWeek, Cadence.MONTHLY: TruncMonth}


def revenue_trends(
    *,
    cadence: str,
    start: date,
    end: date,
    entity: Entity | None = None,
    provider: str | None = None,
    today: date | None = None,
) -> Trends:
    """Series per currency of business periods of `cadence` overlapping [start, end], with growth of net.

    Buckets are computed in the database (date_trunc in the business zone, so a
    DST day is 23 or 25 hours). The period before the first one is read too so the
    first point has a growth figure. Empty periods are zero-filled.
    """
    cadence = cadence_of(cadence)
    periods = periods_between(cadence, start, end)
    before = periods[0].previous().first_day
    range_start = day_start(before)
    range_end = day_start(periods[-1].last_day + timedelta(days=1))
    queryset = RevenueEvent.objects.filter(occurred_at__gte=range_start, occurred_at__lt=range_end)
    if entity is not None:
        queryset = queryset.filter(entity=entity)
    if provider:
        queryset = queryset.filter(provider=provider)
    bucket = _TRUNC[cadence]("occurred_at", tzinfo=business_zone())
    grouped = (
        queryset.order_by()
        .annotate(bucket=bucket)
        .values("bucket", "currency")
        .annotate(**_amount_aggregates())
        .order_by("currency", "bucket")
    )
    found: dict[str, dict[date, Mapping[str, Any]]] = defaultdict(dict)
    for group in grouped:
        found[group["currency"]][group["bucket"].date()] = group
    today = today or timezone.now().astimezone(business_zone()).date()
    series: dict[str, list[TrendPoint]] = {}
    for currency in sorted(found):
        values_by_first = found[currency]
        previous_net = values_by_first.get(before, {}).get("net_cents", 0)
        points = []
        for period in periods:
            values = values_by_first.get(period.first_day, {})
            net = values.get("net_cents", 0)
            points.append(
                TrendPoint(
                    period_start=period.first_day,
                    period_end=period.last_day,
                    gross_cents=values.get("gross_cents", 0),
                    refunds_cents=values.get("refunds_cents", 0),
                    other_debits_cents=values.get("other_debits_cents", 0),
                    net_cents=net,
                    count=values.get("count", 0),
                    growth=growth_ratio(net, previous_net),
                    complete=period.last_day < today,
                )
            )
            previous_net = net
        series[currency] = points
    return Trends(cadence=cadence, start=periods[0].first_day, end=periods[-1].last_day, series=series)

"""Trend series per currency over business periods (daily, weekly or monthly), with growth of net.

Each point carries the money buckets (`revenue.selectors.buckets`) and the API 1.0 sign
split of `totals` (gross, refunds, other debits, net, count), in integer minor units per
currency; points are business periods (DST-correct).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from ..business_time import business_zone, day_start
from ..models import Entity, RevenueEvent
from ..periods import Cadence, Period, cadence_of, periods_between
from .buckets import BUCKET_FIELDS, MoneyBuckets
from .totals import API10_REFUNDS_KINDS


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
    buckets: dict[str, int]  # BUCKET_FIELDS -> minor units


@dataclass(frozen=True)
class Trends:
    cadence: Cadence
    start: date
    end: date
    series: dict[str, list[TrendPoint]]  # currency -> points


_TRUNC = {Cadence.DAILY: TruncDay, Cadence.WEEKLY: TruncWeek, Cadence.MONTHLY: TruncMonth}


def _empty(currency: str) -> dict[str, Any]:
    return {
        "gross_cents": 0,
        "refunds_cents": 0,
        "other_debits_cents": 0,
        "net_cents": 0,
        "count": 0,
        "buckets": MoneyBuckets(currency),
    }


def _fold(point: dict[str, Any], group: Mapping[str, Any]) -> None:
    """Add one (period, currency, kind) group: the API 1.0 sign split and the money buckets."""
    credit, debit = group["credit"], group["debit"]
    point["gross_cents"] += credit
    point["refunds_cents" if group["kind"] in API10_REFUNDS_KINDS else "other_debits_cents"] += debit
    point["net_cents"] += credit + debit
    point["count"] += group["rows"]
    point["buckets"].add(kind=group["kind"], amount_cents=credit + debit, count=group["rows"])


def _points(
    values_by_first: dict[date, dict[str, Any]], periods: list[Period], *, before: date, today: date
) -> list[TrendPoint]:
    """One currency's points, zero-filled, each with its growth of net against the period before."""
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
                buckets=values["buckets"].as_dict() if values else dict.fromkeys(BUCKET_FIELDS, 0),
            )
        )
        previous_net = net
    return points


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
        .values("bucket", "currency", "kind")
        .annotate(
            credit=Sum("amount_cents", filter=Q(amount_cents__gt=0), default=0),
            debit=Sum("amount_cents", filter=Q(amount_cents__lt=0), default=0),
            rows=Count("id"),
        )
    )
    found: dict[str, dict[date, dict[str, Any]]] = defaultdict(dict)
    for group in grouped:
        _fold(found[group["currency"]].setdefault(group["bucket"].date(), _empty(group["currency"])), group)
    today = today or timezone.now().astimezone(business_zone()).date()
    series = {currency: _points(found[currency], periods, before=before, today=today) for currency in sorted(found)}
    return Trends(cadence=cadence, start=periods[0].first_day, end=periods[-1].last_day, series=series)

"""Reads over the ledger for reports and the API. Aggregation happens in the database.

Every sum is per currency (never across currencies) in integer minor units.
Periods are business periods (REVENUE_TIME_ZONE, DST-correct), half-open in UTC.

Amount buckets, for every report:
- gross_cents: the sum of positive rows (payments, dispute reversals, positive adjustments);
- refunds_cents: the sum of refund and dispute rows (zero or negative);
- other_debits_cents: every other negative row (fees, negative adjustments, reversals);
- net_cents = gross_cents + refunds_cents + other_debits_cents (the sum of all rows);
- count: the number of ledger rows.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import reduce
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate, TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from .business_time import business_zone, day_start, month_start, week_start
from .models import Entity, RevenueDailyRollup, RevenueEvent

DEBIT_REFUND_KINDS = (RevenueEvent.Kind.REFUND, RevenueEvent.Kind.DISPUTE)
GRANULARITIES = ("daily", "weekly", "monthly")
AMOUNT_FIELDS = ("gross_cents", "refunds_cents", "other_debits_cents", "net_cents", "count")


def _amount_aggregates(condition: Q | None = None, prefix: str = "") -> dict:
    """gross / refunds / other debits / net / count, optionally restricted to `condition`."""

    def where(extra: Q | None) -> Q | None:
        if condition is None:
            return extra
        return condition if extra is None else condition & extra

    def total(extra: Q | None):
        return Coalesce(Sum("amount_cents", filter=where(extra)), 0)

    refunds = Q(amount_cents__lt=0, kind__in=DEBIT_REFUND_KINDS)
    return {
        f"{prefix}gross_cents": total(Q(amount_cents__gt=0)),
        f"{prefix}refunds_cents": total(refunds),
        f"{prefix}other_debits_cents": total(Q(amount_cents__lt=0) & ~Q(kind__in=DEBIT_REFUND_KINDS)),
        f"{prefix}net_cents": total(None),
        f"{prefix}count": Count("id", filter=where(None)) if condition is not None else Count("id"),
    }


# ---------------------------------------------------------------------------- totals


@dataclass(frozen=True)
class Period:
    name: str
    first_day: date
    start_at: datetime  # inclusive, UTC
    end_at: datetime  # inclusive (as_of), UTC


@dataclass(frozen=True)
class Totals:
    as_of: datetime
    business_date: date
    periods: list[Period]
    rows: dict[str, list[dict]]  # period name -> rows per (entity, provider, currency)
    by_currency: dict[str, list[dict]]  # period name -> rows per currency


def revenue_totals_periods(*, as_of: datetime) -> list[Period]:
    """Today, week to date and month to date for the business day containing `as_of`."""
    today = as_of.astimezone(business_zone()).date()
    firsts = [("today", today), ("week_to_date", week_start(today)), ("month_to_date", month_start(today))]
    return [Period(name, first, day_start(first), as_of) for name, first in firsts]


_UTC = ZoneInfo("UTC")
_ROLLUP_VENDORS = ("postgresql", "sqlite")  # where migration 0006 installs the rollup triggers


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=_UTC)


def _utc_day_ceil(instant: datetime) -> date:
    """The first UTC date that starts at or after `instant`."""
    day = instant.astimezone(_UTC).date()
    return day if _utc_midnight(day) == instant else day + timedelta(days=1)


def _totals_split(starts: list[datetime], as_of: datetime) -> tuple[list[tuple[date, date]], Q]:
    """Split [earliest start, as_of] into whole UTC days for the rollup and the rest for the ledger.

    A day comes from the rollup when it lies wholly inside the range and no period starts
    inside it (so each day belongs to one segment). Returns the rollup's runs of days
    (first, last inclusive) and the ledger filter for everything else: the ragged ends
    and the days a business period starts in. A period's sum is then exact for any as_of.
    """
    first = min(starts)
    if connection.vendor not in _ROLLUP_VENDORS:
        return [], Q(occurred_at__gte=first, occurred_at__lte=as_of)
    cuts = {start.astimezone(_UTC).date() for start in starts if start != _utc_midnight(_utc_day_ceil(start))}
    runs: list[tuple[date, date]] = []
    day, end = _utc_day_ceil(first), as_of.astimezone(_UTC).date()  # whole days end by as_of: before `end`
    while day < end:
        if day in cuts:
            day += timedelta(days=1)
            continue
        last = day
        while last + timedelta(days=1) < end and last + timedelta(days=1) not in cuts:
            last += timedelta(days=1)
        runs.append((day, last))
        day = last + timedelta(days=1)
    ranges, cursor = [], first
    for run_first, run_last in runs:
        if cursor < _utc_midnight(run_first):
            ranges.append(Q(occurred_at__gte=cursor, occurred_at__lt=_utc_midnight(run_first)))
        cursor = _utc_midnight(run_last + timedelta(days=1))
    ranges.append(Q(occurred_at__gte=cursor, occurred_at__lte=as_of))
    return runs, reduce(operator.or_, ranges)


def revenue_totals(*, as_of: datetime | None = None, entity: Entity | None = None) -> Totals:
    """Totals per entity, provider and currency for today, week to date and month to date.

    One query. The range from the earliest period start to `as_of` is cut at the period
    starts into disjoint segments; a period is the sum of the segments it covers. Whole
    UTC days come from `revenue_daily_rollup` (kept by triggers in the writing
    transaction), the rest (at most a few days' rows) from the ledger, and PostgreSQL
    sums both per (entity, provider, currency, kind, segment), UNION ALL. So the cost
    does not grow with the number of rows in the month.
    """
    as_of = as_of or timezone.now()
    periods = revenue_totals_periods(as_of=as_of)
    segment_starts = sorted({period.start_at for period in periods}, reverse=True)  # latest first
    runs, ledger_filter = _totals_split(segment_starts, as_of)

    ledger_rows = RevenueEvent.objects.filter(ledger_filter)
    if entity is not None:
        ledger_rows = ledger_rows.filter(entity=entity)
    ledger_segment = Case(
        *[When(occurred_at__gte=start, then=Value(index)) for index, start in enumerate(segment_starts)],
        output_field=IntegerField(),
    )
    grouped = _grouped(
        ledger_rows,
        ledger_segment,
        credit=Sum("amount_cents", filter=Q(amount_cents__gt=0)),
        debit=Sum("amount_cents", filter=Q(amount_cents__lt=0)),
        rows=Count("*"),
    )
    if runs:
        days = reduce(operator.or_, [Q(occurred_on_utc__range=run) for run in runs])
        rollup_rows = RevenueDailyRollup.objects.filter(days, event_count__gt=0)
        if entity is not None:
            rollup_rows = rollup_rows.filter(entity=entity)
        # A rollup day lies wholly in one segment: it is in segment i when it starts at or after start i.
        rollup_segment = Case(
            *[
                When(occurred_on_utc__gte=_utc_day_ceil(start), then=Value(index))
                for index, start in enumerate(segment_starts)
            ],
            output_field=IntegerField(),
        )
        grouped = grouped.union(
            _grouped(
                rollup_rows,
                rollup_segment,
                credit=Sum("credit_cents"),
                debit=Sum("debit_cents"),
                rows=Sum("event_count"),
            ),
            all=True,
        )

    covers = {
        period.name: {i for i, start in enumerate(segment_starts) if start >= period.start_at} for period in periods
    }
    sums: dict[str, dict[tuple, dict]] = {period.name: {} for period in periods}
    for group in grouped:
        key = (group["g_entity"], group["g_provider"], group["g_currency"])
        debit_bucket = "refunds_cents" if group["g_kind"] in DEBIT_REFUND_KINDS else "other_debits_cents"
        for period in periods:
            if group["g_segment"] not in covers[period.name]:
                continue
            row = sums[period.name].setdefault(key, dict.fromkeys(AMOUNT_FIELDS, 0))
            row["gross_cents"] += group["credit"] or 0
            row[debit_bucket] += group["debit"] or 0
            row["net_cents"] += (group["credit"] or 0) + (group["debit"] or 0)
            row["count"] += group["rows"]
    rows: dict[str, list[dict]] = {}
    by_currency: dict[str, list[dict]] = {}
    for period in periods:
        rows[period.name] = [
            {"entity": slug, "provider": provider, "currency": currency, **values}
            for (slug, provider, currency), values in sorted(sums[period.name].items())
        ]
        currency_rows: dict[str, dict] = {}
        for row in rows[period.name]:  # rows of ONE currency are added: never across currencies
            total = currency_rows.setdefault(
                row["currency"], {"currency": row["currency"], **dict.fromkeys(AMOUNT_FIELDS, 0)}
            )
            for field in AMOUNT_FIELDS:
                total[field] += row[field]
        by_currency[period.name] = sorted(currency_rows.values(), key=lambda r: r["currency"])
    return Totals(
        as_of=as_of,
        business_date=periods[0].first_day,
        periods=periods,
        rows=rows,
        by_currency=by_currency,
    )


def _grouped(queryset: QuerySet, segment: Case, **sums) -> QuerySet:
    """(entity slug, provider, currency, kind, segment) groups with `sums`; the same columns for
    the ledger and the rollup, so the two can be UNION ALL-ed."""
    return (
        queryset.order_by()
        .annotate(
            g_entity=F("entity__slug"),
            g_provider=F("provider"),
            g_currency=F("currency"),
            g_kind=F("kind"),
            g_segment=segment,
        )
        .values("g_entity", "g_provider", "g_currency", "g_kind", "g_segment")
        .annotate(**sums)
    )


# ---------------------------------------------------------------------------- trends


def period_floor(day: date, granularity: str) -> date:
    if granularity == "daily":
        return day
    if granularity == "weekly":
        return week_start(day)
    return month_start(day)


def period_next(first_day: date, granularity: str) -> date:
    if granularity == "daily":
        return first_day + timedelta(days=1)
    if granularity == "weekly":
        return first_day + timedelta(days=7)
    return (first_day.replace(day=28) + timedelta(days=4)).replace(day=1)


def period_previous(first_day: date, granularity: str) -> date:
    if granularity == "daily":
        return first_day - timedelta(days=1)
    if granularity == "weekly":
        return first_day - timedelta(days=7)
    return (first_day - timedelta(days=1)).replace(day=1)


def period_count(start: date, end: date, granularity: str) -> int:
    """How many periods overlap [start, end], without listing them."""
    if granularity == "daily":
        return (end - start).days + 1
    if granularity == "weekly":
        return (week_start(end) - week_start(start)).days // 7 + 1
    return (end.year - start.year) * 12 + end.month - start.month + 1


def periods_between(start: date, end: date, granularity: str) -> list[date]:
    """First days of every period that overlaps [start, end]."""
    firsts, current = [], period_floor(start, granularity)
    while current <= end:
        firsts.append(current)
        current = period_next(current, granularity)
    return firsts


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
    granularity: str
    start: date
    end: date
    series: dict[str, list[TrendPoint]]  # currency -> points


_TRUNC = {"daily": TruncDay, "weekly": TruncWeek, "monthly": TruncMonth}


def revenue_trends(
    *,
    granularity: str,
    start: date,
    end: date,
    entity: Entity | None = None,
    provider: str | None = None,
    today: date | None = None,
) -> Trends:
    """Series per currency of business periods overlapping [start, end], with growth of net.

    Buckets are computed in the database (date_trunc in the business zone, so a
    DST day is 23 or 25 hours). The period before the first one is read too so the
    first point has a growth figure. Empty periods are zero-filled.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}")
    firsts = periods_between(start, end, granularity)
    before = period_previous(firsts[0], granularity)
    range_start = day_start(before)
    range_end = day_start(period_next(firsts[-1], granularity))
    queryset = RevenueEvent.objects.filter(occurred_at__gte=range_start, occurred_at__lt=range_end)
    if entity is not None:
        queryset = queryset.filter(entity=entity)
    if provider:
        queryset = queryset.filter(provider=provider)
    bucket = _TRUNC[granularity]("occurred_at", tzinfo=business_zone())
    grouped = (
        queryset.order_by()
        .annotate(bucket=bucket)
        .values("bucket", "currency")
        .annotate(**_amount_aggregates())
        .order_by("currency", "bucket")
    )
    found: dict[str, dict[date, dict]] = defaultdict(dict)
    for group in grouped:
        found[group["currency"]][group["bucket"].date()] = group
    today = today or timezone.now().astimezone(business_zone()).date()
    series: dict[str, list[TrendPoint]] = {}
    for currency in sorted(found):
        values_by_first = found[currency]
        previous_net = values_by_first.get(before, {}).get("net_cents", 0)
        points = []
        for first in firsts:
            values = values_by_first.get(first, {})
            net = values.get("net_cents", 0)
            last = period_next(first, granularity) - timedelta(days=1)
            points.append(
                TrendPoint(
                    period_start=first,
                    period_end=last,
                    gross_cents=values.get("gross_cents", 0),
                    refunds_cents=values.get("refunds_cents", 0),
                    other_debits_cents=values.get("other_debits_cents", 0),
                    net_cents=net,
                    count=values.get("count", 0),
                    growth=growth_ratio(net, previous_net),
                    complete=last < today,
                )
            )
            previous_net = net
        series[currency] = points
    return Trends(
        granularity=granularity, start=firsts[0], end=period_next(firsts[-1], granularity) - timedelta(1), series=series
    )


# ---------------------------------------------------------------------------- events


def revenue_events_list(
    *,
    provider: str | None = None,
    entity: Entity | None = None,
    kind: str | None = None,
    currency: str | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
    updated_since: datetime | None = None,
) -> QuerySet[RevenueEvent]:
    """Ledger rows matching the filters, ordered by the unique key (occurred_at, id).

    `occurred_to` is exclusive. Rows are append-only, so "updated since" is the
    time the row was written (created_at).
    """
    queryset = RevenueEvent.objects.select_related("entity").order_by("occurred_at", "id")
    if provider:
        queryset = queryset.filter(provider=provider)
    if entity is not None:
        queryset = queryset.filter(entity=entity)
    if kind:
        queryset = queryset.filter(kind=kind)
    if currency:
        queryset = queryset.filter(currency=currency)
    if occurred_from is not None:
        queryset = queryset.filter(occurred_at__gte=occurred_from)
    if occurred_to is not None:
        queryset = queryset.filter(occurred_at__lt=occurred_to)
    if updated_since is not None:
        queryset = queryset.filter(created_at__gte=updated_since)
    return queryset


def revenue_events_after(
    queryset: QuerySet[RevenueEvent], *, occurred_at: datetime, event_pk
) -> QuerySet[RevenueEvent]:
    """Keyset continuation: rows strictly after (occurred_at, id) in (occurred_at, id) order.

    The redundant `occurred_at >= t` lets PostgreSQL start the index range scan at
    the cursor, so a deep page costs the same as the first.
    """
    return queryset.filter(
        Q(occurred_at__gte=occurred_at) & (Q(occurred_at__gt=occurred_at) | Q(occurred_at=occurred_at, id__gt=event_pk))
    )


def revenue_events_page(
    queryset: QuerySet[RevenueEvent], *, limit: int, after: tuple[datetime, object] | None = None
) -> tuple[list[RevenueEvent], bool]:
    """One page (no COUNT): fetch limit + 1 rows; the extra row only says whether there is more."""
    if after is not None:
        queryset = revenue_events_after(queryset, occurred_at=after[0], event_pk=after[1])
    rows = list(queryset[: limit + 1])
    return rows[:limit], len(rows) > limit


def entity_by_slug(slug: str) -> Entity | None:
    return Entity.objects.filter(slug=slug).first()


# ---------------------------------------------------------------------------- daily rollup


def revenue_daily_rollup_expected() -> QuerySet:
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


def revenue_daily_rollup_drift() -> list[tuple]:
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

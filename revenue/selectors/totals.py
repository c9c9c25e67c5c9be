"""Reads over the ledger for reports and the API. Aggregation happens in the database.

Every sum is per currency (never across currencies) in integer minor units.
Periods are business periods (REVENUE_TIME_ZONE, DST-correct), half-open in UTC.

Each row carries the money buckets (`buckets`: payments, refunds, disputes, disputes won
back, fees, adjustments, net; defined once in `revenue.selectors.buckets`) and, for API
clients written before them, the sign split of API 1.0 under its own names:
- gross_cents: the sum of positive rows (payments, dispute reversals, positive adjustments);
- refunds_cents: the sum of refund and dispute rows (zero or negative);
- other_debits_cents: every other negative row (fees, negative adjustments, reversals);
- net_cents = gross_cents + refunds_cents + other_debits_cents (the sum of all rows, = buckets net);
- count: the number of ledger rows.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import reduce
from typing import Any, Literal, TypedDict
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Aggregate, Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..business_time import business_zone, day_start, month_start, week_start
from ..models import Entity, RevenueDailyRollup, RevenueEvent
from .buckets import BUCKET_FIELDS, MoneyBuckets

# The kinds API 1.0 counts in its `refunds_cents` (refunds AND disputes; not the refunds bucket).
API10_REFUNDS_KINDS = (RevenueEvent.Kind.REFUND, RevenueEvent.Kind.DISPUTE)
AmountField = Literal["gross_cents", "refunds_cents", "other_debits_cents", "net_cents", "count"]
AMOUNT_FIELDS: tuple[AmountField, ...] = ("gross_cents", "refunds_cents", "other_debits_cents", "net_cents", "count")


class Amounts(TypedDict):
    """The amounts of one report row (see the module docstring)."""

    gross_cents: int
    refunds_cents: int
    other_debits_cents: int
    net_cents: int
    count: int
    buckets: dict[str, int]  # BUCKET_FIELDS -> minor units


class TotalsRow(Amounts):
    entity: str  # entity slug
    provider: str
    currency: str


class CurrencyTotalsRow(Amounts):
    currency: str


def _zero_amounts() -> Amounts:
    return Amounts(
        gross_cents=0,
        refunds_cents=0,
        other_debits_cents=0,
        net_cents=0,
        count=0,
        buckets=dict.fromkeys(BUCKET_FIELDS, 0),
    )


def _add_amounts(total: Amounts, row: Amounts) -> None:
    """Add `row` to `total` (both of one currency)."""
    for name in AMOUNT_FIELDS:
        total[name] += row[name]
    for bucket_field in BUCKET_FIELDS:
        total["buckets"][bucket_field] += row["buckets"][bucket_field]


def _amount_aggregates(condition: Q | None = None, prefix: str = "") -> dict[str, Aggregate | Coalesce]:
    """gross / refunds / other debits / net / count, optionally restricted to `condition`."""

    def where(extra: Q | None) -> Q | None:
        if condition is None:
            return extra
        return condition if extra is None else condition & extra

    def total(extra: Q | None) -> Coalesce:
        return Coalesce(Sum("amount_cents", filter=where(extra)), 0)

    refunds = Q(amount_cents__lt=0, kind__in=API10_REFUNDS_KINDS)
    return {
        f"{prefix}gross_cents": total(Q(amount_cents__gt=0)),
        f"{prefix}refunds_cents": total(refunds),
        f"{prefix}other_debits_cents": total(Q(amount_cents__lt=0) & ~Q(kind__in=API10_REFUNDS_KINDS)),
        f"{prefix}net_cents": total(None),
        f"{prefix}count": Count("id", filter=where(None)) if condition is not None else Count("id"),
    }


# ---------------------------------------------------------------------------- totals


@dataclass(frozen=True)
class TotalsPeriod:
    """A to-date window of the totals report ("today", "week_to_date", "month_to_date"), ending at as_of."""

    name: str
    first_day: date
    start_at: datetime  # inclusive, UTC
    end_at: datetime  # inclusive (as_of), UTC


@dataclass(frozen=True)
class Totals:
    as_of: datetime
    business_date: date
    periods: list[TotalsPeriod]
    rows: dict[str, list[TotalsRow]]  # period name -> rows per (entity, provider, currency)
    by_currency: dict[str, list[CurrencyTotalsRow]]  # period name -> rows per currency


def revenue_totals_periods(*, as_of: datetime) -> list[TotalsPeriod]:
    """Today, week to date and month to date for the business day containing `as_of`."""
    today = as_of.astimezone(business_zone()).date()
    firsts = [("today", today), ("week_to_date", week_start(today)), ("month_to_date", month_start(today))]
    return [TotalsPeriod(name, first, day_start(first), as_of) for name, first in firsts]


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
    grouped = _segment_sums(segment_starts, as_of=as_of, entity=entity)
    sums = _period_sums(grouped, periods=periods, segment_starts=segment_starts)
    rows: dict[str, list[TotalsRow]] = {}
    by_currency: dict[str, list[CurrencyTotalsRow]] = {}
    for period in periods:
        rows[period.name] = [
            {"entity": slug, "provider": provider, "currency": currency, **values}
            for (slug, provider, currency), values in sorted(sums[period.name].items())
        ]
        by_currency[period.name] = _per_currency(rows[period.name])
    return Totals(
        as_of=as_of,
        business_date=periods[0].first_day,
        periods=periods,
        rows=rows,
        by_currency=by_currency,
    )


def _segment_sums(
    segment_starts: list[datetime], *, as_of: datetime, entity: Entity | None
) -> QuerySet[Any, Mapping[str, Any]]:
    """Credit, debit and row count per (entity, provider, currency, kind, segment): the ledger's rows
    for partial UTC days UNION ALL the rollup's whole days."""
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
    if not runs:
        return grouped
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
    rollup = _grouped(
        rollup_rows, rollup_segment, credit=Sum("credit_cents"), debit=Sum("debit_cents"), rows=Sum("event_count")
    )
    return grouped.union(rollup, all=True)


def _period_sums(
    grouped: Iterable[Mapping[str, Any]], *, periods: list[TotalsPeriod], segment_starts: list[datetime]
) -> dict[str, dict[tuple[str, str, str], Amounts]]:
    """Each period's amounts per (entity, provider, currency): the sum of the segments it covers."""
    covers = {
        period.name: {i for i, start in enumerate(segment_starts) if start >= period.start_at} for period in periods
    }
    sums: dict[str, dict[tuple[str, str, str], Amounts]] = {period.name: {} for period in periods}
    for group in grouped:
        key = (group["g_entity"], group["g_provider"], group["g_currency"])
        debit_bucket: AmountField = "refunds_cents" if group["g_kind"] in API10_REFUNDS_KINDS else "other_debits_cents"
        for period in periods:
            if group["g_segment"] not in covers[period.name]:
                continue
            row = sums[period.name].setdefault(key, _zero_amounts())
            row["gross_cents"] += group["credit"] or 0
            row[debit_bucket] += group["debit"] or 0
            row["net_cents"] += (group["credit"] or 0) + (group["debit"] or 0)
            row["count"] += group["rows"]
            _add_bucket(
                row, kind=group["g_kind"], currency=key[2], amount=(group["credit"] or 0) + (group["debit"] or 0)
            )
    return sums


def _per_currency(rows: list[TotalsRow]) -> list[CurrencyTotalsRow]:
    """The rows of ONE currency added together, per currency: never across currencies."""
    currency_rows: dict[str, CurrencyTotalsRow] = {}
    for row in rows:
        total = currency_rows.setdefault(row["currency"], {"currency": row["currency"], **_zero_amounts()})
        _add_amounts(total, row)
    return sorted(currency_rows.values(), key=lambda r: r["currency"])


def _add_bucket(row: Amounts, *, kind: str, currency: str, amount: int) -> None:
    buckets = MoneyBuckets(currency)
    buckets.add(kind=kind, amount_cents=amount, count=0)
    for name, value in buckets.as_dict().items():
        row["buckets"][name] += value


def _grouped(
    queryset: QuerySet[RevenueEvent] | QuerySet[RevenueDailyRollup], segment: Case, **sums: Aggregate
) -> QuerySet[Any, Mapping[str, Any]]:
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

"""Reads for the dashboard page (branchberg.dashboard): every figure is a GROUP BY in the database.

Amounts stay in integer minor units per currency; nothing is ever summed
across currencies. Days and months are business days/months in
REVENUE_TIME_ZONE (America/Chicago): the database buckets `occurred_at` with
`AT TIME ZONE`, so a DST day has 23 or 25 hours and an event at 23:30 Central
lands on its Central day, not on the next UTC day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncMonth

from ..business_time import business_zone, day_bounds, day_start, month_end, month_start, week_start
from ..models import Entity, Payout, RevenueEvent
from ..money import format_money
from .buckets import MoneyBuckets, buckets_fold, gumroad_fees_unknown_currencies, gumroad_sales_without_fee


def currency_sort_key(currency: str) -> tuple[int, str]:
    """Reporting currency first, then alphabetical."""
    return (0 if currency == settings.REPORTING_CURRENCY else 1, currency)


# --- KPI cards -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A half-open UTC interval [start, end)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class PeriodWindows:
    key: str
    label: str
    comparison_label: str
    current: Span
    previous: Span


def _at_same_wall_time(day: date, local_now: datetime) -> datetime:
    """`day` at the wall-clock time of `local_now` in the business zone (DST-aware)."""
    return datetime.combine(day, local_now.time(), tzinfo=business_zone())


def kpi_windows(now: datetime) -> list[PeriodWindows]:
    """Today, week to date and month to date, each against the same span of the previous period.

    The current period runs to the end of today; the previous one stops at the same
    wall-clock time (yesterday by this time, last week by this weekday and time, last
    month by this day and time), so a half-finished day is never compared with a whole one.
    """
    local_now = now.astimezone(business_zone())
    today = local_now.date()
    tomorrow_start = day_start(today + timedelta(days=1))

    yesterday = today - timedelta(days=1)
    this_week = week_start(today)
    last_week_day = today - timedelta(days=7)

    this_month = month_start(today)
    previous_month_last = this_month - timedelta(days=1)
    previous_month = month_start(previous_month_last)
    if today.day > previous_month_last.day:
        # e.g. 31 March against February: the whole of February.
        previous_month_end = day_start(this_month)
    else:
        previous_month_end = _at_same_wall_time(previous_month.replace(day=today.day), local_now)

    return [
        PeriodWindows(
            "today",
            "Today",
            "vs yesterday by this time",
            Span(day_start(today), tomorrow_start),
            Span(day_start(yesterday), _at_same_wall_time(yesterday, local_now)),
        ),
        PeriodWindows(
            "week",
            "Week to date",
            "vs last week to date",
            Span(day_start(this_week), tomorrow_start),
            Span(day_start(this_week - timedelta(days=7)), _at_same_wall_time(last_week_day, local_now)),
        ),
        PeriodWindows(
            "month",
            "Month to date",
            "vs last month to date",
            Span(day_start(this_month), tomorrow_start),
            Span(day_start(previous_month), previous_month_end),
        ),
    ]


@dataclass(frozen=True)
class KpiFigure:
    """Net revenue in one currency for a period and the comparable span before it."""

    currency: str
    current_cents: int
    previous_cents: int

    @property
    def current_display(self) -> str:
        return format_money(self.current_cents, self.currency)

    @property
    def previous_display(self) -> str:
        return format_money(self.previous_cents, self.currency)

    @property
    def change_pct(self) -> Decimal | None:
        """Change against the previous span in percent (one decimal); None when there is nothing to compare."""
        if self.previous_cents == 0:
            return None
        change = Decimal(self.current_cents - self.previous_cents) * 100 / abs(Decimal(self.previous_cents))
        return change.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)

    @property
    def direction(self) -> str:
        if self.current_cents > self.previous_cents:
            return "up"
        if self.current_cents < self.previous_cents:
            return "down"
        return "flat"

    @property
    def change_display(self) -> str:
        pct = self.change_pct
        if pct is None:
            return "new" if self.current_cents else "no change"
        return f"{pct:+}%"


@dataclass
class KpiPeriod:
    key: str
    label: str
    comparison_label: str
    figures: list[KpiFigure] = field(default_factory=list)


@dataclass
class KpiCard:
    """One scope (an entity, or every entity together) with its three periods."""

    title: str
    slug: str
    periods: list[KpiPeriod]
    # A Gumroad sale this month has no fee row yet: the net figures leave its fee out (unknown, not zero).
    gumroad_fees_unknown: bool = False

    @property
    def is_empty(self) -> bool:
        return not any(period.figures for period in self.periods)


def kpi_cards(*, now: datetime, entities: list[Entity], entity: Entity | None = None) -> list[KpiCard]:
    """Net revenue cards: a "total" card (when showing every entity) followed by one card per entity.

    One query: GROUP BY entity, currency with a filtered SUM per period window.
    The total card adds up those aggregates per currency, never across currencies.
    """
    windows = kpi_windows(now)
    aggregates: dict[str, Sum] = {}
    for window in windows:
        for which in ("current", "previous"):
            span: Span = getattr(window, which)
            aggregates[f"{window.key}_{which}"] = Sum(
                "amount_cents", filter=Q(occurred_at__gte=span.start, occurred_at__lt=span.end), default=0
            )
    earliest = min(min(w.current.start, w.previous.start) for w in windows)
    latest = max(w.current.end for w in windows)
    queryset = RevenueEvent.objects.filter(occurred_at__gte=earliest, occurred_at__lt=latest)
    if entity is not None:
        queryset = queryset.filter(entity=entity)
    # The per-window keys are built at run time, so the row type cannot list them.
    rows: list[Mapping[str, Any]] = list(queryset.values("entity_id", "currency").annotate(**aggregates).order_by())

    # (scope, period, currency) -> [current, previous]; scope None is the total.
    sums: dict[tuple[int | None, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        for window in windows:
            current, previous = row[f"{window.key}_current"], row[f"{window.key}_previous"]
            if not current and not previous:
                continue
            for scope in (row["entity_id"], None):
                pair = sums[(scope, window.key, row["currency"])]
                pair[0] += current
                pair[1] += previous

    month = next(w for w in windows if w.key == "month")
    unknown_scopes = set(
        gumroad_sales_without_fee(
            queryset.filter(occurred_at__gte=month.current.start, occurred_at__lt=month.current.end)
        )
        .order_by()
        .values_list("entity_id", flat=True)
        .distinct()
    )

    def card(title: str, slug: str, scope: int | None) -> KpiCard:
        periods = []
        for window in windows:
            currencies = sorted(
                (c for (s, k, c) in sums if s == scope and k == window.key),
                key=currency_sort_key,
            )
            figures = [KpiFigure(c, *sums[(scope, window.key, c)]) for c in currencies]
            periods.append(KpiPeriod(window.key, window.label, window.comparison_label, figures))
        unknown = bool(unknown_scopes) if scope is None else scope in unknown_scopes
        return KpiCard(title, slug, periods, gumroad_fees_unknown=unknown)

    if entity is not None:
        return [card(entity.name, entity.slug, entity.pk)]
    return [card("All entities", "", None)] + [card(e.name, e.slug, e.pk) for e in entities]


# --- Chart series ---------------------------------------------------------------------------------


def range_first_day(today: date, range_days: int) -> date:
    """First business day of a range of `range_days` days ending today (inclusive)."""
    return today - timedelta(days=range_days - 1)


def _events(*, entity: Entity | None, currency: str | None = None) -> QuerySet[RevenueEvent]:
    queryset = RevenueEvent.objects.all()
    if entity is not None:
        queryset = queryset.filter(entity=entity)
    if currency is not None:
        queryset = queryset.filter(currency=currency)
    return queryset


@dataclass
class DailyNetSeries:
    """Net revenue per entity per business day in one currency, for the dashboard chart."""

    currency: str
    days: list[date]
    # One row per entity shown: (entity, net minor units per day, aligned with `days`).
    series: list[tuple[Entity, list[int]]]


def daily_net_revenue(
    *, currency: str, first_day: date, last_day: date, entities: list[Entity], entity: Entity | None = None
) -> DailyNetSeries:
    """Net revenue per entity per business day; days without events are zero."""
    start, end = day_bounds(first_day, last_day)
    rows = (
        _events(entity=entity, currency=currency)
        .filter(occurred_at__gte=start, occurred_at__lt=end)
        .annotate(day=TruncDate("occurred_at", tzinfo=business_zone()))
        .values("entity_id", "day")
        .annotate(net=Sum("amount_cents"))
        .order_by()
    )
    net = {(row["entity_id"], row["day"]): row["net"] for row in rows}
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    shown = [entity] if entity is not None else entities
    return DailyNetSeries(
        currency=currency,
        days=days,
        series=[(e, [net.get((e.pk, day), 0) for day in days]) for e in shown],
    )


@dataclass(frozen=True)
class ProviderTotal:
    provider: str
    label: str
    buckets: MoneyBuckets

    @property
    def net_cents(self) -> int:
        return self.buckets.net_cents

    @property
    def event_count(self) -> int:
        return self.buckets.count


def revenue_by_provider(
    *, currency: str, first_day: date, last_day: date, entity: Entity | None = None
) -> list[ProviderTotal]:
    """The money buckets per provider over the range, largest net first (one GROUP BY provider, kind,
    one query for unknown Gumroad fees)."""
    start, end = day_bounds(first_day, last_day)
    events = _events(entity=entity, currency=currency).filter(occurred_at__gte=start, occurred_at__lt=end)
    rows = events.values("provider", "kind").annotate(amount_cents=Sum("amount_cents"), count=Count("id")).order_by()
    by_provider: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_provider[row["provider"]].append({**row, "currency": currency})
    unknown = gumroad_fees_unknown_currencies(events)
    labels = dict(RevenueEvent.Provider.choices)
    totals = []
    for provider, groups in by_provider.items():
        buckets = buckets_fold(groups)[currency]
        buckets.gumroad_fees_unknown = provider == RevenueEvent.Provider.GUMROAD and currency in unknown
        totals.append(ProviderTotal(provider, labels.get(provider, provider), buckets))
    return sorted(totals, key=lambda t: (-t.net_cents, t.provider))


@dataclass(frozen=True)
class MonthTotal:
    month: date
    buckets: MoneyBuckets

    @property
    def net_cents(self) -> int:
        return self.buckets.net_cents


def monthly_buckets(
    *, currency: str, first_day: date, last_day: date, entity: Entity | None = None
) -> list[MonthTotal]:
    """The money buckets per business month.

    Every month the range touches is shown in full, so the first bar is never a
    partial month. Months without events are zero.
    """
    first_month = month_start(first_day)
    start, end = day_bounds(first_month, month_end(last_day))
    events = _events(entity=entity, currency=currency).filter(occurred_at__gte=start, occurred_at__lt=end)
    rows = (
        events.annotate(month=TruncMonth("occurred_at", tzinfo=business_zone()))
        .values("month", "kind")
        .annotate(amount_cents=Sum("amount_cents"), count=Count("id"))
        .order_by()
    )
    by_month: dict[date, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_month[row["month"].astimezone(business_zone()).date()].append({**row, "currency": currency})
    unknown_months = _gumroad_fee_unknown_months(events)
    result = []
    cursor = first_month
    while cursor <= last_day:
        buckets = buckets_fold(by_month.get(cursor, [])).get(currency) or MoneyBuckets(currency)
        buckets.gumroad_fees_unknown = cursor in unknown_months
        result.append(MonthTotal(cursor, buckets))
        cursor = month_end(cursor) + timedelta(days=1)
    return result


def _gumroad_fee_unknown_months(events: QuerySet[RevenueEvent]) -> set[date]:
    months = (
        gumroad_sales_without_fee(events)
        .annotate(month=TruncMonth("occurred_at", tzinfo=business_zone()))
        .order_by()
        .values_list("month", flat=True)
        .distinct()
    )
    return {month.astimezone(business_zone()).date() for month in months}


@dataclass(frozen=True)
class PayoutStatusTotal:
    status: str
    label: str
    count: int
    # (currency, amount in minor units), reporting currency first.
    amounts: list[tuple[str, int]]

    @property
    def amounts_display(self) -> list[str]:
        return [format_money(amount, currency) for currency, amount in self.amounts]


def payout_status_totals(*, first_day: date, entity: Entity | None = None) -> list[PayoutStatusTotal]:
    """Payouts (expected bank deposits) by status: count and amount per currency.

    A payout belongs to the range by its arrival date, or by when it was recorded
    while it has none yet. Every status is listed, in lifecycle order, even at zero.
    """
    queryset = Payout.objects.filter(
        Q(arrival_on__gte=first_day) | Q(arrival_on__isnull=True, created_at__gte=day_start(first_day))
    )
    if entity is not None:
        queryset = queryset.filter(entity=entity)
    rows = queryset.values("status", "currency").annotate(count=Count("id"), amount=Sum("amount_cents")).order_by()
    counts: dict[str, int] = defaultdict(int)
    amounts: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for row in rows:
        counts[row["status"]] += row["count"]
        amounts[row["status"]].append((row["currency"], row["amount"]))
    order = [
        Payout.Status.PAID,
        Payout.Status.IN_TRANSIT,
        Payout.Status.PENDING,
        Payout.Status.FAILED,
        Payout.Status.CANCELED,
    ]
    return [
        PayoutStatusTotal(
            status.value,
            status.label,
            counts[status.value],
            sorted(amounts[status.value], key=lambda pair: currency_sort_key(pair[0])),
        )
        for status in order
    ]


# --- Lists and options ----------------------------------------------------------------------------


def recent_events(*, entity: Entity | None = None, limit: int = 20) -> QuerySet[RevenueEvent]:
    """The latest ledger rows by when the money moved."""
    return _events(entity=entity).select_related("entity").order_by("-occurred_at", "-id")[:limit]


def ledger_currencies(*, since: datetime | None = None) -> list[str]:
    """Currencies that appear in the ledger (since `since`), reporting currency always included."""
    queryset = RevenueEvent.objects.all()
    if since is not None:
        queryset = queryset.filter(occurred_at__gte=since)
    found = set(queryset.order_by().values_list("currency", flat=True).distinct())
    found.add(settings.REPORTING_CURRENCY)
    return sorted(found, key=currency_sort_key)

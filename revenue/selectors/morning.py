"""The owner's morning: the last complete business day against the same weekday a week
earlier, with week to date and month to date up to that day, per entity and in total.

Built on `revenue_totals` (the rollup-backed totals report), read "as of" the last
instant of a business day: its "today" is that day, its week and month to date end
with it. Amounts are net (every ledger row) in integer minor units, per currency;
the total adds entities within one currency, never across currencies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.urls import reverse
from django.utils.http import urlencode

from ..business_time import business_today, day_bounds, day_start, month_start, week_start
from ..models import Entity
from ..money import format_amount, format_money
from .dashboard import KpiFigure, currency_sort_key
from .totals import revenue_totals

WINDOWS = ("day", "compare_day", "week_to_date", "month_to_date")


def ledger_rows_path(*, first_day: date, last_day: date, entity_id: int | None = None, currency: str = "") -> str:
    """The back office ledger list filtered to the rows behind a figure: business days
    [first_day, last_day] (as UTC instants), optionally one entity and one currency."""
    start, end = day_bounds(first_day, last_day)
    query: dict[str, str | int] = {}
    if entity_id is not None:
        query["entity__id__exact"] = entity_id
    if currency:
        query["currency"] = currency
    query |= {"occurred_at__gte": start.isoformat(), "occurred_at__lt": end.isoformat()}
    return f"{reverse('admin:revenue_revenueevent_changelist')}?{urlencode(query)}"


@dataclass(frozen=True)
class MorningCell:
    """One figure of the morning view and where its rows are."""

    amount_cents: int
    currency: str
    count: int
    url: str

    @property
    def display(self) -> str:
        return format_money(self.amount_cents, self.currency)

    @property
    def amount(self) -> str:
        """Without the currency code, for a table that names the currency once per row."""
        return format_amount(self.amount_cents, self.currency)


@dataclass(frozen=True)
class MorningLine:
    """One currency of one scope: the day, the same weekday a week earlier, week and month to date."""

    currency: str
    day: MorningCell
    compare_day: MorningCell
    week_to_date: MorningCell
    month_to_date: MorningCell

    @property
    def change(self) -> KpiFigure:
        """The day against the same weekday last week (direction, percent), as the dashboard's cards say it."""
        return KpiFigure(self.currency, self.day.amount_cents, self.compare_day.amount_cents)


@dataclass(frozen=True)
class MorningScope:
    """Every entity together (slug "") or one entity."""

    name: str
    slug: str
    entity_id: int | None
    lines: list[MorningLine]


@dataclass(frozen=True)
class MorningFigures:
    day: date  # the last complete business day
    compare_day: date  # the same weekday one week earlier
    week_first: date
    month_first: date
    scopes: list[MorningScope]  # the total first, then each entity by name


def _end_of(day: date) -> datetime:
    """The last representable instant of business day `day` (the ledger stores microseconds)."""
    return day_start(day + timedelta(days=1)) - timedelta(microseconds=1)


Sums = dict[tuple[str, str], dict[str, list[int]]]  # (entity slug or "", currency) -> window -> [net, count]


def _sums(day: date, compare_day: date, entity: Entity | None) -> Sums:
    sums: Sums = defaultdict(lambda: {window: [0, 0] for window in WINDOWS})
    reads = [
        (revenue_totals(as_of=_end_of(day), entity=entity), {"today": "day", **{w: w for w in WINDOWS[2:]}}),
        (revenue_totals(as_of=_end_of(compare_day), entity=entity), {"today": "compare_day"}),
    ]
    for totals, windows in reads:
        for period, window in windows.items():
            for row in totals.rows[period]:
                for scope in (row["entity"], ""):
                    pair = sums[(scope, row["currency"])][window]
                    pair[0] += row["net_cents"]
                    pair[1] += row["count"]
    return sums


def morning_figures(
    *, day: date | None = None, entity: Entity | None = None, entities: list[Entity] | None = None
) -> MorningFigures:
    """The morning view's figures for business day `day` (default: yesterday). Two queries, three
    when `entities` (every entity, by name, as the caller may already hold them) is not given.

    With `entity`, only that entity's scope; otherwise the total, then every entity
    (an entity without rows is listed with no lines, so it reads "nothing booked").
    """
    day = day or business_today() - timedelta(days=1)
    compare_day, week_first, month_first = day - timedelta(days=7), week_start(day), month_start(day)
    firsts = {"day": day, "compare_day": compare_day, "week_to_date": week_first, "month_to_date": month_first}
    lasts = {"day": day, "compare_day": compare_day, "week_to_date": day, "month_to_date": day}
    sums = _sums(day, compare_day, entity)
    if entity is not None:
        entities = [entity]
    elif entities is None:
        entities = list(Entity.objects.order_by("name"))
    scopes: list[tuple[str, str, int | None]] = [] if entity is not None else [("All entities", "", None)]
    scopes += [(e.name, e.slug, e.pk) for e in entities]

    def line(slug: str, entity_id: int | None, currency: str) -> MorningLine:
        cells = {
            window: MorningCell(
                amount_cents=net,
                currency=currency,
                count=count,
                url=ledger_rows_path(
                    first_day=firsts[window], last_day=lasts[window], entity_id=entity_id, currency=currency
                ),
            )
            for window, (net, count) in sums[(slug, currency)].items()
        }
        return MorningLine(currency=currency, **cells)

    return MorningFigures(
        day=day,
        compare_day=compare_day,
        week_first=week_first,
        month_first=month_first,
        scopes=[
            MorningScope(
                name=name,
                slug=slug,
                entity_id=entity_id,
                lines=[
                    line(slug, entity_id, currency)
                    for currency in sorted((c for s, c in list(sums) if s == slug), key=currency_sort_key)
                ],
            )
            for name, slug, entity_id in scopes
        ],
    )

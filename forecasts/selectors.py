"""Reads for forecasts: the daily net history a fit needs, the stored forecasts, and projections.

History is daily **net** revenue (revenue.selectors.buckets: the sum of every ledger row) per
entity and currency per business day (REVENUE_TIME_ZONE, DST-correct), one GROUP BY in the
database; a day without rows is 0 once the series has begun. Currencies are never added together.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Min, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate

from revenue.business_time import business_date_of, business_zone, day_bounds
from revenue.models import Entity, RevenueEvent

from . import engine
from .models import RevenueForecast


@dataclass(frozen=True)
class History:
    entity_id: int
    currency: str
    first_row_day: date  # business day of the first ledger row of this entity and currency
    first_day: date  # first day of `values` (later than first_row_day when the window cuts it)
    last_day: date
    values: list[int]  # net minor units per day, first_day .. last_day, zeros included

    @property
    def history_days(self) -> int:
        return (self.last_day - self.first_row_day).days + 1


def series_starts(*, last_day: date) -> dict[tuple[int, str], date]:
    """First business day with a ledger row, per (entity id, currency), for rows up to `last_day`."""
    _, end = day_bounds(last_day)
    rows = (
        RevenueEvent.objects.filter(occurred_at__lt=end)
        .values("entity_id", "currency")
        .annotate(first=Min("occurred_at"))
        .order_by()
    )
    return {(row["entity_id"], row["currency"]): business_date_of(row["first"]) for row in rows}


def daily_histories(
    *, last_day: date, max_days: int = engine.MAX_FIT_DAYS, entity: Entity | None = None, currency: str | None = None
) -> list[History]:
    """Daily net per entity and currency over the last `max_days` business days through `last_day`:
    two queries (first rows, then one GROUP BY entity, currency, business day)."""
    starts = series_starts(last_day=last_day)
    if entity is not None:
        starts = {key: day for key, day in starts.items() if key[0] == entity.pk}
    if currency is not None:
        starts = {key: day for key, day in starts.items() if key[1] == currency}
    if not starts:
        return []
    window_first = max(min(starts.values()), last_day - timedelta(days=max_days - 1))
    start, end = day_bounds(window_first, last_day)
    rows = RevenueEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    if entity is not None:
        rows = rows.filter(entity=entity)
    if currency is not None:
        rows = rows.filter(currency=currency)
    nets: dict[tuple[int, str], dict[date, int]] = defaultdict(dict)
    for row in (
        rows.annotate(day=TruncDate("occurred_at", tzinfo=business_zone()))
        .values("entity_id", "currency", "day")
        .annotate(net=Sum("amount_cents"))
        .order_by()
    ):
        nets[(row["entity_id"], row["currency"])][row["day"]] = row["net"]
    histories = []
    for (entity_id, code), first in sorted(starts.items()):
        first_day = max(first, window_first)
        days = (last_day - first_day).days + 1
        by_day = nets.get((entity_id, code), {})
        values = [by_day.get(first_day + timedelta(days=n), 0) for n in range(days)]
        histories.append(History(entity_id, code, first, first_day, last_day, values))
    return histories


def latest_forecasts(
    *, through: date, entity: Entity | None = None, currency: str | None = None
) -> QuerySet[RevenueForecast]:
    """The newest stored forecast per entity and currency fitted on data up to `through` (one query;
    a correlated subquery rather than DISTINCT ON, so the zero-setup SQLite run reads it too)."""
    newest = (
        RevenueForecast.objects.filter(
            entity_id=OuterRef("entity_id"), currency=OuterRef("currency"), last_actual_day__lte=through
        )
        .order_by("-last_actual_day")
        .values("pk")[:1]
    )
    queryset = RevenueForecast.objects.filter(last_actual_day__lte=through, pk=Subquery(newest))
    if entity is not None:
        queryset = queryset.filter(entity=entity)
    if currency is not None:
        queryset = queryset.filter(currency=currency)
    return queryset.select_related("entity").order_by("entity_id", "currency")


@dataclass(frozen=True)
class DayForecast:
    """What the model expected for one day before seeing it (for the anomaly check)."""

    entity_id: int
    currency: str
    day: date
    mean_cents: int
    lower80_cents: int
    upper80_cents: int
    lower95_cents: int
    upper95_cents: int
    model_name: str
    last_actual_day: date
    calendar_effect: str = ""  # the holiday or recurring day of the month the expectation carries


def day_forecasts(*, day: date) -> dict[tuple[int, str], DayForecast]:
    """Per (entity id, currency): the newest forecast of `day` fitted without `day` (one query)."""
    found: dict[tuple[int, str], DayForecast] = {}
    for forecast in latest_forecasts(through=day - timedelta(days=1)).filter(status=RevenueForecast.Status.OK):
        index = forecast.day_index(day)
        if index is None:
            continue
        found[(forecast.entity_id, forecast.currency)] = DayForecast(
            entity_id=forecast.entity_id,
            currency=forecast.currency,
            day=day,
            mean_cents=forecast.mean_cents[index],
            lower80_cents=forecast.lower80_cents[index],
            upper80_cents=forecast.upper80_cents[index],
            lower95_cents=forecast.lower95_cents[index],
            upper95_cents=forecast.upper95_cents[index],
            model_name=forecast.model_name,
            last_actual_day=forecast.last_actual_day,
            calendar_effect=next(
                (
                    effect["label"]
                    for effect in forecast.parameters.get("calendar_effects", [])
                    if effect["day"] == day.isoformat()
                ),
                "",
            ),
        )
    return found


def day_nets(*, day: date) -> dict[tuple[int, str], tuple[int, int]]:
    """(net, row count) per (entity id, currency) on business day `day`: net as the forecast knows it,
    every ledger row (revenue's net bucket). One GROUP BY."""
    start, end = day_bounds(day)
    rows = (
        RevenueEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        .values("entity_id", "currency")
        .annotate(net=Sum("amount_cents"), count=Count("pk"))
        .order_by()
    )
    return {(row["entity_id"], row["currency"]): (row["net"], row["count"]) for row in rows}


def period_actuals(*, day: date, cadence: str) -> dict[tuple[int, str], int]:
    """Net per (entity id, currency) from the first day of the month / quarter containing `day`
    through `day` (one GROUP BY)."""
    first, _ = engine.period_bounds(cadence, day)
    start, end = day_bounds(first, day)
    rows = (
        RevenueEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        .values("entity_id", "currency")
        .annotate(net=Sum("amount_cents"))
        .order_by()
    )
    return {(row["entity_id"], row["currency"]): row["net"] for row in rows}


@dataclass(frozen=True)
class ForecastOutlook:
    """One entity and currency: the stored forecast (or why there is none) and the projections as of `day`."""

    entity: Entity
    currency: str
    day: date  # last complete business day counted as actual
    forecast: RevenueForecast
    month: engine.Projection | None
    quarter: engine.Projection | None

    @property
    def is_ok(self) -> bool:
        return self.forecast.is_ok and self.month is not None


def _projection(
    forecast: RevenueForecast, *, cadence: str, day: date, actuals: dict[tuple[int, str], int]
) -> engine.Projection | None:
    if not forecast.is_ok:
        return None
    return engine.project_period(
        cadence=cadence,
        day=day,
        actual_cents=actuals.get((forecast.entity_id, forecast.currency), 0),
        first_forecast_day=forecast.first_forecast_day,
        tails=forecast.period_tails,
    )


def forecast_outlooks(*, day: date, entity: Entity | None = None, currency: str | None = None) -> list[ForecastOutlook]:
    """Month and quarter projections per entity and currency: actual through `day` plus the newest
    forecast's simulated rest. Three queries whatever the number of series."""
    forecasts = list(latest_forecasts(through=day, entity=entity, currency=currency))
    if not forecasts:
        return []
    month = period_actuals(day=day, cadence="month")
    quarter = period_actuals(day=day, cadence="quarter")
    outlooks = [
        ForecastOutlook(
            entity=forecast.entity,
            currency=forecast.currency,
            day=day,
            forecast=forecast,
            month=_projection(forecast, cadence="month", day=day, actuals=month),
            quarter=_projection(forecast, cadence="quarter", day=day, actuals=quarter),
        )
        for forecast in forecasts
    ]
    return sorted(outlooks, key=lambda o: (o.entity.name, o.currency))


def projection_json(projection: engine.Projection | None) -> dict[str, Any] | None:
    if projection is None:
        return None
    return {
        "first_day": projection.first_day.isoformat(),
        "last_day": projection.last_day.isoformat(),
        "actual_through": projection.actual_through.isoformat(),
        "actual_cents": projection.actual_cents,
        "projected_cents": projection.projected_cents,
        "lower80_cents": projection.lower80_cents,
        "upper80_cents": projection.upper80_cents,
    }


def outlook_json(outlook: ForecastOutlook) -> dict[str, Any]:
    """The digest's JSON form of an outlook (outbox payload: no database access later)."""
    return {
        "entity": outlook.entity.slug,
        "entity_name": outlook.entity.name,
        "currency": outlook.currency,
        "status": outlook.forecast.status,
        "history_days": outlook.forecast.history_days,
        "month": projection_json(outlook.month),
        "quarter": projection_json(outlook.quarter),
    }


def forecast_series_body(outlook: ForecastOutlook) -> dict[str, Any]:
    """The API's body for one series: the stored forecast day by day and the projections."""
    forecast = outlook.forecast
    first = forecast.first_forecast_day
    return {
        "entity": outlook.entity.slug,
        "entity_name": outlook.entity.name,
        "currency": outlook.currency,
        "status": forecast.status,
        "history_days": forecast.history_days,
        "model": forecast.model_name,
        "fit_first_day": forecast.fit_first_day,
        "fit_last_day": forecast.last_actual_day,
        "generated_at": forecast.generated_at,
        "parameters": forecast.parameters,
        "days": [
            {
                "day": first + timedelta(days=i),
                "mean_cents": forecast.mean_cents[i],
                "lower80_cents": forecast.lower80_cents[i],
                "upper80_cents": forecast.upper80_cents[i],
                "lower95_cents": forecast.lower95_cents[i],
                "upper95_cents": forecast.upper95_cents[i],
            }
            for i in range(len(forecast.mean_cents))
        ],
        "month": projection_json(outlook.month),
        "quarter": projection_json(outlook.quarter),
    }


def forecast_digest_section(*, day: date) -> dict[str, Any]:
    """The daily digest's forecast lines for `day` (the digest's day, counted as actual)."""
    return {"day": day.isoformat(), "outlooks": [outlook_json(o) for o in forecast_outlooks(day=day)]}


@dataclass(frozen=True)
class ForecastBand:
    """The dashboard's continuation of the daily chart: one entity's forecast over `days`."""

    outlook: ForecastOutlook
    days: list[date]
    mean_cents: list[int]
    lower80_cents: list[int]
    upper80_cents: list[int]


def forecast_bands(*, currency: str, today: date, last_day: date, entity: Entity | None = None) -> list[ForecastBand]:
    """Per entity with a forecast in `currency`: the expected day and its 80% bounds from `today`
    through `last_day` (as far as the stored forecast reaches), and the month / quarter projections
    as of yesterday, the last complete business day. Three queries."""
    bands = []
    for outlook in forecast_outlooks(day=today - timedelta(days=1), entity=entity, currency=currency):
        forecast = outlook.forecast
        if not outlook.is_ok:
            bands.append(ForecastBand(outlook, [], [], [], []))
            continue
        start = forecast.day_index(today)
        if start is None:
            continue
        stop = min(start + (last_day - today).days + 1, len(forecast.mean_cents))
        bands.append(
            ForecastBand(
                outlook=outlook,
                days=[today + timedelta(days=i) for i in range(stop - start)],
                mean_cents=forecast.mean_cents[start:stop],
                lower80_cents=forecast.lower80_cents[start:stop],
                upper80_cents=forecast.upper80_cents[start:stop],
            )
        )
    return bands

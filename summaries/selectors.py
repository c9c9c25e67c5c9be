"""Reads for summaries. Aggregation happens in the database (GROUP BY); Python only folds the groups."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db.models import Count, F, Max, Min, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek

from revenue.business_time import business_zone
from revenue.models import RevenueEvent
from revenue.periods import Cadence
from revenue.selectors.buckets import gumroad_fee_unknown_count

from .models import RevenueSummary

GROUP_FIELDS = ("entity_id", "currency", "provider", "kind", "fx_source")

# One aggregated row of `.values(...).annotate(...)`: column name -> value. The services fold and
# pop keys of these rows, so they stay plain dicts rather than TypedDicts.
Row = dict[str, Any]


def ledger_groups(*, start: datetime, end: datetime, entity_id: int | None = None) -> list[Row]:
    """One aggregation over [start, end): one row per (entity, currency, provider, kind, fx source).

    Each row carries the event count, the exact sum in the row currency, the
    reporting-currency sum of the converted rows, how many rows were converted,
    the range of rates stated on them, and how many Gumroad sales have no fee row yet.
    """
    events = RevenueEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    if entity_id is not None:
        events = events.filter(entity_id=entity_id)
    return list(
        events.order_by()
        .values(*GROUP_FIELDS)
        .annotate(
            event_count=Count("id"),
            amount_cents=Sum("amount_cents"),
            usd_cents=Sum("amount_usd_cents"),
            converted_count=Count("amount_usd_cents"),
            rate_min=Min("fx_rate"),
            rate_max=Max("fx_rate"),
            fee_unknown_count=gumroad_fee_unknown_count(),
        )
    )


def ledger_groups_by_day(*, start: datetime, end: datetime) -> list[Row]:
    """`ledger_groups` for a long range in one aggregation, with the business day (`day`) added to the key."""
    return list(
        RevenueEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        .order_by()
        .annotate(day=TruncDate("occurred_at", tzinfo=business_zone()))
        .values("day", *GROUP_FIELDS)
        .annotate(
            event_count=Count("id"),
            amount_cents=Sum("amount_cents"),
            usd_cents=Sum("amount_usd_cents"),
            converted_count=Count("amount_usd_cents"),
            rate_min=Min("fx_rate"),
            rate_max=Max("fx_rate"),
            fee_unknown_count=gumroad_fee_unknown_count(),
        )
    )


_BUCKETS = {Cadence.DAILY: TruncDate, Cadence.WEEKLY: TruncWeek, Cadence.MONTHLY: TruncMonth}


def ledger_totals_by_period(*, cadence: str, start: datetime, end: datetime) -> list[Row]:
    """Net and event count per (business period, entity, currency) over [start, end), in one query.

    The period is the business-zone day, week (Monday) or month the row occurred in.
    """
    bucket = _BUCKETS[Cadence(cadence)]("occurred_at", tzinfo=business_zone())
    rows = (
        RevenueEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        .order_by()
        .annotate(bucket=bucket)
        .values("bucket", "entity_id", "currency")
        .annotate(event_count=Count("id"), net_cents=Sum("amount_cents"))
    )
    # TruncWeek / TruncMonth give the local midnight as an aware datetime; TruncDate a date.
    return [{**row, "bucket": _as_date(row["bucket"])} for row in rows]


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def summaries_for_period(*, cadence: str, start_date: date) -> QuerySet[RevenueSummary]:
    return RevenueSummary.objects.filter(period=cadence, start_date=start_date).select_related("entity")


def summary_last_sent_start(*, cadence: str) -> date | None:
    """Start date of the newest all-entities summary of `cadence` already sent."""
    return (
        RevenueSummary.objects.filter(period=cadence, entity__isnull=True, sent_at__isnull=False)
        .order_by("-start_date")
        .values_list("start_date", flat=True)
        .first()
    )


def summaries_sent_between(*, cadence: str, first_start: date, before: date) -> QuerySet[RevenueSummary]:
    """Sent per-entity summaries of `cadence` starting in [first_start, before)."""
    return RevenueSummary.objects.filter(
        period=cadence,
        start_date__gte=first_start,
        start_date__lt=before,
        entity__isnull=False,
        sent_at__isnull=False,
    ).select_related("entity")


def summary_digest(*, cadence: str, start_date: date) -> RevenueSummary:
    """The all-entities row of a period."""
    return RevenueSummary.objects.get(period=cadence, start_date=start_date, entity__isnull=True)


def late_row_days(*, since: datetime) -> list[date]:
    """Business dates of the ledger rows written since `since` whose effective date is before the day
    they were written (corrections, reversals, late events): the periods a sent summary may now misstate."""
    zone = business_zone()
    return sorted(
        RevenueEvent.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("occurred_at", tzinfo=zone), posted=TruncDate("created_at", tzinfo=zone))
        .filter(day__lt=F("posted"))
        .order_by()
        .values_list("day", flat=True)
        .distinct()
    )

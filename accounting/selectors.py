"""Reads behind the accountant files: the scope (entity and business-date period), the ledger rows
of a scope, and the database-side aggregates for the monthly summary and the journals.

A period is whole business days (REVENUE_TIME_ZONE) and a row belongs to the day of its
effective date (`revenue.selectors.effective_date`, the business date of `occurred_at`), so
every figure here ties to `revenue.selectors.money_buckets` over the same UTC bounds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db.models import Case, Count, F, OuterRef, QuerySet, Subquery, Sum, When
from django.db.models.functions import TruncDate, TruncMonth

from revenue.business_time import business_today, business_zone, day_bounds, month_end
from revenue.errors import ApplicationError
from revenue.models import Entity, RevenueEvent

from .models import AccountMapping

Kind = RevenueEvent.Kind
MAX_PERIOD_DAYS = 366
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class ExportScope:
    """One entity (None: every entity) and business days `first_day` to `last_day` inclusive."""

    entity: Entity | None
    first_day: date
    last_day: date

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """Half-open UTC range of the period's business days (DST-correct)."""
        return day_bounds(self.first_day, self.last_day)

    @property
    def entity_label(self) -> str:
        return self.entity.name if self.entity is not None else "All entities"

    @property
    def period_label(self) -> str:
        if self.first_day.day == 1 and self.last_day == month_end(self.first_day):
            return self.first_day.strftime("%B %Y")
        return f"{self.first_day.isoformat()} to {self.last_day.isoformat()}"

    @property
    def file_stem(self) -> str:
        """`aplus-enterprise_2026-06` or `all-entities_2026-06-01_2026-06-15`: safe in a file name."""
        who = self.entity.slug if self.entity is not None else "all-entities"
        if self.first_day.day == 1 and self.last_day == month_end(self.first_day):
            return f"{who}_{self.first_day:%Y-%m}"
        return f"{who}_{self.first_day.isoformat()}_{self.last_day.isoformat()}"


def export_period(
    *, month: str | None = None, date_from: date | None = None, date_to: date | None = None
) -> tuple[date, date]:
    """The period's first and last business day from `month` ('YYYY-MM') or `date_from`..`date_to`.

    Refuses, in a sentence, a period given both ways or neither, an unreadable month, a start after
    its end, a period over MAX_PERIOD_DAYS, or one outside LEDGER_EARLIEST_DATE..today.
    """
    if month and (date_from or date_to):
        raise ApplicationError("Give either a month or a from-to period, not both.", code="invalid_period")
    if month:
        match = _MONTH.match(month.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ApplicationError(
                f"'{month}' is not a month; write it as YYYY-MM (e.g. 2026-06).", code="invalid_period"
            )
        try:
            first = date(int(match.group(1)), int(match.group(2)), 1)
        except ValueError:  # year 0000
            raise ApplicationError(f"'{month}' is not a month in the calendar.", code="invalid_period") from None
        last = month_end(first)
    elif date_from and date_to:
        first, last = date_from, date_to
    else:
        raise ApplicationError("Choose a month, or both a first and a last day.", code="invalid_period")
    if first > last:
        raise ApplicationError(
            f"The period starts ({first.isoformat()}) after it ends ({last.isoformat()}).", code="invalid_period"
        )
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise ApplicationError(
            f"A period is at most {MAX_PERIOD_DAYS} days; export it in parts.", code="invalid_period"
        )
    earliest, today = settings.LEDGER_EARLIEST_DATE, business_today()
    if first < earliest or first > today:
        raise ApplicationError(
            f"The period must start between {earliest.isoformat()} and today ({today.isoformat()}).",
            code="invalid_period",
        )
    return first, last


def export_entity(slug: str | None) -> Entity | None:
    """The entity named by `slug` (None for every entity); an unknown slug is refused by name."""
    if not slug:
        return None
    entity = Entity.objects.filter(slug=slug).first()
    if entity is None:
        raise ApplicationError(f"There is no entity '{slug}'.", code="unknown_entity")
    return entity


def scope_events(scope: ExportScope) -> QuerySet[RevenueEvent]:
    """The ledger rows whose effective date falls in the scope."""
    start, end = scope.bounds
    events = RevenueEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    if scope.entity is not None:
        events = events.filter(entity=scope.entity)
    return events


def ledger_detail_rows(scope: ExportScope) -> QuerySet[RevenueEvent]:
    """Every row of the scope in (occurred_at, id) order, with what one query can bring along:
    the entity's name, the event ids of the row it reverses and of the row reversing it, and for a
    payment the sum of the fee rows booked against it (same currency, any date)."""
    sale_fees = (
        RevenueEvent.objects.filter(parent_event_id=OuterRef("event_id"), kind=Kind.FEE, currency=OuterRef("currency"))
        .order_by()
        .values("parent_event_id")
        .annotate(total=Sum("amount_cents"))
        .values("total")
    )
    return (
        scope_events(scope)
        .annotate(
            entity_name=F("entity__name"),
            reverses_event_id=F("reverses__event_id"),
            reversed_by_event_id=F("reversed_by__event_id"),
            sale_fee_cents=Case(When(kind=Kind.PAYMENT, then=Subquery(sale_fees))),
        )
        .order_by("occurred_at", "id")
    )


@dataclass(frozen=True)
class KindTotal:
    """One GROUP BY cell: the rows of one kind (and provider, day or month) in one currency."""

    entity_id: int
    entity_name: str
    period_day: date  # the business day, or the first day of the business month
    currency: str
    provider: str
    kind: str
    amount_cents: int
    count: int
    usd_cents: int
    converted_count: int


def _kind_totals(groups: Iterable[Mapping[str, Any]], day_key: str) -> list[KindTotal]:
    totals = []
    for group in groups:
        moment = group[day_key]
        day = moment.date() if isinstance(moment, datetime) else moment
        assert isinstance(day, date)
        totals.append(
            KindTotal(
                entity_id=int(str(group["entity_id"])),
                entity_name=str(group["entity__name"]),
                period_day=day,
                currency=str(group["currency"]),
                provider=str(group.get("provider", "")),
                kind=str(group["kind"]),
                amount_cents=int(str(group["amount_cents"] or 0)),
                count=int(str(group["count"])),
                usd_cents=int(str(group["usd_cents"] or 0)),
                converted_count=int(str(group["converted_count"])),
            )
        )
    return totals


_AGGREGATES = {
    "amount_cents": Sum("amount_cents"),
    "count": Count("id"),
    "usd_cents": Sum("amount_usd_cents"),
    "converted_count": Count("amount_usd_cents"),
}


def monthly_kind_totals(scope: ExportScope) -> list[KindTotal]:
    """Per business month x entity x currency x kind, summed in the database (one query)."""
    groups = (
        scope_events(scope)
        .order_by()
        .annotate(month=TruncMonth("occurred_at", tzinfo=business_zone()))
        .values("month", "entity_id", "entity__name", "currency", "kind")
        .annotate(**_AGGREGATES)
        .order_by("month", "entity__name", "currency", "kind")
    )
    return _kind_totals(groups, "month")


def daily_provider_kind_totals(scope: ExportScope) -> list[KindTotal]:
    """Per business day x entity x currency x provider x kind, summed in the database (one query):
    the lines of the journals."""
    groups = (
        scope_events(scope)
        .order_by()
        .annotate(day=TruncDate("occurred_at", tzinfo=business_zone()))
        .values("day", "entity_id", "entity__name", "currency", "provider", "kind")
        .annotate(**_AGGREGATES)
        .order_by("day", "entity__name", "currency", "provider", "kind")
    )
    return _kind_totals(groups, "day")


def account_mappings_for(entity: Entity | None) -> list[AccountMapping]:
    """The mapping rows that can apply to `entity`: its own and those for every entity (one query)."""
    mappings = AccountMapping.objects.filter(entity__isnull=True)
    if entity is not None:
        mappings = mappings | AccountMapping.objects.filter(entity=entity)
    return list(mappings.order_by("pk"))

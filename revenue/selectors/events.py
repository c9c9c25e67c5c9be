"""Ledger rows for the API's event list and export: filters and keyset pages over (occurred_at, id)."""

from __future__ import annotations

from datetime import date, datetime

from django.db.models import Q, QuerySet

from ..business_time import business_date_of
from ..entries import TRUE_OCCURRED_AT
from ..models import Entity, RevenueEvent


def effective_date(event: RevenueEvent) -> date:
    """The business date the row counts on in every report: the business date of `occurred_at`.

    For a provider movement, when the money moved; for a correction or reversal, the date of
    what it corrects (or the date a person chose); for a late row of a locked period, the
    entity's first open day.
    """
    return business_date_of(event.occurred_at)


def happened_on(event: RevenueEvent) -> date:
    """The business date the thing behind the row happened, which can differ from `effective_date`
    (the API's `business_date`, where the row counts).

    A late provider row keeps its own time in metadata (`TRUE_OCCURRED_AT`); a reversal or
    correction happened when a person posted it (`created_at`); any other row on its effective date.
    """
    true_time = (event.metadata or {}).get(TRUE_OCCURRED_AT)
    if isinstance(true_time, str):
        try:
            return business_date_of(datetime.fromisoformat(true_time))
        except ValueError:
            pass
    if event.kind == RevenueEvent.Kind.REVERSAL:
        return business_date_of(event.created_at)
    return effective_date(event)


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
    queryset: QuerySet[RevenueEvent], *, occurred_at: datetime, event_pk: object
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

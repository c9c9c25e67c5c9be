"""Reads for the detectors: aggregation in the database, business days via revenue.business_time.

"Net" here is the money that stayed: payments and dispute reversals minus
refunds and disputes, plus adjustments and reversals. Provider fees are left
out: they arrive later than the sale (from the balance transaction) and would
make a day look different depending on when it is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Case, Count, F, IntegerField, Max, Min, Q, QuerySet, Sum, Value, When, Window
from django.db.models.functions import Abs, Lower, TruncDate

from revenue.business_time import business_local, business_zone, day_bounds
from revenue.duplicates import DUPLICATE_HORIZON
from revenue.models import Entity, RevenueEvent

from .models import AlertRule, RevenueAlert

WEBHOOK_PROVIDERS = (RevenueEvent.Provider.STRIPE, RevenueEvent.Provider.GUMROAD)


@dataclass(frozen=True)
class Scope:
    """Which ledger rows a check looks at; blank means any."""

    entity_id: int | None = None
    provider: str = ""
    currency: str = ""

    @classmethod
    def of_rule(cls, rule: AlertRule) -> Scope:
        return cls(entity_id=rule.entity_id, provider=rule.provider, currency=rule.currency)


def _scoped(queryset: QuerySet[RevenueEvent], scope: Scope) -> QuerySet[RevenueEvent]:
    if scope.entity_id is not None:
        queryset = queryset.filter(entity_id=scope.entity_id)
    if scope.provider:
        queryset = queryset.filter(provider=scope.provider)
    if scope.currency:
        queryset = queryset.filter(currency=scope.currency)
    return queryset


def _net_rows() -> QuerySet[RevenueEvent]:
    """The rows a day's net adds up: every ledger row, fees included (revenue's net bucket,
    docs/numbers.md), the figure the summaries, the dashboard and the forecast call net."""
    return RevenueEvent.objects.all()


def rules_active() -> list[AlertRule]:
    return list(AlertRule.objects.filter(is_active=True).select_related("entity").order_by("pk"))


def entity_names() -> dict[int, str]:
    return dict(Entity.objects.values_list("pk", "name"))


@dataclass(frozen=True)
class DayTotal:
    day: date
    net_cents: int
    event_count: int


def daily_net(*, day: date, scope: Scope) -> DayTotal:
    """Net of one business day (local midnight to midnight: 23 or 25 hours on DST days)."""
    start, end = day_bounds(day)
    totals = (
        _scoped(_net_rows(), scope)
        .filter(occurred_at__gte=start, occurred_at__lt=end)
        .aggregate(net=Sum("amount_cents"), count=Count("pk"))
    )
    return DayTotal(day=day, net_cents=totals["net"] or 0, event_count=totals["count"])


@dataclass(frozen=True)
class DailySeries:
    """Daily nets of one entity in one currency, for the anomaly detector."""

    entity_id: int
    currency: str
    first_day: date  # business day of the first row ever in this entity and currency
    nets: dict[date, int]  # only the days asked for that had rows; the others are 0
    counts: dict[date, int]


def same_weekday_series(*, day: date, weeks: int = 8) -> list[DailySeries]:
    """Nets of `day` and the `weeks` same weekdays before it, per entity and currency: two queries."""
    days = [day - timedelta(weeks=k) for k in range(weeks + 1)]
    start, end = day_bounds(days[-1], day)
    rows = (
        _net_rows()
        .filter(occurred_at__gte=start, occurred_at__lt=end)
        .annotate(business_day=TruncDate("occurred_at", tzinfo=business_zone()))
        .filter(business_day__in=days)
        .values("entity_id", "currency", "business_day")
        .annotate(net=Sum("amount_cents"), count=Count("pk"))
    )
    grouped: dict[tuple[int, str], tuple[dict[date, int], dict[date, int]]] = {}
    for row in rows:
        nets, counts = grouped.setdefault((row["entity_id"], row["currency"]), ({}, {}))
        nets[row["business_day"]] = row["net"]
        counts[row["business_day"]] = row["count"]
    if not grouped:
        return []
    firsts = _net_rows().filter(occurred_at__lt=end).values("entity_id", "currency").annotate(first=Min("occurred_at"))
    zone = business_zone()
    first_day = {(row["entity_id"], row["currency"]): business_local(row["first"], zone).date() for row in firsts}
    return [
        DailySeries(entity_id=key[0], currency=key[1], first_day=first_day[key], nets=nets, counts=counts)
        for key, (nets, counts) in sorted(grouped.items())
    ]


@dataclass(frozen=True)
class RateCounts:
    start: datetime
    end: datetime
    payments: int
    refunds: int
    disputes: int


def rate_counts(*, start: datetime, end: datetime, scope: Scope) -> RateCounts:
    """Counts of payments, refunds and disputes in [start, end): one query."""
    kinds = RevenueEvent.Kind
    totals = (
        _scoped(RevenueEvent.objects.all(), scope)
        .filter(occurred_at__gte=start, occurred_at__lt=end)
        .aggregate(
            payments=Count("pk", filter=Q(kind=kinds.PAYMENT)),
            refunds=Count("pk", filter=Q(kind=kinds.REFUND)),
            disputes=Count("pk", filter=Q(kind=kinds.DISPUTE)),
        )
    )
    return RateCounts(start=start, end=end, **totals)


def transactions_above(*, rule: AlertRule, since: datetime, until: datetime, limit: int = 200) -> list[RevenueEvent]:
    """Rows of the rule's scope recorded in [since, until) whose absolute amount exceeds the rule's."""
    return list(
        _scoped(RevenueEvent.objects.all(), Scope.of_rule(rule))
        .exclude(kind__in=[RevenueEvent.Kind.FEE, RevenueEvent.Kind.REVERSAL])
        .annotate(magnitude=Abs("amount_cents"))
        .filter(created_at__gte=since, created_at__lt=until, magnitude__gt=rule.amount_cents)
        .select_related("entity")
        .order_by("created_at")[:limit]
    )


def event_by_event_id(event_id: str) -> RevenueEvent | None:
    return RevenueEvent.objects.select_related("entity").filter(event_id=event_id).first()


def events_by_event_ids(event_ids: list[str]) -> list[RevenueEvent]:
    """The ledger rows with these event ids, in the order given (entity loaded)."""
    rows = {row.event_id: row for row in RevenueEvent.objects.select_related("entity").filter(event_id__in=event_ids)}
    return [rows[event_id] for event_id in dict.fromkeys(event_ids) if event_id in rows]


def rules_for_event(*, event: RevenueEvent, kind: str) -> list[AlertRule]:
    """Active rules of `kind` whose scope includes the event."""
    return list(
        AlertRule.objects.filter(is_active=True, kind=kind)
        .filter(Q(entity__isnull=True) | Q(entity_id=event.entity_id))
        .filter(Q(provider="") | Q(provider=event.provider))
        .filter(Q(currency="") | Q(currency=event.currency))
        .select_related("entity")
        .order_by("pk")
    )


def _silence_rows(scope: Scope) -> QuerySet[RevenueEvent]:
    rows = _scoped(RevenueEvent.objects.all(), scope)
    if not scope.provider:  # webhook silence: manual entries say nothing about webhooks
        rows = rows.filter(provider__in=WEBHOOK_PROVIDERS)
    return rows


def last_event_before(*, scope: Scope, until: datetime) -> RevenueEvent | None:
    return _silence_rows(scope).filter(occurred_at__lte=until).order_by("-occurred_at", "-pk").first()


def window_counts(*, scope: Scope, windows: list[tuple[datetime, datetime]]) -> list[int]:
    """Row counts in each [start, end) window, in one query."""
    if not windows:
        return []
    aggregates = {
        f"w{i}": Count("pk", filter=Q(occurred_at__gte=start, occurred_at__lt=end))
        for i, (start, end) in enumerate(windows)
    }
    overall = Q()
    for start, end in windows:
        overall |= Q(occurred_at__gte=start, occurred_at__lt=end)
    totals = _silence_rows(scope).filter(overall).aggregate(**aggregates)
    return [totals[f"w{i}"] for i in range(len(windows))]


def _live_payments() -> QuerySet[RevenueEvent]:
    """Payments not reversed, with the lower-cased email the duplicate test compares."""
    return (
        RevenueEvent.objects.filter(kind=RevenueEvent.Kind.PAYMENT, reversed_by__isnull=True)
        .annotate(email_lower=Lower("customer_email"))
        .select_related("entity")
    )


def duplicate_neighbourhoods(*, since: datetime, until: datetime) -> tuple[list[RevenueEvent], set[int]]:
    """Live payments in groups (same customer, amount, currency) that hold a payment recorded in
    [since, until) and at least one other payment, plus the ids of the recent ones.

    Window counts over (customer, amount, currency) pick the rows in two queries (by email, by
    customer id); the exact test (minutes apart, or manual vs provider on the same business day)
    is the detector's, in Python.
    """
    recent = RevenueEvent.objects.filter(kind=RevenueEvent.Kind.PAYMENT, created_at__gte=since, created_at__lt=until)
    span = recent.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    if span["first"] is None:
        return [], set()
    neighbours = _live_payments().filter(
        occurred_at__gte=span["first"] - DUPLICATE_HORIZON, occurred_at__lte=span["last"] + DUPLICATE_HORIZON
    )
    is_recent = Case(When(created_at__gte=since, created_at__lt=until, then=1), default=0)
    found: dict[int, RevenueEvent] = {}
    for key, customer in (("customer_email", Lower("customer_email")), ("customer_id", F("customer_id"))):
        partition = [customer, F("amount_cents"), F("currency")]
        rows = (
            neighbours.filter(**{f"{key}__isnull": False})
            .annotate(
                group_rows=Window(Count("pk"), partition_by=partition),
                group_recent=Window(Sum(is_recent), partition_by=partition),
            )
            .filter(group_rows__gt=1, group_recent__gt=0)
            .order_by("occurred_at", "pk")[:10_000]
        )
        found.update((row.pk, row) for row in rows)
    rows = sorted(found.values(), key=lambda row: (row.occurred_at, row.pk))
    recent_ids = {row.pk for row in rows if since <= row.created_at < until}
    return rows, recent_ids


@dataclass(frozen=True)
class UnresolvedSummary:
    count: int
    first_at: datetime | None
    latest: RevenueEvent | None


def unresolved_entity_events(*, since: datetime | None) -> UnresolvedSummary:
    """Rows booked to the default entity because their entity hint matched nothing."""
    rows = RevenueEvent.objects.filter(entity_source=RevenueEvent.EntitySource.UNRESOLVED)
    if since is not None:
        rows = rows.filter(created_at__gt=since)
    totals = rows.aggregate(count=Count("pk"), first=Min("created_at"), last=Max("created_at"))
    latest = rows.select_related("entity").order_by("-created_at", "-pk").first() if totals["count"] else None
    return UnresolvedSummary(count=totals["count"], first_at=totals["first"], latest=latest)


def last_closed_at(*, fingerprint: str) -> datetime | None:
    return (
        RevenueAlert.objects.filter(fingerprint=fingerprint)
        .exclude(status__in=RevenueAlert.ACTIVE_STATUSES)
        .aggregate(last=Max("resolved_at"))["last"]
    )


def fingerprint_closed(*, fingerprint: str) -> bool:
    return (
        RevenueAlert.objects.filter(fingerprint=fingerprint).exclude(status__in=RevenueAlert.ACTIVE_STATUSES).exists()
    )


def fingerprint_active(*, fingerprint: str) -> bool:
    return RevenueAlert.objects.filter(fingerprint=fingerprint, status__in=RevenueAlert.ACTIVE_STATUSES).exists()


def rule_alerts_created_between(*, rule_id: int, start: datetime, end: datetime) -> int:
    return RevenueAlert.objects.filter(rule_id=rule_id, created_at__gte=start, created_at__lt=end).count()


# ---------------------------------------------------------------------------- dashboard


SEVERITY_RANK = {
    RevenueAlert.Severity.CRITICAL: 0,
    RevenueAlert.Severity.WARNING: 1,
    RevenueAlert.Severity.INFO: 2,
}


def active_alerts(*, entity: Entity | None = None) -> QuerySet[RevenueAlert]:
    """Open and acknowledged alerts; for an entity, its own and those about no entity in particular."""
    queryset = RevenueAlert.objects.filter(status__in=RevenueAlert.ACTIVE_STATUSES)
    if entity is not None:
        queryset = queryset.filter(Q(entity=entity) | Q(entity__isnull=True))
    return queryset


def open_alerts(*, entity: Entity | None = None, limit: int = 20) -> list[RevenueAlert]:
    """Open and acknowledged alerts, most severe and newest first.

    With an entity filter, alerts about that entity and alerts about no entity
    in particular (e.g. webhook silence) are shown.
    """
    queryset = active_alerts(entity=entity).select_related("entity")
    rank = Case(
        *(When(severity=severity, then=Value(value)) for severity, value in SEVERITY_RANK.items()),
        default=Value(len(SEVERITY_RANK)),
        output_field=IntegerField(),
    )
    return list(queryset.annotate(severity_rank=rank).order_by("severity_rank", "-created_at")[:limit])

"""The money buckets: the one vocabulary every surface (API, summaries, Slack/Notion/Atlas,
dashboard, reconciliation, admin) uses for ledger figures. See docs/numbers.md.

- payments: kind payment (positive);
- refunds: kind refund (negative);
- disputes: kind dispute, money lost to a dispute (negative);
- disputes_won: kind dispute_reversal, disputed money given back (positive);
- fees: kind fee, processor fees (negative);
- adjustments: kinds adjustment and reversal (corrections, either sign);
- net: the sum of all of them, i.e. of every ledger row.

Every ledger kind belongs to exactly one bucket, so a bucket is a sum over kinds and
net is the sum of the buckets. Figures are per currency in integer minor units; a
USD (reporting currency) equivalent exists only where every row has a stated rate.
A figure that is not known yet (Gumroad fees before a backfill brings them) is
reported as unknown, never as zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from ..models import Entity, RevenueEvent

Kind = RevenueEvent.Kind
Bucket = Literal["payments", "refunds", "disputes", "disputes_won", "fees", "adjustments"]

BUCKETS: tuple[Bucket, ...] = ("payments", "refunds", "disputes", "disputes_won", "fees", "adjustments")

KIND_BUCKET: dict[str, Bucket] = {
    Kind.PAYMENT: "payments",
    Kind.REFUND: "refunds",
    Kind.DISPUTE: "disputes",
    Kind.DISPUTE_REVERSAL: "disputes_won",
    Kind.FEE: "fees",
    Kind.ADJUSTMENT: "adjustments",
    Kind.REVERSAL: "adjustments",
}

BUCKET_LABELS: dict[Bucket, str] = {
    "payments": "Payments",
    "refunds": "Refunds",
    "disputes": "Disputes",
    "disputes_won": "Disputes won back",
    "fees": "Fees",
    "adjustments": "Adjustments",
}

# The bucket fields as they appear in API bodies, summaries and payloads: `<bucket>_cents`, then net.
BUCKET_FIELDS: tuple[str, ...] = (*(f"{name}_cents" for name in BUCKETS), "net_cents")

GUMROAD_FEES_UNKNOWN = "Gumroad fees not yet known"


def bucket_of(kind: str) -> Bucket:
    """The bucket a ledger kind adds to. An unknown kind is a programming error, not a guess."""
    return KIND_BUCKET[kind]


def kinds_of(bucket: Bucket) -> tuple[str, ...]:
    return tuple(kind for kind, name in KIND_BUCKET.items() if name == bucket)


@dataclass
class MoneyBuckets:
    """One currency's buckets, in minor units, with the USD equivalent where every row has a rate."""

    currency: str
    payments_cents: int = 0
    refunds_cents: int = 0
    disputes_cents: int = 0
    disputes_won_cents: int = 0
    fees_cents: int = 0
    adjustments_cents: int = 0
    count: int = 0
    usd_cents: int = 0
    unconverted_count: int = 0
    # A Gumroad sale in scope has no fee row yet: fees_cents leaves it out (unknown, not zero).
    gumroad_fees_unknown: bool = False

    @property
    def net_cents(self) -> int:
        return (
            self.payments_cents
            + self.refunds_cents
            + self.disputes_cents
            + self.disputes_won_cents
            + self.fees_cents
            + self.adjustments_cents
        )

    @property
    def net_usd_cents(self) -> int | None:
        """Net in the reporting currency, or None ("no rate") when any row has no stated rate."""
        return None if self.unconverted_count else self.usd_cents

    def add(
        self, *, kind: str, amount_cents: int, count: int, usd_cents: int = 0, converted: int | None = None
    ) -> None:
        """Add one aggregated (kind) group to its bucket."""
        name = f"{bucket_of(kind)}_cents"
        setattr(self, name, getattr(self, name) + amount_cents)
        self.count += count
        self.usd_cents += usd_cents
        self.unconverted_count += count - (count if converted is None else converted)

    def merge(self, other: MoneyBuckets) -> None:
        """Add another scope's buckets of the SAME currency (never across currencies)."""
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} buckets to {self.currency} buckets")
        for name in (*(f"{bucket}_cents" for bucket in BUCKETS), "count", "usd_cents", "unconverted_count"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.gumroad_fees_unknown = self.gumroad_fees_unknown or other.gumroad_fees_unknown

    def as_dict(self) -> dict[str, int]:
        """`<bucket>_cents` and `net_cents` (the shape of API bodies and payloads)."""
        return {name: getattr(self, name) for name in BUCKET_FIELDS}


def buckets_fold(groups: Iterable[Mapping[str, Any]]) -> dict[str, MoneyBuckets]:
    """Fold aggregated rows with `currency`, `kind`, `amount_cents`, `count` (and optionally `usd_cents`,
    `converted_count`) into buckets per currency, sorted by currency."""
    result: dict[str, MoneyBuckets] = {}
    for group in groups:
        buckets = result.setdefault(group["currency"], MoneyBuckets(group["currency"]))
        buckets.add(
            kind=group["kind"],
            amount_cents=group["amount_cents"] or 0,
            count=group["count"],
            usd_cents=group.get("usd_cents") or 0,
            converted=group.get("converted_count"),
        )
    return dict(sorted(result.items()))


def _scoped(
    *, start: datetime, end: datetime, entity: Entity | None = None, provider: str | None = None
) -> QuerySet[RevenueEvent]:
    events = RevenueEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    if entity is not None:
        events = events.filter(entity=entity)
    if provider:
        events = events.filter(provider=provider)
    return events


def money_buckets(
    *, start: datetime, end: datetime, entity: Entity | None = None, provider: str | None = None
) -> dict[str, MoneyBuckets]:
    """The buckets per currency of the ledger rows in [start, end): one GROUP BY (currency, kind) and one
    query for the currencies whose Gumroad fees are unknown."""
    events = _scoped(start=start, end=end, entity=entity, provider=provider)
    groups = (
        events.order_by()
        .values("currency", "kind")
        .annotate(
            amount_cents=Sum("amount_cents"),
            count=Count("id"),
            usd_cents=Sum("amount_usd_cents"),
            converted_count=Count("amount_usd_cents"),
        )
    )
    result = buckets_fold(groups)
    for currency in gumroad_fees_unknown_currencies(events):
        result[currency].gumroad_fees_unknown = True
    return result


def gumroad_sales_without_fee(events: QuerySet[RevenueEvent]) -> QuerySet[RevenueEvent]:
    """Gumroad payments among `events` whose fee no ledger row states yet (pings carry none)."""
    fee_known = RevenueEvent.objects.filter(parent_event_id=OuterRef("event_id"), kind=Kind.FEE)
    return events.filter(provider=RevenueEvent.Provider.GUMROAD, kind=Kind.PAYMENT).filter(~Exists(fee_known))


def gumroad_fees_unknown_currencies(events: QuerySet[RevenueEvent]) -> set[str]:
    """Currencies with a Gumroad sale among `events` that has no fee row (one query)."""
    return set(gumroad_sales_without_fee(events).order_by().values_list("currency", flat=True).distinct())


def kind_filter(bucket: Bucket) -> Q:
    """The ledger rows of one bucket."""
    return Q(kind__in=kinds_of(bucket))


def gumroad_fee_unknown_count() -> Count:
    """An aggregate for `.annotate()`: Gumroad payments in the group whose fee no ledger row states."""
    fee_known = RevenueEvent.objects.filter(parent_event_id=OuterRef("event_id"), kind=Kind.FEE)
    return Count(
        "id",
        filter=Q(provider=RevenueEvent.Provider.GUMROAD, kind=Kind.PAYMENT) & ~Q(Exists(fee_known)),
    )

"""Reconciliation reads: the per-period picture, candidates for a person, and stale unmatched items.

Sums are computed in the database, per currency (never across currencies).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypedDict
from uuid import UUID

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum

from revenue.business_time import business_today, day_bounds
from revenue.models import Entity, RevenueEvent
from revenue.selectors.buckets import MoneyBuckets, money_buckets
from revenue.selectors.payouts import settled_net_by_payout

from . import matching
from .models import BankDeposit, DepositMatch, DepositMatchItem, ExpectedDeposit, ReconciliationAction

OPEN = ExpectedDeposit.Status.OPEN


def window_business_days() -> int:
    """How many business days a deposit may land before or after its expected date."""
    return int(settings.RECONCILIATION_WINDOW_BUSINESS_DAYS)


def _active_match_id(field_name: str) -> Subquery:
    return Subquery(DepositMatchItem.objects.filter(active=True, **{field_name: OuterRef("pk")}).values("match_id")[:1])


def _is_matched(field_name: str) -> Exists:
    return Exists(DepositMatchItem.objects.filter(active=True, **{field_name: OuterRef("pk")}))


def expected_in_period(*, entity: Entity, start: date, end: date) -> QuerySet[ExpectedDeposit]:
    return (
        ExpectedDeposit.objects.filter(entity=entity, expected_on__range=(start, end))
        .select_related("payout", "event")
        .annotate(active_match_id=_active_match_id("expected"))
        .order_by("expected_on", "created_at")
    )


def deposits_in_period(*, entity: Entity, start: date, end: date) -> QuerySet[BankDeposit]:
    return (
        BankDeposit.objects.filter(entity=entity, posted_on__range=(start, end))
        .annotate(active_match_id=_active_match_id("deposit"))
        .order_by("posted_on", "statement_line", "imported_at")
    )


def matches_touching_period(*, entity: Entity, start: date, end: date) -> QuerySet[DepositMatch]:
    touching = DepositMatchItem.objects.filter(active=True, match__entity=entity).filter(
        Q(deposit__posted_on__range=(start, end)) | Q(expected__expected_on__range=(start, end))
    )
    return (
        DepositMatch.objects.filter(pk__in=touching.values("match_id"), status=DepositMatch.Status.ACTIVE)
        .select_related("created_by")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=DepositMatchItem.objects.filter(active=True).select_related("deposit", "expected"),
            )
        )
        .order_by("-created_at")
    )


@dataclass
class CurrencyTotals:
    """One currency's bridge from what was expected to what the bank shows, plus the ledger side."""

    currency: str
    expected_cents: int = 0
    expected_count: int = 0
    cancelled_cents: int = 0
    cancelled_count: int = 0
    deposited_cents: int = 0
    deposited_count: int = 0
    matched_expected_cents: int = 0
    matched_deposited_cents: int = 0
    unmatched_expected_cents: int = 0
    unmatched_expected_count: int = 0
    unmatched_deposits_cents: int = 0
    unmatched_deposits_count: int = 0
    match_difference_cents: int = 0
    timing_in_cents: int = 0
    timing_out_cents: int = 0
    # The ledger side in the money buckets (revenue.selectors.buckets) for the same business days.
    ledger: MoneyBuckets | None = None

    @property
    def ledger_buckets(self) -> MoneyBuckets:
        return self.ledger or MoneyBuckets(self.currency)

    @property
    def ledger_net_cents(self) -> int:
        return self.ledger_buckets.net_cents

    @property
    def ledger_not_expected_cents(self) -> int:
        """Ledger net the period's expected deposits do not account for: balance still with the provider,
        payouts of other periods' sales, revenue that is not paid into this bank."""
        return self.ledger_net_cents - self.expected_cents

    @property
    def bridge_cents(self) -> int:
        """Expected, walked to the bank: must equal deposited_cents (checked by tests)."""
        return (
            self.expected_cents
            - self.unmatched_expected_cents
            + self.unmatched_deposits_cents
            + self.match_difference_cents
            + self.timing_in_cents
            - self.timing_out_cents
        )

    @property
    def balanced(self) -> bool:
        return self.bridge_cents == self.deposited_cents

    @property
    def reconciled(self) -> bool:
        return (
            self.unmatched_expected_count == 0
            and self.unmatched_deposits_count == 0
            and self.match_difference_cents == 0
        )


def reconciliation_totals(*, entity: Entity, start: date, end: date) -> dict[str, CurrencyTotals]:
    """Per currency: expected vs deposited, matched, unmatched each side, and the differences that explain
    the gap (match differences such as wire fees, timing across the period edge), plus the ledger's
    money buckets (payments, refunds, disputes, disputes won back, fees, adjustments, net) for the
    same business days."""
    totals = _TotalsByCurrency()
    _add_expected(totals, entity=entity, start=start, end=end)
    _add_deposits(totals, entity=entity, start=start, end=end)
    _add_match_differences(totals, entity=entity, start=start, end=end)
    start_at, end_at = day_bounds(start, end)
    for currency, buckets in money_buckets(start=start_at, end=end_at, entity=entity).items():
        totals[currency].ledger = buckets
    return dict(sorted(totals.items()))


class _TotalsByCurrency(dict[str, CurrencyTotals]):
    def __missing__(self, currency: str) -> CurrencyTotals:
        self[currency] = CurrencyTotals(currency)
        return self[currency]


def _add_expected(totals: _TotalsByCurrency, *, entity: Entity, start: date, end: date) -> None:
    expected_rows = (
        ExpectedDeposit.objects.filter(entity=entity, expected_on__range=(start, end))
        .annotate(matched=_is_matched("expected"))
        .values("currency", "status", "matched")
        .annotate(total=Sum("amount_cents"), n=Count("id"))
        .order_by()
    )
    for row in expected_rows:
        t = totals[row["currency"]]
        if row["status"] != OPEN:
            t.cancelled_cents += row["total"]
            t.cancelled_count += row["n"]
            continue
        t.expected_cents += row["total"]
        t.expected_count += row["n"]
        if row["matched"]:
            t.matched_expected_cents += row["total"]
        else:
            t.unmatched_expected_cents += row["total"]
            t.unmatched_expected_count += row["n"]


def _add_deposits(totals: _TotalsByCurrency, *, entity: Entity, start: date, end: date) -> None:
    deposit_rows = (
        BankDeposit.objects.filter(entity=entity, posted_on__range=(start, end))
        .annotate(matched=_is_matched("deposit"))
        .values("currency", "matched")
        .annotate(total=Sum("amount_cents"), n=Count("id"))
        .order_by()
    )
    for deposit in deposit_rows:
        t = totals[deposit["currency"]]
        t.deposited_cents += deposit["total"]
        t.deposited_count += deposit["n"]
        if deposit["matched"]:
            t.matched_deposited_cents += deposit["total"]
        else:
            t.unmatched_deposits_cents += deposit["total"]
            t.unmatched_deposits_count += deposit["n"]


def _add_match_differences(totals: _TotalsByCurrency, *, entity: Entity, start: date, end: date) -> None:
    """Differences inside active matches touching the period, and timing across its edges."""
    touching = DepositMatchItem.objects.filter(
        active=True, match__entity=entity, match__status=DepositMatch.Status.ACTIVE
    ).filter(Q(deposit__posted_on__range=(start, end)) | Q(expected__expected_on__range=(start, end)))
    in_period_deposit = Q(deposit__posted_on__range=(start, end))
    in_period_expected = Q(expected__expected_on__range=(start, end))
    open_expected = Q(expected__status=OPEN)
    match_rows = (
        DepositMatchItem.objects.filter(active=True, match_id__in=touching.values("match_id"))
        .values("match__currency")
        .annotate(
            deposited_sum=Sum("deposit__amount_cents"),
            expected_sum=Sum("expected__amount_cents", filter=open_expected),
            deposited_outside=Sum("deposit__amount_cents", filter=Q(deposit__isnull=False) & ~in_period_deposit),
            expected_outside=Sum(
                "expected__amount_cents", filter=open_expected & Q(expected__isnull=False) & ~in_period_expected
            ),
        )
        .order_by()
    )
    for sums in match_rows:
        t = totals[sums["match__currency"]]
        t.match_difference_cents += (sums["deposited_sum"] or 0) - (sums["expected_sum"] or 0)
        t.timing_in_cents += sums["expected_outside"] or 0
        t.timing_out_cents += sums["deposited_outside"] or 0


@dataclass(frozen=True)
class PayoutContents:
    """A payout's ledger rows (from its balance transactions), summed by kind; or, once Stripe's payout
    reconciliation report is imported (`settled`), its settled balance transactions' net by category."""

    event_ids: tuple[str, ...]
    found: int
    by_kind: dict[str, int]
    total_cents: int
    payout_cents: int
    settled: bool = False

    @property
    def missing(self) -> int:
        return 0 if self.settled else len(self.event_ids) - self.found

    @property
    def difference_cents(self) -> int:
        return self.payout_cents - self.total_cents


def payout_contents(expected: list[ExpectedDeposit]) -> dict[UUID, PayoutContents]:
    """expected.pk -> PayoutContents for payouts whose metadata lists `balance_transactions` (ledger event ids).

    One query for all of them; ties each payout to the ledger rows it pays out. A Stripe payout with lines of
    the payout reconciliation report is summed from those instead (one more GROUP BY query): the report
    says what the payout settles, including what is not revenue (transfers, adjustments).
    """
    result: dict[UUID, PayoutContents] = {}
    stripe = {item.pk: item.payout for item in expected if item.payout is not None and item.payout.provider == "stripe"}
    settled = settled_net_by_payout(payout_ids=[p.payout_id for p in stripe.values()], provider="stripe")
    for item in expected:
        payout = stripe.get(item.pk)
        if payout is not None and payout.payout_id in settled:
            lines, by_category = settled[payout.payout_id]
            total = sum(by_category.values())
            result[item.pk] = PayoutContents((), lines, by_category, total, item.amount_cents, settled=True)
    wanted: dict[UUID, tuple[str, ...]] = {}
    for item in expected:
        if item.payout is None or item.pk in result:
            continue
        ids = (item.payout.metadata or {}).get("balance_transactions") or []
        if isinstance(ids, list) and ids:
            wanted[item.pk] = tuple(str(i) for i in ids)
    if not wanted:
        return result
    all_ids = {i for ids in wanted.values() for i in ids}
    rows = {
        r["event_id"]: r
        for r in RevenueEvent.objects.filter(event_id__in=all_ids).values("event_id", "kind", "amount_cents")
    }
    for pk, ids in wanted.items():
        by_kind: dict[str, int] = defaultdict(int)
        found = [rows[i] for i in ids if i in rows]
        for row in found:
            by_kind[row["kind"]] += row["amount_cents"]
        item = next(e for e in expected if e.pk == pk)
        result[pk] = PayoutContents(
            ids, len(found), dict(by_kind), sum(r["amount_cents"] for r in found), item.amount_cents
        )
    return result


@dataclass(frozen=True)
class ScoredCandidate:
    deposit: BankDeposit
    candidate: matching.Candidate


def candidates_for(expected: list[ExpectedDeposit], *, entity: Entity) -> dict[UUID, list[ScoredCandidate]]:
    """expected.pk -> best unmatched bank deposits (scored), for the open unmatched items given."""
    wanted = [e for e in expected if e.status == OPEN and not getattr(e, "active_match_id", None)]
    if not wanted:
        return {}
    window = window_business_days()
    low = min(e.expected_on for e in wanted) - timedelta(days=3 * window)
    high = max(e.expected_on for e in wanted) + timedelta(days=3 * window)
    deposits = list(
        BankDeposit.objects.filter(entity=entity, posted_on__range=(low, high)).exclude(_is_matched("deposit"))
    )
    by_id: dict[object, BankDeposit] = {d.pk: d for d in deposits}  # keyed like matching's ids (`object`)
    plain = [matching.Deposit(d.pk, d.amount_cents, d.currency, d.posted_on, d.description) for d in deposits]
    result: dict[UUID, list[ScoredCandidate]] = {}
    for e in wanted:
        ranked = matching.rank_candidates(
            matching.Expected(e.pk, e.amount_cents, e.currency, e.expected_on, e.source, tuple(e.match_hints)),
            plain,
            window=window,
        )
        result[e.pk] = [ScoredCandidate(by_id[c.deposit_id], c) for c in ranked]
    return result


def recent_actions(*, entity: Entity, limit: int = 15) -> QuerySet[ReconciliationAction]:
    return ReconciliationAction.objects.filter(entity=entity).select_related("actor")[:limit]


class CurrencyTotal(TypedDict):
    """One entity's unmatched items in one currency: their sum and how many."""

    entity_id: int
    currency: str
    total: int
    n: int


class _StaleGroup(TypedDict):
    expected: list[CurrencyTotal]
    deposits: list[CurrencyTotal]
    e_ids: list[str]
    d_ids: list[str]


@dataclass(frozen=True)
class StaleItems:
    entity: Entity
    expected: list[CurrencyTotal]  # per currency: currency, total, n
    deposits: list[CurrencyTotal]
    expected_ids: list[str]
    deposit_ids: list[str]
    cutoff: date

    @property
    def count(self) -> int:
        return sum(r["n"] for r in self.expected) + sum(r["n"] for r in self.deposits)


def stale_unmatched(*, today: date | None = None) -> list[StaleItems]:
    """Per entity: expected deposits and bank deposits still unmatched more than the window after their date."""
    today = today or business_today()
    cutoff = matching.business_days_before(today, window_business_days())
    expected = (
        ExpectedDeposit.objects.filter(status=OPEN, expected_on__lt=cutoff).exclude(_is_matched("expected")).order_by()
    )
    deposits = BankDeposit.objects.filter(posted_on__lt=cutoff).exclude(_is_matched("deposit")).order_by()
    grouped: dict[int, _StaleGroup] = defaultdict(lambda: {"expected": [], "deposits": [], "e_ids": [], "d_ids": []})
    for row in expected.values("entity_id", "currency").annotate(total=Sum("amount_cents"), n=Count("id")):
        grouped[row["entity_id"]]["expected"].append(row)
    for row in deposits.values("entity_id", "currency").annotate(total=Sum("amount_cents"), n=Count("id")):
        grouped[row["entity_id"]]["deposits"].append(row)
    if not grouped:
        return []
    for pk, entity_id in expected.order_by("expected_on").values_list("pk", "entity_id")[:500]:
        grouped[entity_id]["e_ids"].append(str(pk))
    for pk, entity_id in deposits.order_by("posted_on").values_list("pk", "entity_id")[:500]:
        grouped[entity_id]["d_ids"].append(str(pk))
    entities = Entity.objects.in_bulk(list(grouped))
    return [
        StaleItems(entities[eid], g["expected"], g["deposits"], g["e_ids"][:20], g["d_ids"][:20], cutoff)
        for eid, g in sorted(grouped.items())
    ]

"""A payout's tie-out: its amount against the net of the balance transactions it settles (Stripe's payout
reconciliation report, `revenue.PayoutSettlement`), each line tied to the ledger rows it booked.

The payout ties out when its amount equals the sum of its settled lines' net, to the cent. Each line
is also checked against the ledger: a charge, refund, dispute or fee the ledger lacks is *missing*;
one whose ledger rows add up to another net *differs* (converted to the payout's currency with the
row's own USD amount, never a rate guessed here). Three queries whatever the number of lines.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from ..models import Payout, PayoutSettlement, RevenueEvent


class LineStatus(StrEnum):
    BOOKED = "booked"  # its ledger rows are there and add up to its net
    MISSING = "missing"  # a charge, refund, dispute or fee the ledger does not have
    LEDGER_DIFFERS = "ledger_differs"  # the ledger rows add up to another net
    NOT_REVENUE = "not_revenue"  # a transfer, payout reversal or other movement: settles, books nothing
    UNCONVERTED = "unconverted"  # booked, in another currency with no USD amount to compare


@dataclass(frozen=True)
class TieOutLine:
    settlement: PayoutSettlement
    ledger_rows: list[RevenueEvent]
    ledger_net_cents: int | None
    status: LineStatus
    missing_keys: tuple[str, ...] = ()

    @property
    def ledger_difference_cents(self) -> int | None:
        """Report net minus ledger net, when both are known."""
        if self.ledger_net_cents is None:
            return None
        return self.settlement.net_cents - self.ledger_net_cents


@dataclass(frozen=True)
class CategoryTotal:
    category: str
    lines: int
    gross_cents: int
    fee_cents: int
    net_cents: int


@dataclass(frozen=True)
class PayoutTieOut:
    payout: Payout
    lines: list[TieOutLine]
    categories: list[CategoryTotal] = field(default_factory=list)

    @property
    def settled_net_cents(self) -> int:
        return sum(line.settlement.net_cents for line in self.lines if line.settlement.currency == self.payout.currency)

    @property
    def difference_cents(self) -> int:
        """The payout amount minus what its settled lines add up to (0 when it ties out)."""
        return self.payout.amount_cents - self.settled_net_cents

    @property
    def other_currency_lines(self) -> int:
        return sum(1 for line in self.lines if line.settlement.currency != self.payout.currency)

    @property
    def ties_out(self) -> bool:
        return bool(self.lines) and self.difference_cents == 0 and not self.other_currency_lines

    @property
    def missing(self) -> list[TieOutLine]:
        return [line for line in self.lines if line.status == LineStatus.MISSING]

    @property
    def differing(self) -> list[TieOutLine]:
        return [line for line in self.lines if line.status == LineStatus.LEDGER_DIFFERS]


def payout_settlements(*, payout: Payout) -> QuerySet[PayoutSettlement]:
    return PayoutSettlement.objects.filter(provider=payout.provider, payout_id=payout.payout_id).order_by(
        "occurred_at", "balance_transaction_id"
    )


def payout_tie_out(*, payout: Payout) -> PayoutTieOut:
    """The payout against its settled lines, each line with its ledger rows (two queries)."""
    settlements = list(payout_settlements(payout=payout))
    keys = {key for line in settlements for key in line.ledger_keys}
    rows = {row.event_id: row for row in RevenueEvent.objects.filter(event_id__in=keys).order_by("occurred_at")}
    lines = [_line(settlement, rows) for settlement in settlements]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for settlement in settlements:
        total = totals[settlement.reporting_category]
        total[0] += 1
        total[1] += settlement.gross_cents
        total[2] += settlement.fee_cents
        total[3] += settlement.net_cents
    categories = [CategoryTotal(category, *values) for category, values in sorted(totals.items())]
    return PayoutTieOut(payout, lines, categories)


def _line(settlement: PayoutSettlement, rows: dict[str, RevenueEvent]) -> TieOutLine:
    keys = [str(key) for key in settlement.ledger_keys]
    if not keys:
        return TieOutLine(settlement, [], None, LineStatus.NOT_REVENUE)
    found = [rows[key] for key in keys if key in rows]
    main_key = keys[0]
    fee_keys = [key for key in keys if key.startswith("stripe:fee:") and key != main_key]
    missing = [] if main_key in rows else [main_key]
    if settlement.fee_cents and fee_keys and not any(key in rows for key in fee_keys):
        missing.append(fee_keys[0])
    if missing:
        return TieOutLine(settlement, found, None, LineStatus.MISSING, tuple(missing))
    net = _ledger_net(found, settlement.currency)
    if net is None:
        return TieOutLine(settlement, found, None, LineStatus.UNCONVERTED)
    status = LineStatus.BOOKED if net == settlement.net_cents else LineStatus.LEDGER_DIFFERS
    return TieOutLine(settlement, found, net, status)


def _ledger_net(rows: list[RevenueEvent], currency: str) -> int | None:
    """The rows' sum in the balance currency: their own amount when in it, their stated USD amount when the
    balance is in the reporting currency; None when a row has neither."""
    total = 0
    for row in rows:
        if row.currency == currency:
            total += row.amount_cents
        elif currency == settings.REPORTING_CURRENCY and row.amount_usd_cents is not None:
            total += row.amount_usd_cents
        else:
            return None
    return total


def payouts_with_settled_net(queryset: QuerySet[Payout]) -> QuerySet[Payout]:
    """Annotate `settled_net_cents` and `settled_lines` (the payout reconciliation report's lines), in SQL."""
    settled = PayoutSettlement.objects.filter(provider=OuterRef("provider"), payout_id=OuterRef("payout_id"))
    net = settled.values("payout_id").annotate(total=Sum("net_cents")).values("total")
    count = settled.values("payout_id").annotate(n=Count("id")).values("n")
    return queryset.annotate(
        settled_net_cents=Subquery(net, output_field=IntegerField()),
        settled_lines=Coalesce(Subquery(count, output_field=IntegerField()), 0),
    )


def settled_net_by_payout(*, payout_ids: list[str], provider: str) -> dict[str, tuple[int, dict[str, int]]]:
    """payout id -> (settled lines, net by reporting category), in one GROUP BY query."""
    result: dict[str, tuple[int, dict[str, int]]] = {}
    grouped = (
        PayoutSettlement.objects.filter(provider=provider, payout_id__in=payout_ids)
        .values("payout_id", "reporting_category")
        .annotate(lines=Count("id"), net=Sum("net_cents"))
        .order_by("payout_id", "reporting_category")
    )
    for item in grouped:
        lines, by_category = result.get(item["payout_id"], (0, {}))
        by_category[item["reporting_category"]] = item["net"]
        result[item["payout_id"]] = (lines + item["lines"], by_category)
    return result


__all__ = [
    "CategoryTotal",
    "LineStatus",
    "PayoutTieOut",
    "TieOutLine",
    "payout_settlements",
    "payout_tie_out",
    "payouts_with_settled_net",
    "settled_net_by_payout",
]

"""Payouts from files: the Stripe payouts export creates or updates expected deposits, and the payout
reconciliation report records which balance transactions each payout settles.

Both are idempotent: a payout whose file row changes nothing is not saved again (no new history
entry), and a balance transaction already recorded is not recorded twice. Status only moves forward,
as `payout_upsert` (the webhooks' path) decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.db import transaction

from ..entries import PayoutLine, SettlementLine
from ..errors import ApplicationError
from ..models import Entity, Payout, PayoutSettlement, RevenueEvent
from .ledger import _PAYOUT_STATUS_RANK, entity_resolve, payout_upsert


class PayoutOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class PayoutPlan:
    """What importing one payout line would do, before doing it (the preview shows it)."""

    outcome: PayoutOutcome
    entity: Entity
    changes: tuple[str, ...] = ()
    existing: Payout | None = None


def payout_entity(*, line: PayoutLine, existing: Payout | None, fallback: Entity | None) -> Entity:
    """A known payout keeps its entity (the webhook resolved it from the Connect account); a new one takes
    the file's entity column, else the entity chosen on the form, else the default entity, as the ledger
    import decides. A column naming no known entity is refused, never guessed."""
    if existing is not None:
        return existing.entity
    resolution = entity_resolve(entity_hint=line.entity_hint)
    if not resolution.resolved:
        raise ApplicationError(f"'{line.entity_hint}' is not a known entity", code="unknown_entity")
    if resolution.source == RevenueEvent.EntitySource.DEFAULT and fallback is not None:
        return fallback
    return resolution.entity


def payout_line_plan(*, line: PayoutLine, fallback_entity: Entity | None) -> PayoutPlan:
    """Created, updated (naming the fields that change) or unchanged: one query."""
    existing = Payout.objects.select_related("entity").filter(provider=line.provider, payout_id=line.payout_id).first()
    entity = payout_entity(line=line, existing=existing, fallback=fallback_entity)
    if existing is None:
        return PayoutPlan(PayoutOutcome.CREATED, entity)
    changes = [
        name
        for name, old, new in (
            ("amount", existing.amount_cents, line.amount_cents),
            ("currency", existing.currency, line.currency),
            ("arrival date", existing.arrival_on, line.arrival_on or existing.arrival_on),
            ("statement descriptor", existing.statement_descriptor, line.statement_descriptor),
        )
        if old != new
    ]
    if line.status != existing.status and _PAYOUT_STATUS_RANK[line.status] >= _PAYOUT_STATUS_RANK[existing.status]:
        changes.append(f"status {existing.status} → {line.status}")
    details = {key: value for key, value in line.metadata.items() if key not in ("import_file", "source")}
    if any(existing.metadata.get(key) != value for key, value in details.items()):
        changes.append("details")
    outcome = PayoutOutcome.UPDATED if changes else PayoutOutcome.UNCHANGED
    return PayoutPlan(outcome, entity, tuple(changes), existing)


@transaction.atomic
def stripe_payout_import(
    *, line: PayoutLine, fallback_entity: Entity | None = None
) -> tuple[Payout | None, PayoutPlan]:
    """Create or update the payout of one payouts-export row; an unchanged payout is left alone.

    The payout's existing metadata (the webhook's delivery id, notes) is kept; the file's details are added.
    """
    plan = payout_line_plan(line=line, fallback_entity=fallback_entity)
    if plan.outcome == PayoutOutcome.UNCHANGED:
        return plan.existing, plan
    metadata: dict[str, Any] = dict(line.metadata)
    if plan.existing is not None:
        metadata.pop("source", None)  # a webhook's payout stays a webhook's payout; the file only adds to it
    payout, _created = payout_upsert(
        provider=line.provider,
        payout_id=line.payout_id,
        entity=plan.entity,
        amount_cents=line.amount_cents,
        currency=line.currency,
        status=line.status,
        arrival_on=line.arrival_on or (plan.existing.arrival_on if plan.existing else None),
        statement_descriptor=line.statement_descriptor,
        metadata=metadata,
    )
    return payout, plan


@dataclass
class SettlementResult:
    created: list[PayoutSettlement] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    # balance transaction id -> the payout it is already recorded in, when a file names another one.
    conflicts: dict[str, str] = field(default_factory=dict)


def settlements_known(*, lines: list[SettlementLine]) -> dict[str, str]:
    """balance transaction id -> the payout it is recorded in, for those of `lines` already recorded (one query)."""
    if not lines:
        return {}
    return dict(
        PayoutSettlement.objects.filter(
            provider=lines[0].provider, balance_transaction_id__in=[line.balance_transaction_id for line in lines]
        ).values_list("balance_transaction_id", "payout_id")
    )


@transaction.atomic
def payout_settlements_record(*, lines: list[SettlementLine]) -> SettlementResult:
    """Record which payout settles each balance transaction (one query to look, one INSERT).

    A balance transaction settles in exactly one payout: recorded once, a repeat is `already`; a file that
    puts it in another payout is a `conflict`, recorded nowhere (Stripe never moves one; the file is wrong).
    """
    result = SettlementResult()
    known = settlements_known(lines=lines)
    new: dict[str, SettlementLine] = {}
    for line in lines:
        txn = line.balance_transaction_id
        recorded_in = known.get(txn) or (new[txn].payout_id if txn in new else None)
        if recorded_in is None:
            new[txn] = line
        elif recorded_in == line.payout_id:
            result.already.append(txn)
        else:
            result.conflicts[txn] = recorded_in
    result.created = PayoutSettlement.objects.bulk_create(
        [
            PayoutSettlement(
                provider=line.provider,
                payout_id=line.payout_id,
                balance_transaction_id=line.balance_transaction_id,
                reporting_category=line.reporting_category,
                currency=line.currency,
                gross_cents=line.gross_cents,
                fee_cents=line.fee_cents,
                net_cents=line.net_cents,
                source_id=line.source_id,
                description=line.description,
                occurred_at=line.occurred_at,
                ledger_keys=list(line.ledger_keys),
                metadata=line.metadata,
            )
            for line in new.values()
        ]
    )
    return result


__all__ = [
    "PayoutOutcome",
    "PayoutPlan",
    "SettlementResult",
    "payout_entity",
    "payout_line_plan",
    "payout_settlements_record",
    "settlements_known",
    "stripe_payout_import",
]

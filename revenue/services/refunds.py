"""The one Stripe cumulative-refund rule, for webhooks (`charge.refunded` without a refund list)
and the payments export ("Amount Refunded") alike.

Stripe states how much of a charge was refunded in total (`amount_refunded`), not which refunds
make it up. The ledger books only the part no row for the charge explains yet: refund rows
(`refund.*`), earlier unattributed remainders and their settlements all carry
`metadata.refund_charge`, so the outstanding amount is the total minus what they already show.
"""

from __future__ import annotations

from django.db.models import Sum

from ..models import RevenueEvent


def stripe_refunded_known(*, parent_event_id: str, charge_id: str) -> int:
    """How much of the charge the ledger already shows as refunded (positive minor units)."""
    total = RevenueEvent.objects.filter(parent_event_id=parent_event_id, metadata__refund_charge=charge_id).aggregate(
        total=Sum("amount_cents")
    )["total"]
    return -(total or 0)


def stripe_refund_outstanding(*, parent_event_id: str, charge_id: str, amount_refunded: int) -> int:
    """The part of a cumulative refunded amount no ledger row explains yet (0 when all is explained)."""
    return max(amount_refunded - stripe_refunded_known(parent_event_id=parent_event_id, charge_id=charge_id), 0)

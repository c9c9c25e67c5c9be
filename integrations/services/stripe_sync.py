"""Backfill from the Stripe API into the SAME mapping the webhooks use (same keys: no double counting).

Only `manage.py sync_stripe` calls this; webhook intake never needs the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TypeVar

import stripe
from stripe.params import ChargeListParamsCreated

from ..facts import Fact
from ..stripe import mapping
from .ingest import facts_apply

PAGE_SIZE = 100

_Obj = TypeVar("_Obj", bound=stripe.StripeObject)


def stripe_client_build(*, api_key: str, api_base: str = "") -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=2,
    )


def _objects(listing: stripe.ListObject[_Obj]) -> Iterator[mapping.Json]:
    for obj in listing.auto_paging_iter():
        yield obj.to_dict()


def _context(obj: mapping.Json, kind: str) -> mapping.Context:
    created = obj.get("created")
    return mapping.Context(
        event_id=f"sync:{obj.get('id', '')}",
        event_type=f"sync.{kind}",
        account="",
        event_created=mapping.from_epoch(created) if isinstance(created, int) else datetime.now().astimezone(),
    )


def stripe_backfill(*, client: stripe.StripeClient, since: datetime) -> dict[str, int]:
    """Page through charges, refunds, disputes, payouts and balance transactions created since `since`.

    Charges come with their balance transaction expanded, so sales get Stripe's
    USD amount and their fee row. Each object is applied in its own transaction
    (facts_apply is idempotent), so an interrupted run can simply be run again.
    """
    # Every list endpoint's `created` filter has this same shape (TypedDicts compare structurally).
    created: ChargeListParamsCreated = {"gte": int(since.timestamp())}
    counts = {"charges": 0, "refunds": 0, "disputes": 0, "payouts": 0, "balance_transactions": 0, "ledger_rows": 0}
    charge_payment_intents: dict[str, str] = {}

    def apply(facts: list[Fact]) -> None:
        counts["ledger_rows"] += len(facts_apply(facts=facts, source="sync_stripe"))

    for charge in _objects(
        client.v1.charges.list(params={"created": created, "limit": PAGE_SIZE, "expand": ["data.balance_transaction"]})
    ):
        counts["charges"] += 1
        charge_payment_intents[charge["id"]] = mapping.object_id(charge.get("payment_intent"))
        apply(mapping.charge_facts(charge, _context(charge, "charge")))
    for refund in _objects(client.v1.refunds.list(params={"created": created, "limit": PAGE_SIZE})):
        counts["refunds"] += 1
        apply(mapping.refund_facts(refund, _context(refund, "refund")))
    for dispute in _objects(client.v1.disputes.list(params={"created": created, "limit": PAGE_SIZE})):
        counts["disputes"] += 1
        apply(mapping.dispute_facts(dispute, _context(dispute, "dispute")))
    for payout in _objects(client.v1.payouts.list(params={"created": created, "limit": PAGE_SIZE})):
        counts["payouts"] += 1
        apply(mapping.payout_facts(payout, _context(payout, "payout")))
    for bt in _objects(client.v1.balance_transactions.list(params={"created": created, "limit": PAGE_SIZE})):
        counts["balance_transactions"] += 1
        apply(
            mapping.balance_transaction_facts(
                bt, _context(bt, "balance_transaction"), charge_payment_intents=charge_payment_intents
            )
        )
    return counts

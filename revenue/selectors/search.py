"""Find ledger rows by any id a person holds: what Stripe, Gumroad or a customer shows them.

Stripe's dashboard and emails show `pi_…`, `ch_…`, `cs_…`, `in_…`, `re_…`, `dp_…`;
the ledger keys rows as `stripe:pi_…` and keeps the others in `source_id`,
`parent_event_id`, `metadata` or the description. Gumroad shows a sale id
(`gumroad:sale:<id>` here). A payout id (`po_…`) finds the rows the payout settles
(its balance transactions). A PO number is the reference; an email the customer.
A row found also brings the rows that reverse it, so a reversal is found by its
original's id.
"""

from __future__ import annotations

import operator
from functools import reduce

from django.db.models import Q, QuerySet

from ..models import Payout, RevenueEvent

# Where mappers and importers keep a provider's ids in `metadata` (webhooks and CSV backfill).
METADATA_ID_KEYS = ("payment_intent", "charge", "charge_id", "invoice", "dispute", "sale_id")
KEY_PREFIXES = ("", "stripe:", "gumroad:sale:", "gumroad:", "manual:")


def revenue_event_id_filter(term: str) -> Q:
    """Rows whose own id, source, parent or recorded provider ids equal `term`, or that mention it
    (a Checkout session `cs_…` lives in the description), and the rows reversing any of them."""
    term = term.strip()
    keys = [f"{prefix}{term}" for prefix in KEY_PREFIXES]
    direct = reduce(
        operator.or_,
        [
            Q(event_id__in=keys),
            Q(source_id=term),
            Q(parent_event_id__in=keys),
            Q(customer_id=term),
            Q(customer_email__iexact=term),
            Q(reference__iexact=term),
            *(Q(metadata__contains={key: term}) for key in METADATA_ID_KEYS),
        ],
    )
    if len(term) >= 6:  # an id, not a fragment of every description
        direct |= Q(description__icontains=term)
    settled = _payout_settles(term)
    if settled:
        direct |= Q(event_id__in=settled)
    return direct | Q(reverses__in=RevenueEvent.objects.filter(direct).values("pk"))


def _payout_settles(payout_id: str) -> list[str]:
    """The ledger event ids a payout settles (`metadata.balance_transactions`), when `payout_id` is one."""
    metadata = Payout.objects.filter(payout_id=payout_id).values_list("metadata", flat=True).first()
    settled = (metadata or {}).get("balance_transactions") if isinstance(metadata, dict) else None
    return [str(event_id) for event_id in settled] if isinstance(settled, list) else []


def revenue_events_search(queryset: QuerySet[RevenueEvent], term: str) -> QuerySet[RevenueEvent]:
    return queryset.filter(revenue_event_id_filter(term))

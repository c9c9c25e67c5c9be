"""The possible-duplicate rule, once: what makes two ledger rows look like the same money,
the fingerprint of that condition, and the query that finds candidates for new rows.

The CSV import (`revenue.backfill.duplicates`) and the alerts beat (`alerts.detectors`) both
judge pairs with `is_possible_duplicate` and name the condition with `duplicate_fingerprint`,
so one payment booked by webhook and again from an export is one alert, whichever path
finds it first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection

from .business_time import business_local, business_zone
from .models import RevenueEvent

# Wider than any duplicate test: the window (capped at a day) and "the same business day" (up to 25 h).
DUPLICATE_HORIZON = timedelta(hours=26)


def duplicate_window() -> timedelta:
    """How close in time two payments of the same customer and amount must be to look doubled."""
    return timedelta(minutes=min(settings.ALERTS_DUPLICATE_WINDOW_MINUTES, 24 * 60))


def duplicate_fingerprint(event_ids: Iterable[str]) -> str:
    """The condition's identity: stable and independent of order (and of which path found it)."""
    digest = hashlib.sha256("|".join(sorted(set(event_ids))).encode()).hexdigest()[:24]
    return f"duplicate:{digest}"


def event_source(event: RevenueEvent) -> str:
    """Where a row came from: its `metadata.source` (a CSV format, the manual form), else its provider."""
    source = (event.metadata or {}).get("source")
    return event.provider if source is None else str(source)


def same_customer(a: RevenueEvent, b: RevenueEvent) -> bool:
    """Same customer email (case-insensitive) or same customer id."""
    emails = a.customer_email and b.customer_email and a.customer_email.lower() == b.customer_email.lower()
    return bool(emails or (a.customer_id and a.customer_id == b.customer_id))


def is_possible_duplicate(a: RevenueEvent, b: RevenueEvent, *, window: timedelta) -> bool:
    """Two payments that look like the same money.

    Same customer, amount and currency under different event ids, and either within `window`
    of each other (charged or booked twice), or from different sources (webhook, a CSV format,
    the manual form) of the same provider, or a manual entry beside a provider's row, on the
    same business day (booked once by each path).
    Callers pass live payments only (not reversed).
    """
    if a.event_id == b.event_id or a.kind != RevenueEvent.Kind.PAYMENT or b.kind != RevenueEvent.Kind.PAYMENT:
        return False
    if (a.amount_cents, a.currency) != (b.amount_cents, b.currency) or not same_customer(a, b):
        return False
    if abs(a.occurred_at - b.occurred_at) <= window:
        return True
    if event_source(a) == event_source(b) or not could_be_one_payment(a, b):
        return False
    zone = business_zone()
    return business_local(a.occurred_at, zone).date() == business_local(b.occurred_at, zone).date()


def could_be_one_payment(a: RevenueEvent, b: RevenueEvent) -> bool:
    """One provider's rows (webhook and export), or a manual entry beside anything: a Stripe sale
    and a Gumroad sale are two payments, whatever their amounts."""
    return a.provider == b.provider or RevenueEvent.Provider.MANUAL in (a.provider, b.provider)


# Candidate pairs for new rows: live payments of the same customer (email, case-insensitive, or
# customer id), amount and currency within the horizon. Each new row looks its twins up in the two
# partial indexes keyed (customer, amount, currency, occurred_at) (migration 0012), so a batch costs
# a few index probes per row whatever the ledger's size and however many rows share an amount (a
# burst of one price on one day made the former hash join over (amount, currency) read every row of
# the day for every batch). Rows without an email or customer id have no candidates (`same_customer`).
_CANDIDATES_SQL = """
WITH n AS MATERIALIZED (
  SELECT id, amount_cents, currency, occurred_at,
         lower(NULLIF(customer_email, '')) AS email, NULLIF(customer_id, '') AS customer_id
    FROM revenue_events WHERE event_id = ANY(%(ids)s) AND kind = 'payment'
)
SELECT n.id, o.id FROM n CROSS JOIN LATERAL (
  SELECT e.id FROM revenue_events e
   WHERE lower(e.customer_email) = n.email AND e.amount_cents = n.amount_cents AND e.currency = n.currency
     AND e.kind = 'payment'
     AND e.occurred_at BETWEEN n.occurred_at - make_interval(secs => %(horizon)s)
                           AND n.occurred_at + make_interval(secs => %(horizon)s)
  UNION
  SELECT e.id FROM revenue_events e
   WHERE e.customer_id = n.customer_id AND e.amount_cents = n.amount_cents AND e.currency = n.currency
     AND e.kind = 'payment'
     AND e.occurred_at BETWEEN n.occurred_at - make_interval(secs => %(horizon)s)
                           AND n.occurred_at + make_interval(secs => %(horizon)s)
) o
WHERE o.id <> n.id AND NOT EXISTS (SELECT 1 FROM revenue_events r WHERE r.reverses_id = o.id)
"""


def duplicate_candidates(*, event_ids: list[str]) -> list[tuple[RevenueEvent, RevenueEvent]]:
    """(new row, other row) pairs among `event_ids` and the ledger that `is_possible_duplicate` judges."""
    if not event_ids:
        return []
    if connection.vendor != "postgresql":
        return _duplicate_candidates_portable(event_ids)
    params: dict[str, int | list[str]] = {"horizon": int(DUPLICATE_HORIZON.total_seconds()), "ids": list(event_ids)}
    with connection.cursor() as cursor:
        cursor.execute(_CANDIDATES_SQL, params)
        pairs = {(row[0], row[1]) for row in cursor.fetchall()}
    rows = RevenueEvent.objects.in_bulk({pk for pair in pairs for pk in pair})
    return [(rows[new], rows[other]) for new, other in sorted(pairs, key=str)]


def _duplicate_candidates_portable(event_ids: list[str]) -> list[tuple[RevenueEvent, RevenueEvent]]:
    """`_CANDIDATES_SQL` with the ORM, a query per new row: for SQLite (the zero-setup run)."""
    pairs: list[tuple[RevenueEvent, RevenueEvent]] = []
    new_rows = RevenueEvent.objects.filter(event_id__in=event_ids, kind=RevenueEvent.Kind.PAYMENT)
    for new in new_rows:
        if not (new.customer_email or new.customer_id):
            continue
        twins = RevenueEvent.objects.filter(
            kind=RevenueEvent.Kind.PAYMENT,
            reversed_by__isnull=True,
            amount_cents=new.amount_cents,
            currency=new.currency,
            occurred_at__gte=new.occurred_at - DUPLICATE_HORIZON,
            occurred_at__lte=new.occurred_at + DUPLICATE_HORIZON,
        ).exclude(pk=new.pk)
        pairs.extend((new, other) for other in twins if same_customer(new, other))
    return pairs

"""Property: weekly and monthly totals are the sum of their dailies, and net is the ledger sum."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revenue.models import Entity, ExchangeRate
from revenue.periods import periods_between
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry
from summaries.models import RevenueSummary
from summaries.services import summaries_recompute, summary_compute

from .conftest import CHICAGO

pytestmark = pytest.mark.django_db

SIGNS = {"payment": 1, "refund": -1, "dispute": -1, "fee": -1, "dispute_reversal": 1, "adjustment": 1}
MONTHS = [date(2026, 3, 1), date(2025, 11, 1)]  # the two DST months, both in the past (the ledger refuses future times)


def _window(month: date) -> tuple[datetime, datetime]:
    """A few days either side of the month, in UTC."""
    start = datetime.combine(month - timedelta(days=10), datetime.min.time(), tzinfo=UTC)
    return start, start + timedelta(days=52)


events = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=52 * 24 * 3600 - 1),  # seconds into the window
        st.integers(min_value=0, max_value=500_000),
        st.sampled_from(sorted(SIGNS)),
        st.sampled_from(["USD", "EUR", "JPY"]),
        st.sampled_from(["aplus-enterprise", "legacy-unchained"]),
        st.sampled_from(["stripe", "gumroad", "manual"]),
    ),
    max_size=30,
)


def _nonzero(amounts: dict) -> dict:
    return {currency: amount for currency, amount in amounts.items() if amount}


def _nets(row: RevenueSummary) -> Counter:
    return Counter({currency: m["net_cents"] for currency, m in row.by_currency.items()})


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(month=st.sampled_from(MONTHS), drawn=events)
def test_weekly_and_monthly_equal_their_dailies_and_net_equals_the_ledger(entities, month, drawn):
    with transaction.atomic():
        ExchangeRate.objects.create(currency="EUR", rate_on=month - timedelta(days=30), usd_per_unit=Decimal("1.0850"))
        window_start, _ = _window(month)
        expected_month = Counter()
        for seconds, amount, kind, currency, slug, provider in drawn:
            at = window_start + timedelta(seconds=seconds)
            revenue_event_record(
                entry=ledger_entry(
                    amount_cents=SIGNS[kind] * amount, occurred_at=at, kind=kind, currency=currency, provider=provider
                ),
                entity=entities[slug],
            )
            local_day = at.astimezone(CHICAGO).date()
            if (local_day.year, local_day.month) == (month.year, month.month):
                expected_month[currency] += SIGNS[kind] * amount

        first, last = month - timedelta(days=7), month + timedelta(days=38)
        # Dailies from the bulk path (one aggregation by business day); weeks and months each
        # from their own aggregation over their UTC range: two independent computations.
        summaries_recompute(first_day=first, last_day=last, cadences=("daily",))
        for cadence in ("weekly", "monthly"):
            for period in periods_between(cadence, first, last):
                summary_compute(cadence=cadence, day=period.first_day)

        scopes = [None, *Entity.objects.values_list("pk", flat=True)]
        for scope in scopes:
            rows = (
                RevenueSummary.objects.filter(entity_id=scope)
                if scope
                else RevenueSummary.objects.filter(entity__isnull=True)
            )
            dailies = {row.start_date: row for row in rows.filter(period="daily")}
            for period in ("weekly", "monthly"):
                for row in rows.filter(period=period):
                    covered = [
                        row.start_date + timedelta(days=n) for n in range((row.end_date - row.start_date).days + 1)
                    ]
                    if not all(day in dailies for day in covered):
                        continue  # partly outside the recomputed range
                    summed = Counter()
                    for day in covered:
                        summed.update(_nets(dailies[day]))  # update() keeps negatives; + would drop them
                    assert _nonzero(_nets(row)) == _nonzero(summed)
                    assert row.total_amount_cents == sum(dailies[day].total_amount_cents for day in covered)
                    assert row.event_count == sum(dailies[day].event_count for day in covered)

        monthly = RevenueSummary.objects.get(period="monthly", start_date=month, entity__isnull=True)
        assert _nonzero(_nets(monthly)) == _nonzero(expected_month)
        assert monthly.net_cents == (
            monthly.payments_cents
            + monthly.refunds_cents
            + monthly.disputes_cents
            + monthly.disputes_won_cents
            + monthly.fees_cents
            + monthly.adjustments_cents
        )
        # The bulk recompute of weeks and months agrees with the per-period computation.
        longer = RevenueSummary.objects.filter(period__in=["weekly", "monthly"])
        per_period = {(r.period, r.start_date, r.entity_id): (r.by_currency, r.total_amount_cents) for r in longer}
        summaries_recompute(first_day=first, last_day=last, cadences=("weekly", "monthly"))
        bulk = {(r.period, r.start_date, r.entity_id): (r.by_currency, r.total_amount_cents) for r in longer.all()}
        assert bulk == per_period
        transaction.set_rollback(True)

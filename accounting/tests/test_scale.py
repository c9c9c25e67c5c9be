"""The files over a busier month: the same number of queries for 6,000 rows as for 15, and timings."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest

from accounting.selectors import ExportScope
from accounting.services import FileKind, accountant_file_build
from revenue.models import RevenueEvent


@pytest.fixture
def busy_june(books):
    aplus = books["aplus-enterprise"]
    rows = []
    for n in range(3000):
        occurred = datetime(2026, 6, 1, 12, tzinfo=UTC) + timedelta(minutes=14 * n)  # through June 30
        currency, provider = [("USD", "stripe"), ("EUR", "stripe"), ("USD", "gumroad"), ("JPY", "manual")][n % 4]
        sale = RevenueEvent(
            event_id=f"scale:{n}",
            provider=provider,
            event_type="sale",
            kind="payment",
            amount_cents=1000 + n,
            currency=currency,
            amount_usd_cents=1000 + n if currency == "USD" else None,
            fx_source="identity" if currency == "USD" else "",
            entity=aplus,
            occurred_at=occurred,
            customer_email=f"c{n}@example.com",
        )
        fee = RevenueEvent(
            event_id=f"scale:fee:{n}",
            provider=provider,
            event_type="fee",
            kind="fee",
            amount_cents=-(30 + n % 7),
            currency=currency,
            entity=aplus,
            occurred_at=occurred,
            parent_event_id=f"scale:{n}",
        )
        rows += [sale, fee]
    RevenueEvent.objects.bulk_create(rows, batch_size=2000)
    return ExportScope(aplus, date(2026, 6, 1), date(2026, 6, 30))


def _drain(file) -> int:
    return len(file.content) if isinstance(file.content, bytes) else sum(len(chunk) for chunk in file.content)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "queries"),
    [
        (FileKind.LEDGER_CSV, 1),
        (FileKind.LEDGER_XLSX, 1),
        (FileKind.SUMMARY_CSV, 1),
        (FileKind.SUMMARY_XLSX, 1),
        (FileKind.QBO_CSV, 2),
    ],
)
def test_query_count_does_not_grow_with_rows(busy_june, kind, queries, django_assert_num_queries):
    started = time.perf_counter()
    with django_assert_num_queries(queries):
        size = _drain(accountant_file_build(scope=busy_june, kind=kind))
    print(f"{kind.value}: 6,000 rows -> {size:,} bytes in {time.perf_counter() - started:.2f} s")

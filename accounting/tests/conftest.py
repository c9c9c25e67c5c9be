"""A June 2026 ledger for A+ Enterprise LLC (the worked example of docs/numbers.md plus JPY, KWD, a
reversal, rows on either side of the month's edges in Central time) and one Legacy row."""

from __future__ import annotations

import csv
import importlib
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest

from revenue.services import revenue_event_record, revenue_event_reverse
from revenue.tests.factories import ledger_entry

JUNE_2 = datetime(2026, 6, 2, 17, 0, tzinfo=UTC)  # 12:00 CDT


def _record(entity, **values):
    return revenue_event_record(entry=ledger_entry(**values), entity=entity).event


@pytest.fixture
def books(db):
    """The seeded entities and default account mappings (a transactional test's flush removes them)."""
    from django.apps import apps

    from revenue.models import Entity

    for row in importlib.import_module("revenue.migrations.0002_seed_entities").ENTITIES:
        Entity.objects.get_or_create(slug=row["slug"], defaults=row)
    importlib.import_module("accounting.migrations.0002_seed_account_mappings").seed(apps, None)
    return {entity.slug: entity for entity in Entity.objects.all()}


@pytest.fixture
def entities(books):
    """The root fixture's entities, seeded again if a transactional test flushed them."""
    return books


@pytest.fixture
def june_ledger(books):
    aplus, legacy = books["aplus-enterprise"], books["legacy-unchained"]
    rows = {}
    rows["sale"] = _record(aplus, event_id="stripe:pi_1", amount_cents=25000, occurred_at=JUNE_2)
    rows["sale_fee"] = _record(
        aplus,
        event_id="stripe:fee:txn_1",
        kind="fee",
        amount_cents=-755,
        parent_event_id="stripe:pi_1",
        occurred_at=JUNE_2,
        customer_email=None,
    )
    rows["gumroad"] = _record(
        aplus, event_id="gumroad:g1", provider="gumroad", event_type="sale", amount_cents=19900, occurred_at=JUNE_2
    )
    rows["gumroad_fee"] = _record(
        aplus,
        event_id="gumroad:fee:g1",
        provider="gumroad",
        event_type="fee",
        kind="fee",
        amount_cents=-2090,
        parent_event_id="gumroad:g1",
        occurred_at=JUNE_2,
    )
    rows["refund"] = _record(aplus, event_id="stripe:re_1", kind="refund", amount_cents=-10000, occurred_at=JUNE_2)
    rows["dispute"] = _record(aplus, event_id="stripe:dp_1", kind="dispute", amount_cents=-75000, occurred_at=JUNE_2)
    rows["dispute_fee"] = _record(aplus, event_id="stripe:fee:dp_1", kind="fee", amount_cents=-1500, occurred_at=JUNE_2)
    rows["won"] = _record(
        aplus, event_id="stripe:dp_1:won", kind="dispute_reversal", amount_cents=75000, occurred_at=JUNE_2
    )
    rows["fee_back"] = _record(
        aplus, event_id="stripe:dp_1:fee_back", kind="adjustment", amount_cents=1500, occurred_at=JUNE_2
    )
    rows["eur"] = _record(
        aplus,
        event_id="stripe:pi_eur",
        amount_cents=4900,
        currency="EUR",
        amount_usd_cents=5317,
        fx_rate=Decimal("1.0851020408"),
        fx_source="stripe_balance_transaction",
        occurred_at=JUNE_2,
    )
    rows["jpy"] = _record(
        aplus,
        event_id="manual:aplus:PO-JP",
        provider="manual",
        event_type="manual",
        amount_cents=5000,
        currency="JPY",
        reference="PO-JP",
        occurred_at=datetime(2026, 6, 10, 17, 0, tzinfo=UTC),
    )
    rows["kwd"] = _record(
        aplus,
        event_id="manual:aplus:PO-KW",
        provider="manual",
        event_type="manual",
        amount_cents=1234,
        currency="KWD",
        occurred_at=datetime(2026, 6, 10, 17, 0, tzinfo=UTC),
        description='=HYPERLINK("http://x")',
    )
    rows["po"] = _record(
        aplus,
        event_id="manual:aplus:PO-9",
        provider="manual",
        event_type="manual",
        amount_cents=30000,
        reference="PO-9",
        customer_email=None,
        occurred_at=datetime(2026, 6, 20, 17, 0, tzinfo=UTC),
    )
    rows["po_reversal"] = revenue_event_reverse(
        event=rows["po"], reason="typo", occurred_at=datetime(2026, 6, 20, 17, 0, tzinfo=UTC)
    )
    # 23:30 CDT on June 30 is July 1 in UTC: June's. 00:30 CDT on July 1: July's. May 31 23:30 CDT: May's.
    rows["last_evening"] = _record(aplus, amount_cents=100, occurred_at=datetime(2026, 7, 1, 4, 30, tzinfo=UTC))
    rows["july"] = _record(aplus, amount_cents=200, occurred_at=datetime(2026, 7, 1, 5, 30, tzinfo=UTC))
    rows["may"] = _record(aplus, amount_cents=400, occurred_at=datetime(2026, 6, 1, 4, 30, tzinfo=UTC))
    rows["legacy"] = _record(legacy, amount_cents=999, occurred_at=JUNE_2)
    return rows


JUNE = (date(2026, 6, 1), date(2026, 6, 30))


@pytest.fixture
def rates(db):
    """Rate-table rates for JPY and KWD; request it before `june_ledger` so those rows get a USD amount."""
    from revenue.models import ExchangeRate

    ExchangeRate.objects.create(currency="JPY", rate_on=date(2026, 6, 1), usd_per_unit=Decimal("0.0064"), source="ECB")
    ExchangeRate.objects.create(currency="KWD", rate_on=date(2026, 6, 1), usd_per_unit=Decimal("3.25"), source="ECB")


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


def xlsx_rows(content: bytes) -> list[list[str]]:
    """The first sheet's cells as text, read back with openpyxl: numbers as their exact decimal text,
    dates as ISO dates, empty cells as ""."""
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
    return [[_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, float):
        return str(Decimal(repr(value)))
    return str(value)

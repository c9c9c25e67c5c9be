"""Fees from files (issue 16): Stripe's itemized balance change report (a new format), the Stripe
payments export's `Fee` column and Gumroad's `Fees ($)`. Each fee is a ledger row tied to its
payment; the same fee from a webhook and from a file is one row; importing twice adds nothing."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from alerts.models import RevenueAlert
from integrations.summary_text import summary_text
from revenue.backfill import FileFormatError, check_columns, map_stripe_itemized_row
from revenue.backfill.parse import RowError
from revenue.models import RevenueEvent
from revenue.resources import IMPORT_RESOURCES, StripeItemizedBalanceResource
from revenue.selectors.buckets import money_buckets
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry
from summaries.services import summary_compute, summary_payload

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parent / "data"
ITEMIZED = DATA / "stripe_itemized_balance.csv"
JUNE = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))


def _import(fmt: str, path: Path | str) -> None:
    call_command("import_revenue_csv", str(path), "--format", fmt, "--no-progress")


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _bucket_dict(currency: str) -> dict[str, int]:
    return money_buckets(start=JUNE[0], end=JUNE[1])[currency].as_dict()


# --- the itemized balance change report ------------------------------------------------------


def test_itemized_rows_map_like_the_webhooks_with_their_fees():
    charge, eur, jpy, refund, _charge6, dispute, won, radar, payout, climate, orphan = (
        map_stripe_itemized_row(row) for row in _rows(ITEMIZED)
    )
    assert [(e.event_id, e.kind, e.amount_cents) for e in charge.entries] == [
        ("stripe:pi_3ItmCharge001", "payment", 25000),
        ("stripe:fee:txn_1ItmCharge001", "fee", -755),  # the webhook's fee key
    ]
    assert charge.entries[1].parent_event_id == "stripe:pi_3ItmCharge001"
    assert charge.entries[1].metadata["charge"] == "ch_3ItmCharge001"
    # What the customer paid, in their currency; what arrived, in USD, with Stripe's rate.
    sale = eur.entries[0]
    assert (sale.currency, sale.amount_cents, sale.amount_usd_cents) == ("EUR", 4900, 5317)
    assert sale.fx_rate == Decimal("1.0851020408") and sale.fx_source == "stripe_balance_transaction"
    assert (eur.entries[1].currency, eur.entries[1].amount_cents) == ("USD", -192)
    assert (jpy.entries[0].currency, jpy.entries[0].amount_cents, jpy.entries[0].amount_usd_cents) == (
        "JPY",
        5000,
        3340,
    )
    assert [(e.event_id, e.kind, e.amount_cents) for e in refund.entries] == [
        ("stripe:re_3ItmRefund004", "refund", -10000)
    ]
    assert [(e.event_id, e.kind, e.amount_cents) for e in dispute.entries] == [
        ("stripe:dp_1ItmDispute006", "dispute", -75000),
        ("stripe:fee:txn_1ItmDispute005", "fee", -1500),
    ]
    assert [(e.event_id, e.kind, e.amount_cents) for e in won.entries] == [
        ("stripe:dp_1ItmDispute006:reinstated", "dispute_reversal", 75000),
        ("stripe:fee:txn_1ItmDisputeWon007", "adjustment", 1500),  # the dispute fee given back
    ]
    assert [(e.event_id, e.kind, e.amount_cents, e.parent_event_id) for e in radar.entries] == [
        ("stripe:fee:txn_1ItmRadar008", "fee", -5, "")
    ]
    assert "payout" in payout.skip_reason and not payout.entries
    assert climate.skip_reason == "reporting_category 'climate_order_purchase' is not one this import books"
    assert orphan.entries[1].parent_event_id == "stripe:pi_3ItmUnknown011"


@pytest.mark.parametrize(
    ("change", "column", "fragment"),
    [
        ({"net": "1.00"}, "net", "gross minus fee"),
        ({"currency": "zzz"}, "currency", "ISO 4217"),
        ({"gross": "-250.00", "net": "-257.55"}, "gross", "positive"),
        ({"created_utc": "yesterday"}, "created_utc", ""),
        ({"charge_id": "", "payment_intent_id": ""}, "charge_id", "charge"),
    ],
)
def test_itemized_bad_cells_name_their_column(change, column, fragment):
    row = {**_rows(ITEMIZED)[0], **change}
    with pytest.raises(RowError) as exc:
        map_stripe_itemized_row(row)
    assert exc.value.column == column and fragment in exc.value.message


def test_itemized_file_without_its_columns_is_refused_naming_them():
    with pytest.raises(FileFormatError, match=r"missing columns balance_transaction_id, .*reporting_category"):
        check_columns(["id", "Amount", "Currency"], "stripe_itemized")


def test_itemized_import_exact_buckets_standalone_fee_alert_and_twice_adds_nothing(entities):
    _import("stripe_itemized", ITEMIZED)
    assert RevenueEvent.objects.count() == 16
    assert _bucket_dict("USD") == {
        "payments_cents": 25000 + 75000,
        "refunds_cents": -10000,
        "disputes_cents": -75000 - 2000,
        "disputes_won_cents": 75000,
        "fees_cents": -(755 + 192 + 127 + 2205 + 1500 + 5 + 1500),
        "adjustments_cents": 1500,
        "net_cents": 100000 - 10000 - 77000 + 75000 - 6284 + 1500,
    }
    assert _bucket_dict("EUR")["payments_cents"] == 4900 and _bucket_dict("JPY")["net_cents"] == 5000
    usd = RevenueEvent.objects.get(event_id="stripe:pi_3ItmJpy003")
    assert (usd.amount_usd_cents, usd.fx_source) == (3340, "stripe_balance_transaction")
    # The orphan dispute's fee names a payment the ledger does not know: booked, and one alert.
    alert = RevenueAlert.objects.get(fingerprint="fee:standalone:stripe:fee:txn_1ItmDispute011")
    assert "stripe:pi_3ItmUnknown011" in alert.message
    assert RevenueAlert.objects.filter(fingerprint__startswith="fee:standalone:").count() == 1

    _import("stripe_itemized", ITEMIZED)
    assert RevenueEvent.objects.count() == 16
    assert RevenueAlert.objects.filter(fingerprint__startswith="fee:standalone:").count() == 1


def test_itemized_preview_lists_an_unknown_category_as_skipped_naming_it(staff_client, entities):
    upload = SimpleUploadedFile("itemized.csv", ITEMIZED.read_bytes(), content_type="text/csv")
    resource = str(IMPORT_RESOURCES.index(StripeItemizedBalanceResource))
    preview = staff_client.post(
        reverse("admin:revenue_revenueevent_import"),
        {"resource": resource, "format": "0", "import_file": upload, "entity": entities["aplus-enterprise"].pk},
    )
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "Skipped: reporting_category &#x27;climate_order_purchase&#x27; is not one this import books" in html
    assert "payment stripe:pi_3ItmUnknown011 is not in the ledger" in html
    assert not preview.context["result"].invalid_rows
    assert not RevenueEvent.objects.exists()  # a preview books nothing


# --- Gumroad: unknown until the sales export brings them, never a silent zero ------------------


def test_gumroad_fees_unknown_until_the_sales_export_brings_them(entities):
    legacy = entities["legacy-unchained"]
    legacy.gumroad_product_ids = ["legacycourse", "masterclass", "ebook"]
    legacy.save()
    ping_sale = ledger_entry(
        event_id="gumroad:sale:Qx1vLegacyA1b2C3d4e5F==",
        provider="gumroad",
        amount_cents=19900,
        occurred_at=datetime(2026, 6, 2, 14, 3, 11, tzinfo=UTC),
    )
    revenue_event_record(entry=ping_sale, entity=legacy)
    digest = summary_compute(cadence="monthly", day=date(2026, 6, 1))[0]
    assert digest.gumroad_fees_unknown and digest.by_currency["USD"]["gumroad_fees_unknown"]
    assert digest.fees_cents == 0
    text = _slack_text(digest)
    assert "Gumroad fees not yet known" in text

    _import("gumroad", DATA / "gumroad_sales.csv")
    digest = summary_compute(cadence="monthly", day=date(2026, 6, 1))[0]
    assert not digest.gumroad_fees_unknown
    assert digest.fees_cents == -(2090 + 5020 + 340)
    assert "Gumroad fees not yet known" not in _slack_text(digest)
    assert "Fees -$74.50" in _slack_text(digest)
    _import("gumroad", DATA / "gumroad_sales.csv")
    assert RevenueEvent.objects.filter(provider="gumroad", kind="fee").count() == 3


def _slack_text(digest) -> str:
    return summary_text(summary_payload(digest=digest, entity_rows=[], amendments=[]))

"""The same money from a webhook and from a CSV backfill is booked once, whichever comes first."""

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Sum

from revenue.models import RevenueEvent

from .webhook_helpers import charge, event, gumroad_ping, load, payment_intent, post_gumroad, post_stripe, refund

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[2] / "revenue" / "tests" / "data"
PI, CH = "pi_3QaplusRefd002", "ch_3QaplusRefd002"


def _net(parent: str) -> int:
    rows = RevenueEvent.objects.filter(event_id=parent) | RevenueEvent.objects.filter(parent_event_id=parent)
    return rows.aggregate(total=Sum("amount_cents"))["total"]


def _import_path(fmt: str, path: Path) -> None:
    call_command("import_revenue_csv", str(path), "--format", fmt, "--no-progress")


def _import(fmt: str, name: str) -> None:
    call_command("import_revenue_csv", str(DATA / name), "--format", fmt, "--no-progress")


def test_stripe_refund_seen_by_webhook_is_not_booked_again_from_the_export(client):
    post_stripe(client, event("payment_intent.succeeded", payment_intent(pi=PI, ch=CH, amount=120000)))
    post_stripe(client, event("refund.created", refund(re="re_csvcross1", pi=PI, ch=CH, amount=30000)))
    _import("stripe", "stripe_unified_payments.csv")
    assert _net(f"stripe:{PI}") == 90000 - 3510  # the export's Fee cell (35.10) is booked beside the sale
    assert RevenueEvent.objects.filter(event_id=f"stripe:{PI}").count() == 1


def test_export_first_then_the_refund_webhook_settles_instead_of_adding(client):
    _import("stripe", "stripe_unified_payments.csv")
    assert _net(f"stripe:{PI}") == 90000 - 3510  # with the export's fee
    post_stripe(client, event("refund.created", refund(re="re_csvcross2", pi=PI, ch=CH, amount=30000)))
    assert _net(f"stripe:{PI}") == 90000 - 3510  # the refund row plus a settlement of the export's unattributed row
    assert RevenueEvent.objects.filter(event_id="stripe:re_csvcross2").exists()


def test_gumroad_sale_from_a_ping_is_skipped_by_the_sales_export(client):
    ping = gumroad_ping(sale_id="Qx1vLegacyA1b2C3d4e5F==", price="19900", sale_timestamp="2026-06-02T14:03:11Z")
    assert post_gumroad(client, ping).status_code == 200
    _import("gumroad", "gumroad_sales.csv")
    rows = RevenueEvent.objects.filter(source_id="Qx1vLegacyA1b2C3d4e5F==", kind="payment")
    assert [(row.event_id, row.amount_cents) for row in rows] == [("gumroad:sale:Qx1vLegacyA1b2C3d4e5F==", 19900)]


# --- the same fee from a webhook and from a file is one row ------------------------------------

CHARGE_BT = "balance_transaction_txn_fake_ch_fakefakefakefakefake0001.json"
PI_KEY = "stripe:pi_fakefakefakefakefake0001"


def _webhook_sale_with_fee(client) -> None:
    post_stripe(client, event("charge.succeeded", charge()))
    updated = charge()
    updated["balance_transaction"] = load(CHARGE_BT)
    assert post_stripe(client, event("charge.updated", updated)).status_code == 200


def _payments_export(tmp_path: Path) -> Path:
    """One row of the payments export for the webhook fixtures' charge (fee 0.88, as its balance transaction)."""
    with open(DATA / "stripe_unified_payments.csv", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    row = dict.fromkeys(header, "")
    row.update(
        {
            "id": "ch_fakefakefakefakefake0001",
            "Created date (UTC)": "2026-05-28 20:26:40",
            "Amount": "20.00",
            "Amount Refunded": "0.00",
            "Currency": "usd",
            "Converted Currency": "usd",
            "Captured": "true",
            "Fee": "0.88",
            "Status": "Paid",
            "PaymentIntent ID": "pi_fakefakefakefakefake0001",
        }
    )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header)
    writer.writeheader()
    writer.writerow(row)
    path = tmp_path / "payments.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _itemized_for_the_webhook_charge(tmp_path: Path) -> Path:
    with open(DATA / "stripe_itemized_balance.csv", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    row = dict.fromkeys(header, "")
    row.update(
        {
            "balance_transaction_id": "txn_fake_ch_fakefakefakefakefake0001",
            "created_utc": "2026-05-28 20:26:40",
            "currency": "usd",
            "gross": "20.00",
            "fee": "0.88",
            "net": "19.12",
            "reporting_category": "charge",
            "source_id": "ch_fakefakefakefakefake0001",
            "charge_id": "ch_fakefakefakefakefake0001",
            "payment_intent_id": "pi_fakefakefakefakefake0001",
        }
    )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header)
    writer.writeheader()
    writer.writerow(row)
    path = tmp_path / "itemized.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _fees_of_the_sale() -> list[tuple[str, int]]:
    return list(RevenueEvent.objects.filter(parent_event_id=PI_KEY, kind="fee").values_list("event_id", "amount_cents"))


def test_webhook_fee_then_itemized_report_and_payments_export_is_one_row(client, tmp_path):
    _webhook_sale_with_fee(client)
    assert _fees_of_the_sale() == [("stripe:fee:txn_fake_ch_fakefakefakefakefake0001", -88)]
    _import_path("stripe_itemized", _itemized_for_the_webhook_charge(tmp_path))
    _import_path("stripe", _payments_export(tmp_path))
    assert _fees_of_the_sale() == [("stripe:fee:txn_fake_ch_fakefakefakefakefake0001", -88)]
    assert RevenueEvent.objects.filter(event_id=PI_KEY).count() == 1


def test_payments_export_fee_then_webhook_and_itemized_report_is_one_row(client, tmp_path):
    _import_path("stripe", _payments_export(tmp_path))
    assert _fees_of_the_sale() == [("stripe:fee:charge:ch_fakefakefakefakefake0001", -88)]
    _webhook_sale_with_fee(client)
    _import_path("stripe_itemized", _itemized_for_the_webhook_charge(tmp_path))
    assert _fees_of_the_sale() == [("stripe:fee:charge:ch_fakefakefakefakefake0001", -88)]


@pytest.mark.django_db(transaction=True)
def test_payments_export_fee_then_the_webhook_fee_booked_in_a_batch_is_one_row(tmp_path):
    """The worker's batched booking asks the one-fee-per-charge rule too (not only the one-by-one path)."""
    import json

    from integrations.services.booking import inbound_deliveries_book_batch
    from integrations.services.ingest import NewDelivery, inbound_deliveries_store

    _import_path("stripe", _payments_export(tmp_path))
    updated = charge()
    updated["balance_transaction"] = load(CHARGE_BT)
    stored = [event("charge.succeeded", charge()), event("charge.updated", updated)]
    inbound_deliveries_store([NewDelivery("stripe", e["id"], e["type"], json.dumps(e), {}) for e in stored])
    assert inbound_deliveries_book_batch() == 2
    assert _fees_of_the_sale() == [("stripe:fee:charge:ch_fakefakefakefakefake0001", -88)]
    assert RevenueEvent.objects.filter(event_id=PI_KEY).count() == 1

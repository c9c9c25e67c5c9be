"""The same money from a webhook and from a CSV backfill is booked once, whichever comes first."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Sum

from revenue.models import RevenueEvent

from .webhook_helpers import event, gumroad_ping, payment_intent, post_gumroad, post_stripe, refund

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[2] / "revenue" / "tests" / "data"
PI, CH = "pi_3QaplusRefd002", "ch_3QaplusRefd002"


def _net(parent: str) -> int:
    rows = RevenueEvent.objects.filter(event_id=parent) | RevenueEvent.objects.filter(parent_event_id=parent)
    return rows.aggregate(total=Sum("amount_cents"))["total"]


def _import(fmt: str, name: str) -> None:
    call_command("import_revenue_csv", str(DATA / name), "--format", fmt, "--no-progress")


def test_stripe_refund_seen_by_webhook_is_not_booked_again_from_the_export(client):
    post_stripe(client, event("payment_intent.succeeded", payment_intent(pi=PI, ch=CH, amount=120000)))
    post_stripe(client, event("refund.created", refund(re="re_csvcross1", pi=PI, ch=CH, amount=30000)))
    _import("stripe", "stripe_unified_payments.csv")
    assert _net(f"stripe:{PI}") == 90000
    assert RevenueEvent.objects.filter(event_id=f"stripe:{PI}").count() == 1


def test_export_first_then_the_refund_webhook_settles_instead_of_adding(client):
    _import("stripe", "stripe_unified_payments.csv")
    assert _net(f"stripe:{PI}") == 90000
    post_stripe(client, event("refund.created", refund(re="re_csvcross2", pi=PI, ch=CH, amount=30000)))
    assert _net(f"stripe:{PI}") == 90000  # the refund row plus a settlement of the export's unattributed row
    assert RevenueEvent.objects.filter(event_id="stripe:re_csvcross2").exists()


def test_gumroad_sale_from_a_ping_is_skipped_by_the_sales_export(client):
    ping = gumroad_ping(sale_id="Qx1vLegacyA1b2C3d4e5F==", price="19900", sale_timestamp="2026-06-02T14:03:11Z")
    assert post_gumroad(client, ping).status_code == 200
    _import("gumroad", "gumroad_sales.csv")
    rows = RevenueEvent.objects.filter(source_id="Qx1vLegacyA1b2C3d4e5F==", kind="payment")
    assert [(row.event_id, row.amount_cents) for row in rows] == [("gumroad:sale:Qx1vLegacyA1b2C3d4e5F==", 19900)]

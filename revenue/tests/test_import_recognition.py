"""Issue 18, item 5: imports recognise files, need an entity the file does not give, count what they add
and total it per currency; spreadsheet dates and grouped amounts are read where they allow one reading."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from revenue.backfill import FileFormatError, RowError, check_columns, csv_headers, recognise_format
from revenue.backfill.parse import amount_text, parse_occurred_at
from revenue.models import RevenueEvent
from revenue.resources import IMPORT_RESOURCES, GenericLedgerResource, GumroadSalesResource

DATA = Path(__file__).parent / "data"
IMPORT = "admin:revenue_revenueevent_import"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("generic_sample.csv", "generic"),
        ("stripe_unified_payments.csv", "stripe"),
        ("gumroad_sales.csv", "gumroad"),
        ("stripe_itemized_balance.csv", "stripe_itemized"),
    ],
)
def test_each_file_is_recognised_from_its_header_row(name, fmt):
    assert recognise_format(csv_headers(DATA / name)) == fmt


def test_a_file_of_another_kind_is_named_not_listed_column_by_column():
    with pytest.raises(FileFormatError, match=r"looks like a Stripe Dashboard payments export .*not a Generic"):
        check_columns(csv_headers(DATA / "stripe_unified_payments.csv"), "generic")
    with pytest.raises(FileFormatError, match="missing columns event_id, amount"):
        check_columns(["Posted", "Memo"], "generic")


@pytest.mark.parametrize(
    ("text", "currency", "plain"),
    [
        ("1,234.50", "USD", "1234.50"),
        ("1.234,50", "EUR", "1234.50"),
        ("-1.234,50", "EUR", "-1234.50"),
        ("12,50", "EUR", "12.50"),
        ("1,234", "USD", "1234"),
        ("1.234.567", "JPY", "1234567"),
        ("1234.50", "USD", "1234.50"),
        ("0.5", "USD", "0.5"),
        ("1.234", "KWD", "1.234"),
    ],
)
def test_grouped_amounts_are_read_where_only_one_reading_exists(text, currency, plain):
    assert amount_text(text, "Amount", currency) == plain


@pytest.mark.parametrize(("text", "currency"), [("1.234", "USD"), ("1,234", "KWD"), ("1,23,4", "USD")])
def test_an_amount_with_two_readings_is_refused_naming_them(text, currency):
    with pytest.raises(RowError) as caught:
        amount_text(text, "Amount", currency)
    assert caught.value.column == "Amount" and (
        "ambiguous" in caught.value.message or "not a number" in caught.value.message
    )


def test_excel_us_dates_are_read_and_day_month_is_named():
    assert parse_occurred_at("12/20/2025 18:20", "Created date (UTC)", naive_zone=UTC) == datetime(
        2025, 12, 20, 18, 20, tzinfo=UTC
    )
    assert parse_occurred_at("3/4/2026 9:05:07", "Created date (UTC)", naive_zone=UTC) == datetime(
        2026, 3, 4, 9, 5, 7, tzinfo=UTC
    )
    with pytest.raises(RowError, match=r"day/month/year.*2025-12-20"):
        parse_occurred_at("20/12/2025 18:20", "Created date (UTC)", naive_zone=UTC)


def _preview(client, name: str, resource, entity=""):
    upload = SimpleUploadedFile(name, (DATA / name).read_bytes(), content_type="text/csv")
    data = {"resource": str(IMPORT_RESOURCES.index(resource)), "format": "0", "import_file": upload, "entity": entity}
    return client.post(reverse(IMPORT), data)


@pytest.mark.django_db
def test_a_stripe_export_left_on_generic_is_recognised_and_read_as_what_it_is(staff_client, entities):
    response = _preview(
        staff_client, "stripe_unified_payments.csv", GenericLedgerResource, entity=entities["aplus-enterprise"].pk
    )
    html = re.sub(r"\s+", " ", response.content.decode())
    assert (
        "Read as <strong>Stripe Dashboard payments export (unified payments)</strong> "
        "(recognised from its header row; you chose Generic ledger CSV)"
    ) in html
    result = response.context["result"]
    assert not result.invalid_rows and result.totals["new"] > 0  # no row errors: read as the file it is


@pytest.mark.django_db
def test_a_file_of_no_known_kind_is_one_sentence_naming_the_missing_columns(staff_client, entities):
    upload = SimpleUploadedFile("other.csv", b"Posted,Memo,Credit\n2026-06-01,x,1.00\n", content_type="text/csv")
    data = {"resource": "0", "format": "0", "import_file": upload, "entity": entities["aplus-enterprise"].pk}
    response = staff_client.post(reverse(IMPORT), data)
    assert "This is not a generic file: missing columns event_id, amount" in " ".join(
        response.context["form"].errors["resource"]
    )
    assert response.context.get("result") is None  # never read row by row


@pytest.mark.django_db
def test_a_gumroad_export_without_an_entity_is_refused_then_counted_and_totalled(staff_client, entities):
    refused = _preview(staff_client, "gumroad_sales.csv", GumroadSalesResource)
    assert "does not say which entity each row belongs to" in " ".join(refused.context["form"].errors["entity"])
    assert not RevenueEvent.objects.exists()

    legacy = entities["legacy-unchained"]
    preview = _preview(staff_client, "gumroad_sales.csv", GumroadSalesResource, entity=legacy.pk)
    html = re.sub(r"\s+", " ", preview.content.decode())
    assert (
        "Read as <strong>Gumroad sales export</strong>: 6 file rows → 8 ledger rows (3 payments, 2 refunds, 3 fees)"
        in html
    )
    assert '<th scope="row">USD</th><td class="num">727.00 USD</td><td class="num">-129.00 USD</td>' in html
    assert '<td class="num"><strong>523.50 USD</strong></td>' in html
    assert not RevenueEvent.objects.exists()  # a preview books nothing
    done = staff_client.post(
        reverse("admin:revenue_revenueevent_process_import"), preview.context["confirm_form"].initial
    )
    assert done.status_code == 302
    assert RevenueEvent.objects.filter(provider="gumroad").count() == 8
    assert set(RevenueEvent.objects.values_list("entity__slug", flat=True)) == {"legacy-unchained"}

"""Issue 15 items 1, 7, 8: imported dates outside the accepted range, NUL cells, non-UTF-8 statements
and other scripts' digits are row errors or sentences, never a 500 or a traceback."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from revenue.backfill import RowError, map_generic_row, map_gumroad_row, map_stripe_row
from revenue.business_time import business_local, business_today, time_window_problem
from revenue.errors import ApplicationError
from revenue.models import BankDeposit, RevenueEvent
from revenue.money import CurrencyError, to_minor_units
from revenue.reconciliation.bank_formats import STATEMENT_FORMATS, StatementError, decode, parse_statement_date
from revenue.services import ManualEntryData, manual_entry_create, revenue_event_record
from revenue.tests.factories import ledger_entry

pytestmark = [pytest.mark.hostile, pytest.mark.django_db]

GENERIC_ROW = {
    "event_id": "wire-1",
    "provider": "manual",
    "kind": "payment",
    "amount": "12.50",
    "currency": "USD",
    "occurred_at": "2026-06-01",
}
HEADER = list(GENERIC_ROW)


@pytest.mark.parametrize(
    "value", ["0001-01-01", "1999-12-31", "9999-12-31T23:59:59-12:00", "2199-01-01", "0001-01-01T00:00:00Z"]
)
def test_generic_csv_date_outside_the_range_is_a_row_error_naming_the_column(value):
    with pytest.raises(RowError) as exc:
        map_generic_row({**GENERIC_ROW, "occurred_at": value})
    assert exc.value.column == "occurred_at"
    assert "2000-01-01" in exc.value.message or "in the future" in exc.value.message


def test_stripe_and_gumroad_export_dates_outside_the_range_are_row_errors():
    with pytest.raises(RowError) as stripe_exc:
        map_stripe_row({"id": "ch_1", "Amount": "10.00", "Currency": "usd", "Created date (UTC)": "1970-01-01 00:00"})
    assert stripe_exc.value.column == "Created date (UTC)"
    with pytest.raises(RowError) as gumroad_exc:
        map_gumroad_row({"Purchase ID": "p1", "Purchase Date": "0001-01-01", "Sale Price ($)": "10"})
    assert gumroad_exc.value.column == "Purchase Date"
    with pytest.raises(RowError) as clock_exc:
        map_gumroad_row(
            {
                "Purchase ID": "p1",
                "Purchase Date": "2026-01-01",
                "Purchase Time (UTC timezone)": "99:99",
                "Sale Price ($)": "1",
            }
        )
    assert clock_exc.value.column == "Purchase Time (UTC timezone)"


@pytest.mark.parametrize("column", ["event_id", "description", "amount", "customer_email"])
def test_nul_in_a_csv_cell_is_a_row_error(column):
    with pytest.raises(RowError) as exc:
        map_generic_row({**GENERIC_ROW, "description": "", "customer_email": "", column: "a\x00b"})
    assert exc.value.column == column and "NUL" in exc.value.message


# Arabic-Indic, fullwidth, Arabic decimal separator, Devanagari: Decimal() reads them all.
@pytest.mark.parametrize("amount", ["\u0663\u0660\u0660", "\uff13\uff10\uff10", "1\u066b50", "\u0967\u0968"])
def test_amounts_in_other_scripts_digits_are_refused(amount):
    with pytest.raises(CurrencyError, match="ASCII digits"):
        to_minor_units(amount, "USD")
    with pytest.raises(RowError) as exc:
        map_generic_row({**GENERIC_ROW, "amount": amount})
    assert exc.value.column == "amount"


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*HEADER, "description"])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_ledger_import_preview_with_year_1_and_a_nul_cell_shows_row_errors(staff_client, entities):
    body = _csv(
        [
            {**GENERIC_ROW, "event_id": "year-one", "occurred_at": "0001-01-01"},
            {**GENERIC_ROW, "event_id": "nul", "description": "bad\x00cell"},
            {**GENERIC_ROW, "event_id": "fine"},
        ]
    )
    upload = SimpleUploadedFile("hostile.csv", body, content_type="text/csv")
    url = reverse("admin:revenue_revenueevent_import")
    entity = entities["aplus-enterprise"].pk  # the file has no entity column
    preview = staff_client.post(url, {"resource": "0", "format": "0", "import_file": upload, "entity": entity})
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "2000-01-01" in html and "NUL" in html and "Traceback" not in html
    result = preview.context["result"]
    assert sorted(row.number for row in result.invalid_rows) == [1, 2]
    assert result.totals["new"] == 1
    assert not RevenueEvent.objects.exists()


def test_ledger_import_of_a_utf16_file_is_a_sentence(staff_client, entities):
    body = _csv([GENERIC_ROW]).decode().encode("utf-16")
    upload = SimpleUploadedFile("utf16.csv", body, content_type="text/csv")
    response = staff_client.post(
        reverse("admin:revenue_revenueevent_import"),
        {"resource": "0", "format": "0", "import_file": upload, "entity": ""},
    )
    assert response.status_code == 200
    assert "Traceback" not in response.content.decode()
    assert (
        response.context["form"].errors
        or response.context["result"].has_errors()
        or (response.context["result"].invalid_rows)
    )


# ---------------------------------------------------------------- bank statements


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_bank_csv_in_utf16_is_read_with_a_bom_or_refused_with_a_sentence(encoding):
    text = "Date,Description,Amount\n2026-06-01,STRIPE TRANSFER,100.00\n"
    if encoding == "utf-16":  # with BOM: read
        assert decode(text.encode(encoding)).startswith("Date,Description")
    else:  # without BOM: NUL bytes everywhere
        with pytest.raises(StatementError, match="NUL characters"):
            decode(text.encode(encoding))


def test_bank_utf16_upload_in_the_admin_is_a_sentence_not_a_traceback(staff_client, entities):
    text = "Date,Description,Amount\n2026-06-01,STRIPE TRANSFER,100.00\n"
    generic = str(list(STATEMENT_FORMATS).index("generic"))
    url = reverse("admin:revenue_bankdeposit_import")
    entity = entities["aplus-enterprise"]
    upload = SimpleUploadedFile("bank.csv", text.encode("utf-16-le"), content_type="text/csv")
    response = staff_client.post(
        url, {"import_file": upload, "format": generic, "entity": entity.pk, "currency": "USD", "mapping": ""}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Traceback" not in html and "NUL characters" in html and "CSV UTF-8" in html
    assert not BankDeposit.objects.exists()


def test_bank_statement_errors_on_the_page_have_no_traceback(staff_client, entities):
    text = "Posted,What,Money\n2026-06-01,STRIPE TRANSFER,100.00\n"
    chase = str(list(STATEMENT_FORMATS).index("generic"))
    upload = SimpleUploadedFile("bank.csv", text.encode(), content_type="text/csv")
    response = staff_client.post(
        reverse("admin:revenue_bankdeposit_import"),
        {
            "import_file": upload,
            "format": chase,
            "entity": entities["aplus-enterprise"].pk,
            "currency": "USD",
            "mapping": "date=Nope,amount=Money,description=What",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Traceback" not in html and 'File "' not in html


@pytest.mark.parametrize("value", ["01/01/1999", "0001-01-01", "12/31/9999"])
def test_bank_statement_dates_outside_the_range_are_refused(value):
    with pytest.raises(ValueError, match="accepted range"):
        parse_statement_date(value)


def test_bank_statement_date_tomorrow_is_accepted():
    tomorrow = business_today() + timedelta(days=1)
    assert parse_statement_date(tomorrow.isoformat()) == tomorrow


# ---------------------------------------------------------------- every write path: one rule


@pytest.mark.parametrize(
    "when",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        timezone.now() + timedelta(days=2),
    ],
)
def test_the_record_service_refuses_times_outside_the_window(entities, when):
    with pytest.raises(ApplicationError) as exc:
        revenue_event_record(entry=ledger_entry(occurred_at=when))
    assert exc.value.code == "occurred_at_out_of_range"
    assert not RevenueEvent.objects.exists()


def test_the_record_service_refuses_nul_characters(entities):
    with pytest.raises(ApplicationError, match="NUL") as exc:
        revenue_event_record(entry=ledger_entry(customer_id="cus\x00"))
    assert exc.value.code == "nul_character"
    with pytest.raises(ApplicationError, match="metadata"):
        revenue_event_record(entry=ledger_entry(metadata={"note": ["deep", {"k": "\x00"}]}))


def test_manual_entry_before_the_window_is_refused(entities, staff_user):
    with pytest.raises(ApplicationError, match="2000-01-01"):
        manual_entry_create(
            data=ManualEntryData(entities["aplus-enterprise"], "PO-OLD", 100, "USD", date(1999, 12, 31)),
            actor=staff_user,
        )


def test_the_window_is_a_setting(settings):
    settings.LEDGER_EARLIEST_DATE = date(2020, 1, 1)
    assert time_window_problem(datetime(2019, 12, 31, tzinfo=UTC))
    assert not time_window_problem(datetime(2020, 1, 1, tzinfo=UTC))


def test_business_local_is_total():
    assert business_local(datetime(1, 1, 1, tzinfo=UTC)).year == 1
    assert business_local(datetime(9999, 12, 31, 23, 59, tzinfo=UTC)).year == 9999
    assert business_local(datetime.max.replace(tzinfo=UTC)).year == 9999

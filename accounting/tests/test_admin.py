"""The admin's "Accountant files" page and the account mappings: permission, downloads, refusals."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounting.models import AccountMapping
from accounting.services import LEDGER_HEADER, QBO_HEADER, XERO_HEADER

from .conftest import csv_rows, xlsx_rows

URL = "/admin/accounting/accountmapping/files/"


def _post(client, entities, **data):
    payload = {"entity": entities["aplus-enterprise"].pk, "month": "2026-06", "file": "qbo_csv", **data}
    return client.post(URL, payload)


def test_the_page_is_reachable_from_the_admin_home_and_the_ledger(staff_client):
    assert reverse("admin:accounting_files") == URL
    assert f'href="{URL}"' in staff_client.get("/admin/").content.decode()
    ledger = staff_client.get("/admin/revenue/revenueevent/?entity__id__exact=2").content.decode()
    assert f'href="{URL}?entity=2"' in ledger
    page = staff_client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "QuickBooks Online journal entries" in html and "Xero manual journals" in html
    assert 'type="month"' in html


def test_qbo_download_from_the_admin(staff_client, june_ledger, entities, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = _post(staff_client, entities)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="quickbooks_journals_aplus-enterprise_2026-06.csv"'
    assert list(csv_rows(response.content)[0]) == list(QBO_HEADER)


def test_ledger_downloads_stream_csv_and_xlsx(staff_client, june_ledger, entities):
    response = _post(staff_client, entities, file="ledger_csv", entity="")
    body = b"".join(response.streaming_content)
    assert {row["Entity"] for row in csv_rows(body)} == {"A+ Enterprise LLC", "Legacy Unchained Inc"}
    response = _post(staff_client, entities, file="ledger_xlsx")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert xlsx_rows(response.content)[0] == list(LEDGER_HEADER)


def test_an_unmapped_account_is_listed_and_no_file_is_sent(staff_client, june_ledger, entities):
    AccountMapping.objects.filter(role="fees", entity=None).delete()
    response = _post(staff_client, entities, file="xero_csv")
    assert response.status_code == 200 and "Content-Disposition" not in response
    html = response.content.decode()
    assert "No account is mapped for: A+ Enterprise LLC · USD · Processor fees" in html
    assert 'id="unmapped-accounts"' in html and "USD · Processor fees" in html
    assert "Open the account mappings" in html


def test_bad_input_is_a_sentence(staff_client, entities):
    html = _post(staff_client, entities, month="2026-6x").content.decode()
    assert "is not a month; write it as YYYY-MM" in html
    html = _post(staff_client, entities, month="", date_from="2026-06-30", date_to="2026-06-01").content.decode()
    assert "The period starts (2026-06-30) after it ends (2026-06-01)." in html
    html = _post(staff_client, entities, entity="").content.decode()
    assert "Journals are per entity" in html


@pytest.fixture
def clerk(db, django_user_model):
    return django_user_model.objects.create_user("clerk", "clerk@example.com", "pw-1234567890", is_staff=True)


def test_the_page_needs_its_permission(client, clerk, june_ledger, entities):
    client.force_login(clerk)
    assert client.get(URL).status_code == 403
    assert _post(client, entities).status_code == 403
    assert 'id="bb-accountant-files"' not in client.get("/admin/").content.decode()
    clerk.user_permissions.add(Permission.objects.get(codename="export_accountant_files"))
    assert client.get(URL).status_code == 200
    response = _post(client, entities, file="xero_csv", month="2026-04")  # April: no rows, a header only
    assert response.status_code == 200 and response.content.decode().strip() == ",".join(XERO_HEADER)
    may = csv_rows(_post(client, entities, file="xero_csv", month="2026-05").content)
    assert [row["*Date"] for row in may] == ["31/05/2026", "31/05/2026"]  # 23:30 CDT on May 31


def test_mappings_are_listed_and_validated(staff_client, entities):
    page = staff_client.get("/admin/accounting/accountmapping/")
    assert page.status_code == 200 and "Stripe Clearing" in page.content.decode()
    assert f'href="{URL}"' in page.content.decode()
    response = staff_client.post(
        "/admin/accounting/accountmapping/add/",
        {
            "role": "fees",
            "entity": "",
            "currency": "eur",
            "account_name": "EUR fees",
            "account_code": "405",
            "xero_tax_rate": "Tax Exempt",
        },
    )
    assert response.status_code == 302
    assert AccountMapping.objects.get(account_name="EUR fees").currency == "EUR"
    response = staff_client.post(
        "/admin/accounting/accountmapping/add/",
        {
            "role": "fees",
            "entity": "",
            "currency": "XYZ",
            "account_name": "=cmd",
            "account_code": "405",
            "xero_tax_rate": "Tax Exempt",
        },
    )
    assert response.status_code == 200
    assert "Must not start with" in response.content.decode()

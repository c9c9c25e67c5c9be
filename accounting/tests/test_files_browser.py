"""The accountant files in Chromium: from the admin home to the QuickBooks Online and Xero files for
A+ Enterprise LLC's June, then the refusal when an account mapping is removed. The downloaded files
and screenshots are kept in artifacts/accounting/ (samples of both files: docs/samples/)."""

from __future__ import annotations

import csv
import io

import pytest
from django.conf import settings

from accounting.models import AccountMapping
from accounting.services import QBO_HEADER, XERO_HEADER


@pytest.fixture
def walk(rates, june_ledger, books, live_admin_session) -> dict:
    """Everything the ORM must do before Chromium starts (its event loop forbids the ORM in the test)."""
    return {
        "session": live_admin_session("accountant"),
        "aplus": books["aplus-enterprise"].pk,
        "disputes_won": AccountMapping.objects.get(role="disputes_won", entity=None, currency="").pk,
    }


def _rows(path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_export_quickbooks_and_xero_files_from_the_admin(walk, live_server, browser, artifacts_dir):
    out = artifacts_dir / "accounting"
    out.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": walk["session"], "url": live_server.url}])
    page = context.new_page()
    files = {}
    try:
        page.goto(f"{live_server.url}/admin/")
        page.click("#bb-accountant-files")
        page.wait_for_selector("#accountant-files-form")
        page.select_option("#id_entity", value=str(walk["aplus"]))
        page.fill("#id_month", "2026-06")
        for target, radio in (("quickbooks", "qbo_csv"), ("xero", "xero_csv")):
            page.check(f"input[name=file][value={radio}]")
            if target == "quickbooks":
                page.screenshot(path=str(out / "accountant-files-form.png"), full_page=True)
            with page.expect_download() as download:
                page.click("#accountant-files-form input[type=submit]")
            files[target] = out / download.value.suggested_filename
            download.value.save_as(str(files[target]))

        page.goto(f"{live_server.url}/admin/accounting/accountmapping/")
        page.screenshot(path=str(out / "account-mappings.png"), full_page=True)
        page.goto(f"{live_server.url}/admin/accounting/accountmapping/{walk['disputes_won']}/delete/")
        page.click("input[type=submit]")
        page.wait_for_selector(".messagelist .success")
        page.goto(f"{live_server.url}/admin/accounting/accountmapping/files/")
        page.select_option("#id_entity", value=str(walk["aplus"]))
        page.fill("#id_month", "2026-06")
        page.check("input[name=file][value=qbo_csv]")
        page.click("#accountant-files-form input[type=submit]")
        page.wait_for_selector("#accountant-files-refusal")
        refusal = page.locator("#accountant-files-refusal").inner_text()
        assert "No account is mapped for: A+ Enterprise LLC · USD · Disputes won back" in refusal
        assert "No file was made" in refusal
        assert page.locator("#unmapped-accounts li").all_inner_texts() == ["USD · Disputes won back"]
        page.screenshot(path=str(out / "accountant-files-unmapped.png"), full_page=True)
    finally:
        context.close()

    assert files["quickbooks"].name == "quickbooks_journals_aplus-enterprise_2026-06.csv"
    qbo = _rows(files["quickbooks"])
    assert list(qbo[0]) == list(QBO_HEADER) and {row["Currency"] for row in qbo} == {"USD", "EUR", "JPY", "KWD"}
    xero = _rows(files["xero"])
    assert list(xero[0]) == list(XERO_HEADER)
    for shot in ("accountant-files-form.png", "account-mappings.png", "accountant-files-unmapped.png"):
        assert (out / shot).stat().st_size > 10_000
        print(f"screenshot: {out / shot}")
    for path in files.values():
        print(f"file: {path}")

"""A screenshot of the reconciliation page in headless Chromium (real admin on a live server)."""

from __future__ import annotations

import pytest

from revenue.models import BankDeposit, Payout
from revenue.reconciliation.services import bank_statement_import, reconciliation_flag, reconciliation_run
from revenue.tests.reconciliation_fixtures import CHASE_JUNE, june_scenario


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_reconciliation_page_screenshot(
    request, settings, live_server, staff_client, staff_user, entities, artifacts_dir
):
    # live_server serves static files through the finders: use un-hashed names so the admin CSS loads.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    june = june_scenario(entities)
    bank_statement_import(content=CHASE_JUNE.encode(), layout="chase", entity=june["entity"], user=staff_user)
    Payout.objects.filter(payout_id="po_C").update(status="failed", metadata={"failure_code": "account_closed"})
    reconciliation_run(entity=june["entity"])
    reconciliation_flag(
        target=BankDeposit.objects.get(amount_cents=9500), reason="No invoice found yet", user=staff_user
    )

    # Playwright's sync API runs an event loop in this thread: all database work happens before it starts.
    browser = request.getfixturevalue("browser")
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.add_cookies(
        [{"name": "sessionid", "value": staff_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    response = page.goto(
        f"{live_server.url}/admin/revenue/bankdeposit/reconciliation/?entity=aplus-enterprise&start=2026-06-01&end=2026-06-30"
    )
    assert response.status == 200
    assert page.locator("#bridge-USD").inner_text().count("USD") >= 7
    assert page.locator("#match-table tbody tr").count() == 7
    assert page.locator("#expected-table").get_by_text("failed after it was paid").count() >= 1

    # a person confirms the near miss in the browser
    page.fill("#id_note", "bank kept 0.50 as a fee")
    page.locator("#expected-table button", has_text="Match").first.click()
    page.wait_for_load_state()
    assert page.locator(".messagelist").inner_text().startswith("Matched")
    assert page.locator("#match-table tbody tr").count() == 8

    path = artifacts_dir / "reconciliation_page.png"
    page.screenshot(path=str(path), full_page=True)

    # the accountant adds an unexplained check as a ledger entry: booked and matched in one step
    row = page.locator("#deposit-table tr", has_text="MOBILE DEPOSIT REF 0012")
    row.locator("summary", has_text="Add as ledger entry").click()
    row.locator("select").select_option("payment")
    row.locator("input[name^=entry-counterparty]").fill("Fabrikam")
    row.locator("input[name^=entry-reason]").fill("Check 1042, invoice 77")
    added_path = artifacts_dir / "reconciliation_add_entry_form.png"
    row.screenshot(path=str(added_path))
    row.get_by_role("button", name="Add and match").click()
    page.wait_for_load_state()
    assert page.locator(".messagelist").inner_text().startswith("Added to the ledger and matched: 95.00 USD")
    assert page.locator("#match-table tbody tr").count() == 9
    assert "flagged" not in row.inner_text()  # the flag's question is answered
    matched_path = artifacts_dir / "reconciliation_after_add_entry.png"
    page.screenshot(path=str(matched_path), full_page=True)
    context.close()
    for shot in (path, added_path, matched_path):
        print(f"screenshot: {shot}")
    assert path.stat().st_size > 20_000


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_statement_import_from_the_reconciliation_page(
    request, settings, live_server, staff_client, entities, artifacts_dir, tmp_path
):
    """From an entity's reconciliation page: import, recognised layout, preview in money, confirm, back with matches."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    june_scenario(entities)
    statement = tmp_path / "chase-june.csv"
    statement.write_text(CHASE_JUNE)

    browser = request.getfixturevalue("browser")
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.add_cookies(
        [{"name": "sessionid", "value": staff_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/revenue/bankdeposit/reconciliation/?entity=aplus-enterprise")
    page.click("text=Import a bank statement")
    assert page.locator("#id_entity option:checked").inner_text() == "A+ Enterprise LLC"
    page.set_input_files("#id_import_file", str(statement))
    page.click("input[type=submit][value=Preview]")
    page.wait_for_selector("#statement-preview")
    assert "Chase business checking CSV" in page.locator("#statement-layout").inner_text()
    assert "not a deposit (money out): ignored" in page.locator("#statement-preview").inner_text()
    preview = artifacts_dir / "bank_import_preview.png"
    page.screenshot(path=str(preview), full_page=True)

    page.click("input[name=confirm]")
    page.wait_for_selector("#bridge-USD")
    assert "7 matched automatically" in page.locator(".messagelist").inner_text()
    assert "Reconciliation: A+ Enterprise LLC" in page.content()
    landed = artifacts_dir / "bank_import_landed_on_reconciliation.png"
    page.screenshot(path=str(landed))
    context.close()
    for shot in (preview, landed):
        print(f"screenshot: {shot}")
        assert shot.stat().st_size > 20_000

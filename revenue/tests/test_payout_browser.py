"""Stripe payouts in Chromium (issue 17, item 3): import the payouts export and the itemized payout
reconciliation report through Ledger > Import, open a payout's tie-out from reconciliation, and see
one that does not tie. Screenshots in artifacts/payouts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

DATA = Path(__file__).parent / "data"
RECONCILIATION_URL = (
    "/admin/revenue/bankdeposit/reconciliation/?entity=aplus-enterprise&start=2026-06-01&end=2026-06-30"
)


def _import(page, base: str, label: str, path: Path) -> str:
    """Preview, check the preview, confirm; returns the preview's "read as" sentence."""
    page.goto(f"{base}/admin/revenue/revenueevent/import/")
    page.select_option("#id_resource", label=label)
    page.select_option("#id_entity", label="A+ Enterprise LLC")
    page.set_input_files("#id_import_file", str(path))
    page.click("input[type=submit][value='Preview import']")
    page.wait_for_selector("#import-read-as")
    sentence = page.locator("#import-read-as").inner_text()
    return sentence


@pytest.fixture
def payouts_session(live_admin_session) -> str:
    """The session is made before the browser starts: its event loop forbids the ORM in the test."""
    return live_admin_session("payouts")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_import_both_files_and_open_the_payout_tie_out(payouts_session, live_server, browser, artifacts_dir):
    session = payouts_session
    shots_dir = artifacts_dir / "payouts"
    shots_dir.mkdir(parents=True, exist_ok=True)
    shots = {
        name: shots_dir / f"{name}.png"
        for name in ("payouts-preview", "report-preview", "reconciliation", "tie-out", "does-not-tie")
    }
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    page = context.new_page()
    base = live_server.url
    try:
        read_as = _import(page, base, "Stripe Dashboard payouts export", DATA / "stripe_payouts.csv")
        assert "4 file rows → 4 payouts: 4 new, 0 updated, 0 unchanged" in read_as
        assert "1,508.70 USD" in page.locator("#import-payout-totals").inner_text()
        page.screenshot(path=str(shots["payouts-preview"]), full_page=True)
        page.click("input[type=submit][value='Confirm import']")
        page.wait_for_selector(".messagelist")

        read_as = _import(
            page,
            base,
            "Stripe itemized payout reconciliation report (payout_reconciliation.itemized)",
            DATA / "stripe_payout_reconciliation.csv",
        )
        assert "9 payout settlement lines for 3 payouts (9 new, 0 already recorded)" in read_as
        tie_outs = page.locator("#import-payout-tie-outs").inner_text()
        assert "ties out" in tie_outs and "differs by 0.50 USD" in tie_outs
        page.screenshot(path=str(shots["report-preview"]), full_page=True)
        page.click("input[type=submit][value='Confirm import']")
        page.wait_for_selector(".messagelist")

        # The bank statement: its Stripe deposits match the payouts; from the matched deposit, the tie-out.
        page.goto(base + RECONCILIATION_URL)
        page.click("text=Import a bank statement")
        page.set_input_files("#id_import_file", str(DATA / "bank_june_stripe_payouts.csv"))
        page.click("input[type=submit][value=Preview]")
        page.wait_for_selector("#statement-preview")
        page.click("input[name=confirm]")
        page.wait_for_selector("#bridge-USD")
        assert "2 matched automatically" in page.locator(".messagelist").inner_text()
        unmatched = page.locator("#expected-table tr", has_text="po_1PbbC2026Jun29")
        assert "1 settled balance transactions" in unmatched.inner_text()
        assert "differs by 0.50 USD" in unmatched.inner_text()
        match = page.locator("#match-table tr", has_text="po_1PbbA2026Jun08")
        assert "193.65 USD" in match.inner_text()
        page.screenshot(path=str(shots["reconciliation"]), full_page=True)
        match.locator("a.tie-out-link").click()
        page.wait_for_selector("#tie-out")
        assert "ties out to the cent" in page.locator("#tie-out-result").inner_text()
        lines = page.locator("#tie-out-lines tbody tr")
        assert lines.count() == 4
        assert "stripe:pi_3RecChg001" in lines.first.inner_text()
        page.locator("#tie-out").scroll_into_view_if_needed()
        page.screenshot(path=str(shots["tie-out"]), full_page=True)
        lines.first.locator("a", has_text="stripe:pi_3RecChg001").click()
        page.wait_for_load_state()
        assert "stripe:pi_3RecChg001" in page.locator("#content").inner_text()

        page.goto(f"{base}/admin/revenue/payout/?q=po_1PbbC2026Jun29")
        page.locator("#result_list a", has_text="po_1PbbC2026Jun29").click()
        page.wait_for_selector("#tie-out")
        assert "does not tie: differs by 0.50 USD" in page.locator("#tie-out-result").inner_text()
        page.screenshot(path=str(shots["does-not-tie"]), full_page=True)
    finally:
        context.close()
    for shot in shots.values():
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")

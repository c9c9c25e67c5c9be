"""Real fees on the dashboard and the reconciliation page (issue 16), in headless Chromium, with
screenshots: fees imported from Stripe's itemized balance report and Gumroad's sales export, plus
a Gumroad sale this month whose fee is not known yet."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command

from revenue.business_time import business_today, day_start
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

from .test_dashboard_browser import _login, _wait_for_charts, _watch, served_like_production  # noqa: F401

DATA = Path(__file__).resolve().parents[2] / "revenue" / "tests" / "data"
OPEN_TABLES = "document.querySelectorAll('details.chart-table').forEach((d) => { d.open = true; })"


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _seed(entities) -> None:
    legacy = entities["legacy-unchained"]
    legacy.gumroad_product_ids = ["legacycourse", "masterclass", "ebook"]
    legacy.save()
    for fmt, name in (("stripe_itemized", "stripe_itemized_balance.csv"), ("gumroad", "gumroad_sales.csv")):
        call_command("import_revenue_csv", str(DATA / name), "--format", fmt, "--no-progress", stdout=io.StringIO())
    # A Gumroad ping this month: no fee in it, so its fee is not known until the next export.
    revenue_event_record(
        entry=ledger_entry(
            event_id="gumroad:sale:ThisMonthPing==",
            provider="gumroad",
            amount_cents=4900,
            occurred_at=day_start(business_today()) + timedelta(hours=9),
        ),
        entity=legacy,
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dashboard_and_reconciliation_show_real_fees(
    served_like_production,  # noqa: F811
    browser,
    artifacts_dir,
    client,
    staff_user,
    entities,
):
    live_server = served_like_production
    _seed(entities)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, reduced_motion="reduce")
    _login(context, client, staff_user, live_server)
    page = context.new_page()
    problems = _watch(page)
    page.goto(f"{live_server.url}/dashboard/?range=365&currency=USD")
    _wait_for_charts(page, problems)
    page.evaluate(OPEN_TABLES)

    providers = page.locator('[data-chart-panel="providers"] [data-chart-table] table')
    stripe_row = providers.locator("tbody tr", has_text="Stripe").inner_text()
    assert "-62.84 USD" in stripe_row  # every Stripe fee of the itemized report, settled in USD
    gumroad_row = providers.locator("tbody tr", has_text="Gumroad").inner_text()
    assert "-74.50 USD" in gumroad_row and "Gumroad fees not yet known" in gumroad_row
    assert "Gumroad fees not yet known" in page.locator(".kpi-total").inner_text()
    assert page.locator('a.help-link[href="/docs/numbers"]').count() == 4
    assert not problems, problems
    dashboard_shot = artifacts_dir / "numbers-dashboard-fees.png"
    page.screenshot(path=str(dashboard_shot), full_page=True)

    page.goto(
        f"{live_server.url}/admin/revenue/bankdeposit/reconciliation/"
        "?entity=aplus-enterprise&start=2026-06-01&end=2026-06-30"
    )
    ledger = page.locator("#ledger-USD").inner_text()
    # A+ fees in June: 7.55 + 22.05 + 15.00 (dispute) + 15.00 (orphan dispute) + 0.05 (Radar, default entity)
    assert "Fees\t-59.65 USD" in ledger or "Fees -59.65 USD" in ledger, ledger
    assert "Disputes won back" in ledger
    recon_shot = artifacts_dir / "numbers-reconciliation-fees.png"
    page.screenshot(path=str(recon_shot), full_page=True)
    context.close()
    print(f"\nscreenshots: {dashboard_shot} {recon_shot}")
    assert dashboard_shot.stat().st_size > 20_000 and recon_shot.stat().st_size > 20_000

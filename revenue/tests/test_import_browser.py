"""The ledger import in Chromium: a Stripe export left on "Generic" is read as a Stripe export, and a
Gumroad export without an entity is refused before anything is read. Screenshots in artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

DATA = Path(__file__).parent / "data"


@pytest.fixture
def importer_session(live_admin_session) -> str:
    return live_admin_session("importer")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_files_are_recognised_and_a_gumroad_file_needs_an_entity(importer_session, live_server, browser, artifacts_dir):
    session = importer_session
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    page = context.new_page()
    shots = [artifacts_dir / "import-stripe-recognised.png", artifacts_dir / "import-gumroad-needs-entity.png"]
    try:
        page.goto(f"{live_server.url}/admin/revenue/revenueevent/import/")
        page.select_option("#id_resource", label="Generic ledger CSV")
        page.select_option("#id_entity", label="A+ Enterprise LLC")
        page.set_input_files("#id_import_file", str(DATA / "stripe_unified_payments.csv"))
        page.click("input[type=submit][value='Preview import']")
        page.wait_for_selector("#import-read-as")
        read_as = page.locator("#import-read-as").inner_text()
        assert "Stripe Dashboard payments export (unified payments)" in read_as
        assert "you chose Generic ledger CSV" in read_as and "ledger rows" in read_as
        assert page.locator("#import-totals").inner_text().count("USD") >= 2
        page.screenshot(path=str(shots[0]), full_page=True)

        page.goto(f"{live_server.url}/admin/revenue/revenueevent/import/")
        page.select_option("#id_resource", label="Gumroad sales export")
        page.set_input_files("#id_import_file", str(DATA / "gumroad_sales.csv"))
        page.click("input[type=submit][value='Preview import']")
        page.wait_for_selector(".errorlist")
        assert "does not say which entity each row belongs to" in page.locator(".errorlist").first.inner_text()
        page.screenshot(path=str(shots[1]), full_page=True)
    finally:
        context.close()
    for shot in shots:
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")

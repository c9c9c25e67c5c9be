"""The month-end close walked in Chromium as an accountant would (issue 17): correct a June entry
(the correction lands in June), lock May, try to import a May row (refused, with the lock date and
who set it). Screenshots in artifacts/close/."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.conf import settings

from revenue.models import Entity
from revenue.services import ManualEntryData, manual_entry_create


@pytest.fixture
def june_po(db) -> tuple[str, int]:
    """A Legacy purchase order received 2025-06-20: its id and the entity's pk."""
    legacy = Entity.objects.get(slug="legacy-unchained")
    event = manual_entry_create(
        data=ManualEntryData(
            entity=legacy, reference="PO-0620", amount_cents=75000, currency="USD", received_on=date(2025, 6, 20)
        )
    )
    return str(event.pk), legacy.pk


@pytest.fixture
def accountant_session(june_po, live_admin_session) -> str:
    return live_admin_session("accountant")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_close_a_month_in_the_admin(june_po, accountant_session, live_server, browser, artifacts_dir, tmp_path: Path):
    event_pk, legacy_pk = june_po
    shots_dir = artifacts_dir / "close"
    shots_dir.mkdir(exist_ok=True)
    may_file = tmp_path / "may-wires.csv"
    may_file.write_text(
        "event_id,provider,kind,amount,currency,occurred_at,entity,reference\n"
        "wire-0520,manual,payment,100.00,USD,2025-05-20,legacy-unchained,PO-0520\n"
    )
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": accountant_session, "url": live_server.url}])
    page = context.new_page()
    shots = []
    try:
        # 1. Correct the June entry: 750.00 was a typo for 700.00.
        page.goto(f"{live_server.url}/admin/revenue/revenueevent/{event_pk}/change/")
        page.click("text=Correct this entry")
        page.fill("#id_amount", "700.00")
        page.fill("#id_reason", "typo on the PO amount")
        shots.append(shots_dir / "1-correct-june-entry-form.png")
        page.screenshot(path=str(shots[-1]), full_page=True)
        page.click("input[type=submit]")
        page.wait_for_selector(".messagelist")
        assert "Corrected" in page.locator(".messagelist").inner_text()
        page.goto(f"{live_server.url}/admin/revenue/revenueevent/?q=PO-0620")
        rows = page.locator("#result_list tbody tr")
        assert rows.count() == 3
        reversal = page.locator("#result_list tbody tr", has_text="-750.00")
        assert "2025-06-20" in reversal.inner_text()  # dated in June, not on the day it was posted
        shots.append(shots_dir / "2-correction-lands-in-june.png")
        page.screenshot(path=str(shots[-1]), full_page=True)

        # 2. Lock May for Legacy Unchained.
        page.goto(f"{live_server.url}/admin/revenue/entity/{legacy_pk}/change/")
        page.fill("#id_lock_date", "2025-05-31")
        shots.append(shots_dir / "3-lock-may.png")
        page.screenshot(path=str(shots[-1]), full_page=True)
        page.click("input[name=_save]")
        page.wait_for_selector("#result_list")
        legacy_row = page.locator("#result_list tbody tr", has_text="Legacy Unchained Inc")
        assert "May 31, 2025" in legacy_row.inner_text() and "accountant" in legacy_row.inner_text()

        # 3. A May row from a file is refused, naming the lock date and who set it.
        page.goto(f"{live_server.url}/admin/revenue/revenueevent/import/")
        page.select_option("#id_resource", label="Generic ledger CSV")
        page.set_input_files("#id_import_file", str(may_file))
        page.click("input[type=submit][value='Preview import']")
        page.wait_for_load_state()
        text = page.locator("#content").inner_text()
        assert "2025-05-20 is in a locked period" in text
        assert "locked through 2025-05-31 (set by accountant" in text
        shots.append(shots_dir / "4-may-row-refused.png")
        page.screenshot(path=str(shots[-1]), full_page=True)
    finally:
        context.close()
    for shot in shots:
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")

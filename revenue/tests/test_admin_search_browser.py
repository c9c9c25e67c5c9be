"""The ledger search in Chromium: an id pasted from Stripe or Gumroad finds its rows. Screenshots in artifacts/."""

from __future__ import annotations

import pytest
from django.conf import settings

from revenue.models import Entity
from revenue.services import revenue_event_record

from .factories import ledger_entry


@pytest.fixture
def search_session(live_admin_session) -> str:
    session = live_admin_session("finder")
    entity = Entity.objects.get(slug="aplus-enterprise")
    for entry in [
        ledger_entry(
            event_id="stripe:pi_3QpasteMe",
            source_id="pi_3QpasteMe",
            metadata={"payment_intent": "pi_3QpasteMe", "charge": "ch_3QpasteMe"},
            amount_cents=19900,
        ),
        ledger_entry(
            event_id="stripe:re_3QpasteMe",
            kind="refund",
            amount_cents=-4900,
            source_id="re_3QpasteMe",
            parent_event_id="stripe:pi_3QpasteMe",
            metadata={"payment_intent": "pi_3QpasteMe", "charge": "ch_3QpasteMe"},
        ),
        ledger_entry(
            event_id="gumroad:sale:Hx9kP2vQ7wLm==",
            provider="gumroad",
            event_type="sale",
            source_id="Hx9kP2vQ7wLm==",
            metadata={"sale_id": "Hx9kP2vQ7wLm=="},
            amount_cents=2900,
        ),
        ledger_entry(event_id="stripe:pi_someoneElse", amount_cents=1000),
    ]:
        revenue_event_record(entry=entry, entity=entity)
    return session


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_search_by_a_pasted_stripe_or_gumroad_id(search_session, live_server, browser, artifacts_dir):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": search_session, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/revenue/revenueevent/")
    for name, term, expected in [
        ("pi", "pi_3QpasteMe", {"stripe:pi_3QpasteMe", "stripe:re_3QpasteMe"}),
        ("ch", "ch_3QpasteMe", {"stripe:pi_3QpasteMe", "stripe:re_3QpasteMe"}),
        ("gumroad-sale", "Hx9kP2vQ7wLm==", {"gumroad:sale:Hx9kP2vQ7wLm=="}),
    ]:
        page.fill("#searchbar", term)
        page.press("#searchbar", "Enter")
        page.wait_for_load_state("load")
        found = set(page.locator("#result_list tbody td.field-event_id").all_inner_texts())
        assert found == expected, (term, found)
        page.screenshot(path=str(artifacts_dir / f"admin-search-{name}.png"))
    context.close()

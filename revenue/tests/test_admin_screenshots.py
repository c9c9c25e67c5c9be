"""Screenshots of the back office in headless Chromium (Debian chromium via Playwright)."""

from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from alerts.services import alert_raise
from revenue.models import Entity
from revenue.services import ManualEntryData, manual_entry_create, revenue_event_record

from .factories import ledger_entry

DATA = Path(__file__).parent / "data"


@pytest.fixture
def backoffice_session(live_server, django_user_model, settings) -> dict:
    """Ledger data and a logged-in session, made before the browser starts (its event loop forbids the ORM)."""
    # The live server serves /static/ from the finders, which know the original file names, not the
    # manifest's hashed ones: use plain names so the admin's CSS loads in the screenshots.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    user = django_user_model.objects.create_superuser("shots", "shots@example.com", "shots-password-123")
    entities = {e.slug: e for e in Entity.objects.all()}
    manual_entry_create(
        data=ManualEntryData(
            entities["aplus-enterprise"],
            "PO-2026-118",
            500000,
            "USD",
            date(2026, 6, 15),
            customer_email="ap@bigclient.example",
            customer_name="Big Client Inc",
        ),
        actor=user,
    )
    samples = [
        ("stripe:pi_3Qshot1", "stripe", "payment", 19900, "USD", "grace@hopper.io", "aplus-enterprise"),
        ("stripe:re_3Qshot1", "stripe", "refund", -4900, "USD", "grace@hopper.io", "aplus-enterprise"),
        ("gumroad:sale_shot2", "gumroad", "payment", 5000, "JPY", "kenji@example.jp", "legacy-unchained"),
        ("manual:legacy:INV-KWD", "manual", "payment", 1234, "KWD", "fatima@example.kw", "legacy-unchained"),
        ("gumroad:sale_shot3", "gumroad", "payment", 4900, "EUR", "linus@kernel.fi", "legacy-unchained"),
    ]
    for event_id, provider, kind, amount, currency, email, slug in samples:
        revenue_event_record(
            entry=ledger_entry(
                event_id=event_id,
                provider=provider,
                kind=kind,
                amount_cents=amount,
                currency=currency,
                customer_email=email,
            ),
            entity=entities[slug],
        )

    for n, (amount, currency, slug) in enumerate(
        [(25000, "USD", "aplus-enterprise"), (129900, "USD", "legacy-unchained"), (9800, "JPY", "legacy-unchained")]
    ):
        revenue_event_record(
            entry=ledger_entry(
                event_id=f"stripe:pi_today_{n}", amount_cents=amount, currency=currency, occurred_at=timezone.now()
            ),
            entity=entities[slug],
        )
    alert_raise(alert_type="threshold", severity="warning", message="Daily revenue below threshold", fingerprint="s:1")
    client = Client()
    client.force_login(user)
    return {"session": client.cookies[settings.SESSION_COOKIE_NAME].value, "entity": entities["aplus-enterprise"].pk}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_back_office_screenshots(backoffice_session, live_server, browser, artifacts_dir):
    session = backoffice_session["session"]
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    # Collapse the admin's app sidebar the way a user would (the admin remembers it in localStorage).
    context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    page = context.new_page()
    paths = []
    try:
        page.goto(f"{live_server.url}/admin/")
        assert page.locator("#bb-today").is_visible()
        paths.append(artifacts_dir / "backoffice_index.png")
        page.screenshot(path=paths[-1], full_page=True)

        page.goto(f"{live_server.url}/admin/revenue/revenueevent/")
        assert page.locator("#result_list").is_visible()
        paths.append(artifacts_dir / "backoffice_ledger_list.png")
        page.screenshot(path=paths[-1], full_page=True)

        page.goto(f"{live_server.url}/admin/revenue/revenueevent/record/")
        page.select_option("#id_entity", str(backoffice_session["entity"]))
        page.fill("#id_reference", "PO-2026-119")
        page.fill("#id_amount", "1,234.567")
        page.fill("#id_received_on", "2026-06-10")
        page.click("input[type=submit]")
        page.wait_for_selector(".errornote")
        assert "USD has 2 decimal places" in page.content()
        paths.append(artifacts_dir / "backoffice_manual_entry_error.png")
        page.screenshot(path=paths[-1], full_page=True)

        page.goto(f"{live_server.url}/admin/revenue/revenueevent/import/")
        page.set_input_files("#id_import_file", str(DATA / "generic_with_errors.csv"))
        page.click("input[type=submit]")
        page.wait_for_selector("#import-preview")
        assert page.locator("#import-errors").is_visible()
        assert page.locator("input[name=confirm]").is_visible()
        assert "POSSIBLE DUPLICATE" in page.content()
        paths.append(artifacts_dir / "backoffice_import_preview.png")
        page.screenshot(path=paths[-1], full_page=True)
    finally:
        context.close()
    for path in paths:
        assert path.stat().st_size > 10_000
        print(f"screenshot: {path}")

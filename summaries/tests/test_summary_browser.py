"""A summary's admin page in Chromium: money per currency first, raw figures folded. Screenshot in artifacts/."""

from __future__ import annotations

from datetime import date

import pytest
from django.conf import settings
from django.test import Client

from summaries.models import RevenueSummary
from summaries.services import summary_compute

from .conftest import local


@pytest.fixture
def summary_session(live_server, django_user_model, settings, record) -> tuple[str, str]:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    record(125000, local(2026, 6, 10, 9))
    record(-2500, local(2026, 6, 10, 11), kind="refund")
    record(4500, local(2026, 6, 10, 23, 30), currency="JPY", entity="legacy-unchained")
    summary_compute(cadence="daily", day=date(2026, 6, 10))
    digest = RevenueSummary.objects.get(period="daily", start_date=date(2026, 6, 10), entity__isnull=True)
    user = django_user_model.objects.create_superuser("reader", "reader@example.com", "reader-password-123")
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value, f"/admin/summaries/revenuesummary/{digest.pk}/change/"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_summary_page_reads_as_money(summary_session, live_server, browser, artifacts_dir):
    session, path = summary_session
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}{path}")
    money = page.locator(".bb-summary-money")
    assert money.is_visible()
    assert "1,225.00 USD" in money.inner_text() and "4,500 JPY" in money.inner_text()
    assert not page.get_by_text("Total amount cents").is_visible()  # folded away
    page.screenshot(path=str(artifacts_dir / "admin-summary-page.png"), full_page=True)
    page.locator("summary", has_text="Stored figures").click()
    assert page.get_by_text("Total amount cents").is_visible()
    context.close()

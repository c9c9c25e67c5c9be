"""The dashboard in headless Chromium: demo data, charts drawn from the JSON endpoints, refresh, screenshots."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command

from alerts.services import alert_raise
from revenue.business_time import business_today, day_start
from revenue.models import Payout
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

CHARTS = ("daily", "providers", "monthly", "payouts")

CHART_DATA = """(name) => {
    const canvas = document.querySelector(`canvas[data-chart="${name}"]`);
    const chart = canvas && Chart.getChart(canvas);
    if (!chart) return null;
    return {
        type: chart.config.type,
        width: canvas.width,
        height: canvas.height,
        labels: chart.data.labels.length,
        datasets: chart.data.datasets.map((d) => ({label: d.label, points: d.data.length, nonzero: d.data.filter((v) => v !== 0).length})),
    };
}"""


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    """Playwright's sync API runs an event loop in this thread; the ORM calls here are still plain sync code."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def served_like_production(live_server):
    """`live_server`, with static files served by WhiteNoise from the collectstatic output, as in production.

    pytest-django wraps the live server's app in StaticFilesHandler, which serves source files found by
    the finders and so answers 404 for the manifest-hashed names `{% static %}` gives with DEBUG off.
    For this test the server hands /static/ to the project's own middleware instead, then is put back.
    """
    httpd = live_server.thread.httpd
    static_files_handler = httpd.get_app()
    httpd.set_app(static_files_handler.application)
    try:
        yield live_server
    finally:
        httpd.set_app(static_files_handler)


def _seed(entities) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    today = business_today()
    aplus, legacy = entities["aplus-enterprise"], entities["legacy-unchained"]
    for n, (entity, amount, currency, status, days_ago) in enumerate(
        [
            (aplus, 1250000, "USD", "paid", 2),
            (aplus, 880000, "USD", "paid", 9),
            (legacy, 301500, "USD", "paid", 4),
            (legacy, 45000, "EUR", "in_transit", 0),
            (aplus, 120000, "USD", "pending", None),
            (legacy, 99000, "USD", "failed", 6),
        ]
    ):
        Payout.objects.create(
            provider="stripe",
            payout_id=f"po_demo_{n}",
            entity=entity,
            amount_cents=amount,
            currency=currency,
            status=status,
            arrival_on=None if days_ago is None else today - timedelta(days=days_ago),
        )
    alert_raise(
        alert_type="reconciliation",
        severity="critical",
        message="Stripe payout po_demo_5 (990.00 USD) failed: the bank account was closed",
        fingerprint="demo:payout-failed",
        entity=legacy,
    )
    alert_raise(
        alert_type="silence",
        severity="warning",
        message="No Gumroad webhook received for 6 hours",
        fingerprint="demo:gumroad-silence",
    )


def _login(context, client, staff_user, live_server) -> None:
    """The live server shares the test database: a session made by the test client is valid there."""
    client.force_login(staff_user)
    session_id = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_id, "url": live_server.url}])


def _watch(page) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda msg: msg.type == "error" and problems.append(f"console: {msg.text}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status} {r.url}"))
    return problems


def _until(page, expression: str, timeout_s: float = 15.0) -> None:
    """Poll a JS expression with page.evaluate until it is truthy. Playwright's wait_for_function
    compiles a string predicate with eval inside the page, which the dashboard's CSP (no
    'unsafe-eval') rightly refuses; page.evaluate goes through the DevTools protocol instead."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {expression}")
        page.wait_for_timeout(100)


def _wait_for_charts(page, problems: list[str]) -> None:
    try:
        _until(page, "document.querySelectorAll('canvas[data-chart][data-loaded=\"true\"]').length === 4", 20)
    except AssertionError:
        pytest.fail(f"the charts did not draw within 20 s; browser reported: {problems}")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dashboard_draws_charts_refreshes_in_place_and_fits_a_phone(
    served_like_production, browser, artifacts_dir, client, staff_user, entities
):
    live_server = served_like_production
    _seed(entities)
    url = f"{live_server.url}/dashboard/"

    # Desktop.
    desktop = browser.new_context(viewport={"width": 1440, "height": 900}, reduced_motion="reduce")
    _login(desktop, client, staff_user, live_server)
    page = desktop.new_page()
    problems = _watch(page)
    page.clock.install()
    page.goto(url)
    _wait_for_charts(page, problems)

    drawn = {name: page.evaluate(CHART_DATA, name) for name in CHARTS}
    assert drawn["daily"]["type"] == "line"
    assert drawn["daily"]["labels"] == 90
    assert [d["label"] for d in drawn["daily"]["datasets"]] == ["A+ Enterprise LLC", "Legacy Unchained Inc"]
    assert all(d["points"] == 90 and d["nonzero"] > 30 for d in drawn["daily"]["datasets"])
    assert drawn["providers"]["type"] == "doughnut"
    assert drawn["providers"]["datasets"][0]["nonzero"] >= 2  # Stripe, Gumroad and manual POs in USD
    assert drawn["monthly"]["type"] == "bar"
    assert drawn["monthly"]["datasets"][0]["nonzero"] >= 3
    assert drawn["payouts"]["datasets"][0] == {"label": "Paid", "points": 1, "nonzero": 1}
    for name, chart in drawn.items():
        assert chart["width"] > 0 and chart["height"] > 0, name
        assert chart["datasets"][0]["points"] > 0, name

    # Cards, tables, alerts and the accessible alternatives are there.
    assert page.locator(".kpi-card").count() == 3
    assert page.locator("#events tbody tr").count() == 20
    assert page.locator(".alert-list li").count() == 2
    assert page.locator("canvas[role=img][aria-label]").count() == 4
    for name in CHARTS:
        panel = page.locator(f'[data-chart-panel="{name}"]')
        assert panel.locator("[data-chart-summary]").inner_text() not in ("", "Loading…")
        assert panel.locator("[data-chart-table] table tbody tr").count() > 0
    assert "Paid" in page.locator("[data-payout-statuses]").inner_text()

    desktop_shot = artifacts_dir / "dashboard-desktop-1440x900.png"
    page.screenshot(path=str(desktop_shot), full_page=True)
    print(f"\nDesktop screenshot: {desktop_shot}")

    # The 30-second refresh updates cards, events and charts in place (same document, no reload).
    page.evaluate("window.__sameDocument = true")
    revenue_event_record(
        entry=ledger_entry(
            event_id="stripe:pi_browser_refresh",
            amount_cents=4242400,
            currency="USD",
            occurred_at=day_start(business_today() + timedelta(days=1)) - timedelta(minutes=1),
        ),
        entity=entities["legacy-unchained"],
    )
    page.clock.fast_forward(31_000)
    _until(page, "document.querySelector('#events').textContent.includes('42,424.00 USD')")
    assert page.evaluate("window.__sameDocument") is True
    assert "42,424.00 USD" in page.locator("#events").inner_text()

    # Filters apply in place too: one entity, 30 days.
    page.select_option("#id_entity", "legacy-unchained")
    page.select_option("#id_range", "30")
    _until(
        page,
        """(() => { const c = Chart.getChart(document.querySelector('canvas[data-chart="daily"]'));
                    return c.data.labels.length === 30 && c.data.datasets.length === 1; })()""",
    )
    _until(page, "document.querySelectorAll('.kpi-card').length === 1")
    assert page.evaluate("window.__sameDocument") is True
    assert "entity=legacy-unchained" in page.url and "range=30" in page.url
    assert problems == []
    desktop.close()

    # Phone.
    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        reduced_motion="reduce",
    )
    _login(phone, client, staff_user, live_server)
    page = phone.new_page()
    problems = _watch(page)
    page.goto(url)
    _wait_for_charts(page, problems)
    for name in CHARTS:
        chart = page.evaluate(CHART_DATA, name)
        assert chart["datasets"][0]["points"] > 0, name
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390, f"horizontal scroll on a phone: page is {scroll_width}px wide"
    phone_shot = artifacts_dir / "dashboard-phone-390x844.png"
    page.screenshot(path=str(phone_shot), full_page=True)
    print(f"Phone screenshot: {phone_shot}")
    assert problems == []
    phone.close()

# ruff: noqa: F811  (served_like_production is a fixture imported from test_dashboard_browser)
"""The daily chart continues as the forecast band (issue 19): JSON endpoint, and Chromium screenshots."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse

from forecasts.services import forecasts_fit
from forecasts.tests.factories import record_days, weekly_amount
from revenue.business_time import business_today, month_end

from .test_dashboard_browser import (  # noqa: F401  (served_like_production is a fixture)
    _login,
    _until,
    _wait_for_charts,
    _watch,
    served_like_production,
)

BAND = """() => {
    const chart = Chart.getChart(document.querySelector('canvas[data-chart="daily"]'));
    const legend = chart.legend.legendItems.map((item) => item.text);
    return {
        labels: chart.data.labels.length,
        forecast: chart.data.datasets.filter((d) => d.forecast).map((d) => d.label),
        legend: legend,
        filled: chart.data.datasets.filter((d) => d.fill === "-1").length,
    };
}"""


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    """Playwright's sync API runs an event loop in this thread; the ORM calls here are still plain sync code."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.mark.django_db
def test_daily_chart_json_continues_past_today_as_a_band(staff_client, entities, django_assert_max_num_queries):
    today = business_today()
    aplus = entities["aplus-enterprise"]
    record_days(
        entity=aplus, first_day=today - timedelta(days=70), last_day=today - timedelta(days=1), amount=weekly_amount()
    )
    record_days(
        entity=entities["legacy-unchained"],
        first_day=today - timedelta(days=10),
        last_day=today - timedelta(days=1),
        amount=lambda day: 10_000,
    )
    forecasts_fit(last_day=today - timedelta(days=1))

    with django_assert_max_num_queries(12):
        body = staff_client.get(reverse("dashboard:chart-daily-net"), {"range": 30}).json()
    last_day = max(month_end(today), today + timedelta(days=13))
    assert body["labels"][0] == (today - timedelta(days=29)).isoformat()
    assert body["labels"][-1] == last_day.isoformat()
    actual = next(d for d in body["datasets"] if d["label"] == aplus.name)
    assert actual["data"][29] is not None and actual["data"][30:] == [None] * (len(body["labels"]) - 30)
    low, high, mean = (d for d in body["datasets"] if d.get("forecast"))
    assert (low["label"], high["label"], mean["label"]) == (
        f"{aplus.name} 80% low",
        f"{aplus.name} 80% high",
        f"{aplus.name} forecast",
    )
    assert high["fill"] == "-1" and low["bound"] and high["bound"] and "bound" not in mean
    assert mean["data"][:29] == [None] * 29 and mean["data"][29] is not None
    assert all(lo <= m <= hi for lo, m, hi in zip(low["data"][29:], mean["data"][29:], high["data"][29:], strict=True))
    assert "projected month" in body["summary"] and "80% range" in body["summary"]
    assert "Legacy Unchained Inc: not enough history for a forecast" in body["summary"]
    assert body["table"]["rows"][-1][1].startswith("forecast ")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_forecast_band_on_the_dashboard_at_desktop_and_phone_sizes(
    served_like_production, browser, artifacts_dir, client, staff_user, entities
):
    live_server = served_like_production
    call_command("seed_demo", stdout=io.StringIO())
    forecasts_fit(last_day=business_today() - timedelta(days=1))
    url = f"{live_server.url}{reverse('dashboard:index')}?range=90"
    for name, viewport, extra in (
        ("desktop-1440x900", {"width": 1440, "height": 900}, {}),
        (
            "phone-390x844",
            {"width": 390, "height": 844},
            {"device_scale_factor": 2, "is_mobile": True, "has_touch": True},
        ),
    ):
        context = browser.new_context(viewport=viewport, reduced_motion="reduce", **extra)
        _login(context, client, staff_user, live_server)
        page = context.new_page()
        problems = _watch(page)
        page.goto(url)
        _wait_for_charts(page, problems)
        _until(page, "document.querySelector('[data-chart-summary]').textContent.includes('projected month')")
        band = page.evaluate(BAND)
        assert len(band["forecast"]) == 6  # low, high and the expected line for both entities
        assert band["filled"] == 2
        assert not any("80%" in text for text in band["legend"])  # bounds drawn, not listed
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        panel = page.locator('[data-chart-panel="daily"]')
        panel.scroll_into_view_if_needed()
        shot = artifacts_dir / f"forecast-band-{name}.png"
        panel.screenshot(path=str(shot))
        page.screenshot(path=str(artifacts_dir / f"forecast-dashboard-{name}.png"), full_page=True)
        print(f"\nForecast band screenshot: {shot}")
        assert problems == []
        context.close()

"""The morning view in headless Chromium: yesterday per entity and in total, week and month to date
and the open alerts above the fold on a phone (390 x 844) and a desk (1440 x 900); no dashboard table
clips an amount or breaks a header at 390 px. Screenshots go to artifacts/."""

from __future__ import annotations

import pytest

from .test_dashboard_browser import (  # noqa: F401  (fixtures)
    _login,
    _orm_beside_playwright,
    _seed,
    _wait_for_charts,
    _watch,
    served_like_production,
)

# Where each part of the morning view ends, in CSS pixels from the top of the page.
FOLD = """() => {
    const bottom = (el) => el.getBoundingClientRect().bottom + window.scrollY;
    return {
        scopes: [...document.querySelectorAll('#morning [data-morning-scope]')].map((el) => ({
            scope: el.dataset.morningScope, bottom: bottom(el), rows: el.querySelectorAll('tr').length - 1,
        })),
        alerts: bottom(document.querySelector('#morning .morning-alerts')),
        alertLinks: [...document.querySelectorAll('#morning .morning-alert-list a')].map((a) => a.getAttribute('href')),
        figureLinks: document.querySelectorAll('#morning a.morning-value').length,
        heading: document.querySelector('#morning-heading').textContent,
    };
}"""

# Every amount and header of every dashboard table: is any cut off, or broken one letter per line?
MEASURE = r"""() => {
    const problems = [];
    const width = document.documentElement.clientWidth;
    // Left to screen readers (clip: the visually-hidden pattern), e.g. a stacked table's header row.
    const screenReaderOnly = (el) => {
        for (let a = el; a; a = a.parentElement) if (getComputedStyle(a).clip !== 'auto') return true;
        return false;
    };
    const textLines = (el) => {
        const range = document.createRange();
        range.selectNodeContents(el);
        const rects = [...range.getClientRects()].filter((rect) => rect.width > 1);  // not a visually-hidden label
        return new Set(rects.map((rect) => Math.round(rect.bottom))).size;
    };
    const cells = document.querySelectorAll('table th, table td, .kpi-value, .kpi-change, .status-amounts');
    for (const el of cells) {
        const r = el.getBoundingClientRect();
        if ((!r.width && !r.height) || screenReaderOnly(el)) continue;  // not on the screen
        const label = `${el.tagName} "${el.textContent.trim().slice(0, 40)}"`;
        if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
            problems.push(`${label} is clipped: ${el.scrollWidth}px of text in ${el.clientWidth}px`);
        const scroller = el.closest('.table-scroll');
        if (!scroller && (r.right > width + 1 || r.left < -1))
            problems.push(`${label} runs off the screen (${Math.round(r.left)}..${Math.round(r.right)} of ${width})`);
        if (el.matches('th')) {  // a header may wrap between its words, never inside one
            const words = el.textContent.trim().split(/\s+/).filter(Boolean).length;
            const lines = textLines(el);
            if (lines > words) problems.push(`${label} header breaks inside a word: ${lines} lines, ${words} words`);
        }
        if (el.matches('td.num, .kpi-value') && /\d/.test(el.textContent) && !el.querySelector('.kpi-change')) {
            const lines = textLines(el);
            if (lines > 1) problems.push(`${label} amount wraps over ${lines} lines`);
        }
    }
    return problems;
}"""

# What makes the page wider than the screen: the outermost elements that run past its right edge.
WIDEST = """() => [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .filter((el) => !el.parentElement.closest('*') || el.parentElement.getBoundingClientRect().right
        <= document.documentElement.clientWidth + 1)
    .map((el) => `${el.tagName}.${el.className} ${Math.round(el.getBoundingClientRect().right)}px`)
    .slice(0, 10)"""


def _open_every_table(page) -> int:
    page.evaluate("document.querySelectorAll('details.chart-table').forEach((d) => { d.open = true; })")
    return page.evaluate("document.querySelectorAll('table').length")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("name", "viewport", "mobile"),
    [
        ("phone-390x844", {"width": 390, "height": 844}, True),
        ("desktop-1440x900", {"width": 1440, "height": 900}, False),
    ],
)
def test_morning_view_above_the_fold_and_no_clipped_amounts(
    served_like_production,  # noqa: F811  (the fixture imported above)
    browser,
    artifacts_dir,
    client,
    staff_user,
    entities,
    name,
    viewport,
    mobile,
):
    live_server = served_like_production
    _seed(entities)
    context = browser.new_context(
        viewport=viewport,
        device_scale_factor=2 if mobile else 1,
        is_mobile=mobile,
        has_touch=mobile,
        reduced_motion="reduce",
    )
    _login(context, client, staff_user, live_server)
    page = context.new_page()
    problems = _watch(page)
    page.goto(f"{live_server.url}/dashboard/")
    _wait_for_charts(page, problems)

    fold = page.evaluate(FOLD)
    assert fold["heading"].startswith("Yesterday, ")
    assert [s["scope"] for s in fold["scopes"]] == ["total", "aplus-enterprise", "legacy-unchained"]
    assert all(s["rows"] >= 1 for s in fold["scopes"]), fold  # the demo books every entity every day
    for part in fold["scopes"]:
        assert part["bottom"] <= viewport["height"], f"{part['scope']} is below the fold: {fold}"
    assert fold["alerts"] <= viewport["height"], f"the open alerts are below the fold: {fold}"
    assert len(fold["alertLinks"]) == 2 and all(h.startswith("/admin/alerts/revenuealert/") for h in fold["alertLinks"])
    assert fold["figureLinks"] >= 3 * sum(s["rows"] for s in fold["scopes"])
    page.screenshot(path=str(artifacts_dir / f"morning-{name}.png"))  # the first screen, as the owner sees it

    # Every table on the page, the chart tables opened: no clipped amount, no broken header.
    assert _open_every_table(page) >= 6
    assert page.evaluate(MEASURE) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], page.evaluate(WIDEST)
    page.screenshot(path=str(artifacts_dir / f"dashboard-tables-{name}.png"), full_page=True)
    for part, selector in (("daily-table", '[data-chart-panel="daily"] .chart-table'), ("events", "#events")):
        page.locator(selector).screenshot(path=str(artifacts_dir / f"dashboard-{part}-{name}.png"))

    assert problems == []

    # A figure leads to its rows in the back office (which has no favicon: Chromium's request for
    # one is the only console noise there).
    page.locator("#morning [data-morning-scope='aplus-enterprise'] a.morning-value").first.click()
    page.wait_for_url("**/admin/revenue/revenueevent/?*")
    assert page.locator("#result_list tbody tr").count() >= 1
    assert [p for p in problems if not p.startswith("console: Failed to load resource")] == []
    context.close()

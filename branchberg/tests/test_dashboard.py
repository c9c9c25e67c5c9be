"""Dashboard: the chart JSON endpoints against a hand-computed ledger, the KPI windows, access and filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.urls import reverse

from alerts.services import alert_raise
from revenue import selectors
from revenue.business_time import business_today, business_zone, month_start
from revenue.models import Payout
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

CT = business_zone()


def central(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=CT)


@pytest.fixture
def ledger(entities):
    """A small ledger whose every total is worked out by hand below.

    D1 is the last day of the previous month. The 23:30 Central sale on D1 is already
    the 1st of this month in UTC: it must count on D1, in the previous month.
    """
    today = business_today()
    d1 = month_start(today) - timedelta(days=1)
    aplus, legacy = entities["aplus-enterprise"], entities["legacy-unchained"]
    rows = [
        # (entity, provider, kind, amount, currency, occurred_at)
        (aplus, "stripe", "payment", 10000, "USD", central(d1, 23, 30)),
        (aplus, "stripe", "fee", -320, "USD", central(d1, 23, 30)),
        (aplus, "stripe", "refund", -2500, "USD", central(d1 + timedelta(days=1), 12)),
        (aplus, "manual", "payment", 150000, "USD", central(d1 - timedelta(days=10), 15)),
        (legacy, "gumroad", "payment", 4900, "USD", central(d1, 10)),
        (legacy, "stripe", "payment", 5000, "EUR", central(d1, 12)),
        (legacy, "stripe", "dispute", -1000, "EUR", central(d1 + timedelta(days=1), 9)),
        # Outside every range the tests ask for (90 days, and the months it touches).
        (aplus, "stripe", "payment", 99999, "USD", central(today - timedelta(days=130), 12)),
    ]
    for entity, provider, kind, amount, currency, at in rows:
        revenue_event_record(
            entry=ledger_entry(provider=provider, kind=kind, amount_cents=amount, currency=currency, occurred_at=at),
            entity=entity,
        )
    return {"today": today, "d1": d1, "first_day": today - timedelta(days=89)}


def _series(body):
    return {dataset["label"]: dataset["data"] for dataset in body["datasets"]}


# --- Chart endpoints -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_daily_net_buckets_by_central_day_per_entity_and_currency(staff_client, ledger, django_assert_max_num_queries):
    url = reverse("dashboard:chart-daily-net")
    with django_assert_max_num_queries(5):  # session, user, entities, one GROUP BY, the forecasts (none here)
        response = staff_client.get(url, {"range": 90, "currency": "USD"})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    body = response.json()
    assert "view" not in body
    assert body["currency"] == "USD" and body["exponent"] == 2 and body["range_days"] == 90
    labels = body["labels"]
    assert len(labels) == 90
    assert labels[0] == ledger["first_day"].isoformat() and labels[-1] == ledger["today"].isoformat()

    d1 = ledger["d1"]
    index = {label: i for i, label in enumerate(labels)}
    series = _series(body)
    assert set(series) == {"A+ Enterprise LLC", "Legacy Unchained Inc"}
    aplus = series["A+ Enterprise LLC"]
    # D1: the 23:30 Central sale and its fee; NOT moved to the UTC day (the 1st).
    assert aplus[index[d1.isoformat()]] == 10000 - 320
    assert aplus[index[(d1 + timedelta(days=1)).isoformat()]] == -2500
    assert aplus[index[(d1 - timedelta(days=10)).isoformat()]] == 150000
    assert sum(aplus) == 150000 + 10000 - 320 - 2500  # the sale 130 days ago is outside the range
    legacy = series["Legacy Unchained Inc"]
    assert legacy[index[d1.isoformat()]] == 4900
    assert sum(legacy) == 4900  # EUR rows never leak into USD

    # Table alternative: formatted by format_money, one row per day.
    assert body["table"]["columns"] == ["Business day", "A+ Enterprise LLC", "Legacy Unchained Inc"]
    row = body["table"]["rows"][index[d1.isoformat()]]
    assert row == [d1.isoformat(), "96.80 USD", "49.00 USD"]
    assert "A+ Enterprise LLC 1,571.80 USD" in body["summary"]


@pytest.mark.django_db
def test_daily_net_in_a_second_currency_and_for_one_entity(staff_client, ledger):
    url = reverse("dashboard:chart-daily-net")
    body = staff_client.get(url, {"range": 90, "currency": "eur"}).json()
    index = {label: i for i, label in enumerate(body["labels"])}
    series = _series(body)
    assert sum(series["A+ Enterprise LLC"]) == 0
    assert series["Legacy Unchained Inc"][index[ledger["d1"].isoformat()]] == 5000
    assert series["Legacy Unchained Inc"][index[(ledger["d1"] + timedelta(days=1)).isoformat()]] == -1000
    assert body["currency"] == "EUR"

    body = staff_client.get(url, {"range": 90, "currency": "USD", "entity": "legacy-unchained"}).json()
    assert [d["label"] for d in body["datasets"]] == ["Legacy Unchained Inc"]
    assert sum(body["datasets"][0]["data"]) == 4900
    assert body["entity"] == "legacy-unchained"


@pytest.mark.django_db
def test_range_30_days(staff_client, ledger):
    body = staff_client.get(reverse("dashboard:chart-daily-net"), {"range": 30}).json()
    assert len(body["labels"]) == 30
    assert body["labels"][-1] == ledger["today"].isoformat()


@pytest.mark.django_db
def test_revenue_by_provider(staff_client, ledger, django_assert_max_num_queries):
    url = reverse("dashboard:chart-providers")
    with django_assert_max_num_queries(5):  # session, user, entities, one GROUP BY, unknown Gumroad fees
        body = staff_client.get(url, {"range": 90, "currency": "USD"}).json()
    assert body["labels"] == ["Manual", "Stripe", "Gumroad"]  # largest net first
    assert body["datasets"][0]["data"] == [150000, 10000 - 2500 - 320, 4900]
    assert len(body["datasets"][0]["backgroundColor"]) == 3
    assert body["table"]["columns"] == [
        "Provider",
        "Payments",
        "Refunds",
        "Disputes",
        "Disputes won back",
        "Fees",
        "Adjustments",
        "Net",
        "Events",
    ]
    zero = "0.00 USD"
    assert body["table"]["rows"] == [
        ["Manual", "1,500.00 USD", zero, zero, zero, zero, zero, "1,500.00 USD", 1],
        ["Stripe", "100.00 USD", "-25.00 USD", zero, zero, "-3.20 USD", zero, "71.80 USD", 3],
        ["Gumroad", "49.00 USD", zero, zero, zero, "0.00 USD (Gumroad fees not yet known)", zero, "49.00 USD", 1],
    ]
    assert "total 1,620.80 USD" in body["summary"]

    body = staff_client.get(url, {"range": 90, "currency": "EUR"}).json()
    assert body["labels"] == ["Stripe"]
    assert body["datasets"][0]["data"] == [4000]


@pytest.mark.django_db
def test_monthly_buckets_by_central_month(staff_client, ledger, django_assert_max_num_queries):
    url = reverse("dashboard:chart-monthly")
    with django_assert_max_num_queries(5):  # session, user, entities, one GROUP BY, unknown Gumroad fees
        body = staff_client.get(url, {"range": 90, "currency": "USD"}).json()
    this_month = month_start(ledger["today"])
    previous_month = month_start(ledger["d1"])
    assert body["labels"][-2:] == [f"{previous_month:%b %Y}", f"{this_month:%b %Y}"]
    assert body["labels"][0] == f"{month_start(ledger['first_day']):%b %Y}"
    payments, refunds, disputes, fees, net = (dataset["data"] for dataset in body["datasets"])
    assert [d["label"] for d in body["datasets"]] == ["Payments", "Refunds", "Disputes", "Fees", "Net"]
    assert body["datasets"][4]["type"] == "line"
    # Previous month: the 23:30 Central sale stays there (it is this month in UTC).
    assert (payments[-2], refunds[-2], fees[-2], net[-2]) == (164900, 0, -320, 164900 - 320)
    assert (payments[-1], refunds[-1], net[-1]) == (0, -2500, -2500)
    assert sum(payments) == 164900  # the sale 130 days ago is before the first month shown
    assert sum(disputes) == 0
    zero = "0.00 USD"
    assert body["table"]["rows"][-1] == [
        f"{this_month:%b %Y}",
        zero,
        "-25.00 USD",
        zero,
        zero,
        zero,
        zero,
        "-25.00 USD",
    ]
    assert "Gumroad fees not yet known" in body["table"]["rows"][-2][5]  # the Gumroad sale has no fee row

    body = staff_client.get(url, {"range": 90, "currency": "EUR"}).json()
    payments, refunds, disputes, _fees, net = (dataset["data"] for dataset in body["datasets"])
    assert (payments[-2], refunds[-1], disputes[-1], net[-2] + net[-1]) == (5000, 0, -1000, 4000)


@pytest.mark.django_db
def test_payout_strip_counts_and_amounts_per_currency(staff_client, entities, django_assert_max_num_queries):
    today = business_today()
    aplus, legacy = entities["aplus-enterprise"], entities["legacy-unchained"]
    for n, (entity, amount, currency, status, arrival) in enumerate(
        [
            (aplus, 100000, "USD", "paid", today - timedelta(days=3)),
            (aplus, 50000, "USD", "paid", today - timedelta(days=10)),
            (legacy, 7000, "EUR", "paid", today - timedelta(days=12)),
            (legacy, 20000, "USD", "failed", today - timedelta(days=5)),
            (aplus, 30000, "EUR", "pending", None),
            (aplus, 99900, "USD", "paid", today - timedelta(days=200)),  # outside the range
        ]
    ):
        Payout.objects.create(
            provider="stripe",
            payout_id=f"po_{n}",
            entity=entity,
            amount_cents=amount,
            currency=currency,
            status=status,
            arrival_on=arrival,
        )
    url = reverse("dashboard:chart-payouts")
    with django_assert_max_num_queries(4):
        body = staff_client.get(url, {"range": 90}).json()
    assert body["labels"] == ["Payouts"]
    assert {d["label"]: d["data"] for d in body["datasets"]} == {
        "Paid": [3],
        "In transit": [0],
        "Pending": [1],
        "Failed": [1],
        "Canceled": [0],
    }
    statuses = {s["status"]: s for s in body["statuses"]}
    assert statuses["paid"]["amounts"] == ["1,500.00 USD", "70.00 EUR"]  # never summed across currencies
    assert statuses["failed"]["amounts"] == ["200.00 USD"]
    assert statuses["pending"]["amounts"] == ["300.00 EUR"]
    assert body["table"]["rows"] == [
        ["Paid", 3, "1,500.00 USD, 70.00 EUR"],
        ["Pending", 1, "300.00 EUR"],
        ["Failed", 1, "200.00 USD"],
    ]

    body = staff_client.get(url, {"range": 90, "entity": "legacy-unchained"}).json()
    assert {d["label"]: d["data"][0] for d in body["datasets"]}["Paid"] == 1


@pytest.mark.django_db
def test_chart_query_count_does_not_grow_with_the_ledger(staff_client, ledger, entities, django_assert_max_num_queries):
    today = business_today()
    for n in range(60):
        revenue_event_record(
            entry=ledger_entry(
                provider=["stripe", "gumroad", "manual"][n % 3],
                amount_cents=100 + n,
                currency=["USD", "EUR", "GBP"][n % 3],
                occurred_at=central(today - timedelta(days=n), 8),
            ),
            entity=entities["legacy-unchained"] if n % 2 else entities["aplus-enterprise"],
        )
    for name in ("chart-daily-net", "chart-providers", "chart-monthly", "chart-payouts"):
        with django_assert_max_num_queries(5):  # + one for unknown Gumroad fees (providers, monthly)
            assert staff_client.get(reverse(f"dashboard:{name}"), {"range": 365}).status_code == 200
    # seven, the morning view's two totals reads and its alerts (three), unknown Gumroad fees (one)
    with django_assert_max_num_queries(11):
        assert staff_client.get(reverse("dashboard:summary")).status_code == 200


# --- Access and bad input --------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_redirects_to_the_admin_login(client, django_user_model):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/dashboard/")
    user = django_user_model.objects.create_user("clerk", "clerk@example.com", "pw-not-staff-123")
    client.force_login(user)
    assert client.get("/dashboard/").status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["summary", "chart-daily-net", "chart-providers", "chart-monthly", "chart-payouts"])
def test_json_endpoints_answer_403_json_without_staff_login(client, name):
    response = client.get(reverse(f"dashboard:{name}"))
    assert response.status_code == 403
    assert response.json()["code"] == "staff_login_required"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"range": "7"}, "range"),
        ({"range": "ninety"}, "range"),
        ({"entity": "no-such-entity"}, "entity"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "dollars"}, "currency"),
    ],
)
def test_bad_filters_are_a_400_json_error(staff_client, params, field):
    response = staff_client.get(reverse("dashboard:chart-daily-net"), params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_filter"
    assert body["message"].startswith(f"{field}:")


@pytest.mark.django_db
def test_page_with_bad_filters_shows_the_error_and_the_default_view(staff_client):
    response = staff_client.get("/dashboard/", {"range": "7"})
    assert response.status_code == 400
    assert b"These filters are not valid" in response.content
    assert b'data-chart="daily"' in response.content


# --- The page --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_renders_cards_events_alerts_and_chart_slots(
    staff_client, ledger, entities, django_assert_max_num_queries
):
    alert_raise(
        alert_type="threshold",
        severity="critical",
        message="Daily revenue fell below 100.00 USD",
        fingerprint="test:threshold",
        entity=entities["aplus-enterprise"],
    )
    # the morning view adds three (two totals reads and its alerts), unknown Gumroad fees one
    with django_assert_max_num_queries(13):
        response = staff_client.get("/dashboard/")
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    html = response.content.decode()
    for text in ("Revenue at a glance", "All entities", "A+ Enterprise LLC", "Legacy Unchained Inc", "Month to date"):
        assert text in html
    for chart in ("daily", "providers", "monthly", "payouts"):
        assert f'data-chart="{chart}"' in html
    assert html.count('role="img"') == 4 and html.count("aria-label=") >= 4
    assert "Daily revenue fell below 100.00 USD" in html
    assert "-25.00 USD" in html  # the refund in the recent events, signed and formatted
    # The 23:30 Central sale is shown at its business time (CST or CDT), not in UTC.
    assert "23:30 C" in html
    assert "/static/vendor/chartjs/chart.umd.min." in html  # manifest-hashed, vendored, no CDN
    assert "cdn" not in html.lower()
    assert '"refreshSeconds": 30' in html


@pytest.mark.django_db
def test_page_leads_with_yesterday_each_figure_and_alert_linked(staff_client, ledger, entities, admin_client):
    """The morning view sits above the filters and key figures; its amounts and alerts are links."""
    alert, _ = alert_raise(
        alert_type="duplicate",
        severity="warning",
        message="Possible duplicate: two sales of 49.00 USD",
        fingerprint="test:morning-page",
        entity=entities["legacy-unchained"],
    )
    html = staff_client.get("/dashboard/").content.decode()
    assert html.index('id="morning"') < html.index('id="filters"') < html.index('id="kpis"')
    morning = html[html.index('id="morning"') : html.index('id="filters"')]
    yesterday = ledger["today"] - timedelta(days=1)
    assert f"Yesterday, {yesterday:%A} {yesterday.day} {yesterday:%B}" in html
    for scope in ("total", "aplus-enterprise", "legacy-unchained"):
        assert f'data-morning-scope="{scope}"' in morning
    assert f'href="/admin/alerts/revenuealert/{alert.pk}/change/"' in morning
    assert "1 open alert<" in morning
    # The lists below link too: each event to its entry, each alert to its page.
    assert html.count(f'href="/admin/alerts/revenuealert/{alert.pk}/change/"') == 2
    assert re.search(r'href="/admin/revenue/revenueevent/[0-9a-f-]+/change/"', html)
    links = re.findall(r'href="(/admin/revenue/revenueevent/\?[^"]+)"', morning)
    assert links, "no figure links to its ledger rows"
    for link in links:
        assert admin_client.get(link.replace("&amp;", "&")).status_code == 200


@pytest.mark.django_db
def test_summary_json_carries_the_panels(staff_client, ledger):
    body = staff_client.get(reverse("dashboard:summary"), {"entity": "legacy-unchained"}).json()
    assert "Legacy Unchained Inc" in body["kpis_html"]
    assert "All entities" not in body["kpis_html"]  # one entity selected: its card only
    assert "49.00 USD" in body["events_html"]
    assert "A+ Enterprise" not in body["events_html"]
    assert body["currencies"][0] == "USD" and "EUR" in body["currencies"]
    assert body["alert_count"] == 0
    assert 'data-morning-scope="legacy-unchained"' in body["morning_html"]
    assert 'data-morning-scope="aplus-enterprise"' not in body["morning_html"]


@pytest.mark.django_db
def test_static_assets_are_served_by_whitenoise(staff_client):
    """The page's {% static %} URLs point at files collectstatic produced (DEBUG off, manifest storage)."""
    import re

    html = staff_client.get("/dashboard/").content.decode()
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert len(urls) == 4  # favicon, stylesheet, Chart.js, dashboard script
    assert any("/static/vendor/chartjs/chart.umd.min." in url for url in urls)
    for url in urls:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert len(body) > 300


# --- KPI windows and cards -------------------------------------------------------------------------


def test_kpi_windows_on_the_monday_after_dst_starts():
    # 2026-03-08 is the 23-hour day (CST -> CDT). Now: Monday 9 March, 10:00 CDT.
    now = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    windows = {w.key: w for w in selectors.kpi_windows(now)}
    today = windows["today"]
    assert today.current.start == datetime(2026, 3, 9, 5, 0, tzinfo=UTC)  # CDT midnight
    assert today.current.end == datetime(2026, 3, 10, 5, 0, tzinfo=UTC)
    assert today.previous.start == datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # CST midnight
    assert today.previous.end == datetime(2026, 3, 8, 15, 0, tzinfo=UTC)  # 10:00 CDT on the 8th
    week = windows["week"]
    assert week.current.start == today.current.start  # a Monday
    assert week.previous.start == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    assert week.previous.end == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 10:00 CST
    month = windows["month"]
    assert month.current.start == datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    assert month.previous.start == datetime(2026, 2, 1, 6, 0, tzinfo=UTC)
    assert month.previous.end == datetime(2026, 2, 9, 16, 0, tzinfo=UTC)


def test_kpi_month_window_on_a_day_the_previous_month_lacks():
    now = datetime(2026, 3, 31, 17, 0, tzinfo=UTC)  # 12:00 CDT, 31 March
    month = {w.key: w for w in selectors.kpi_windows(now)}["month"]
    assert month.previous.start == datetime(2026, 2, 1, 6, 0, tzinfo=UTC)
    assert month.previous.end == datetime(2026, 3, 1, 6, 0, tzinfo=UTC)  # the whole of February


@pytest.mark.django_db
def test_kpi_cards_per_entity_and_total_per_currency(entities, django_assert_num_queries):
    aplus, legacy = entities["aplus-enterprise"], entities["legacy-unchained"]
    now = datetime(2026, 6, 17, 17, 0, tzinfo=UTC)  # Wednesday 12:00 CDT
    today, yesterday = now.astimezone(CT).date(), now.astimezone(CT).date() - timedelta(days=1)
    for entity, amount, currency, at in [
        (aplus, 100000, "USD", central(today, 9)),
        (legacy, 50000, "USD", central(today, 11)),
        (legacy, 5000, "JPY", central(today, 10)),
        (aplus, 60000, "USD", central(yesterday, 11)),  # before 12:00: in "yesterday by this time"
        (aplus, 70000, "USD", central(yesterday, 13)),  # after 12:00: not comparable, still this week
        (aplus, 30000, "USD", central(yesterday, 23, 30)),  # 04:30 UTC today: still yesterday in Chicago
    ]:
        revenue_event_record(entry=ledger_entry(amount_cents=amount, currency=currency, occurred_at=at), entity=entity)
    revenue_event_record(
        entry=ledger_entry(kind="refund", amount_cents=-20000, currency="USD", occurred_at=central(today, 10)),
        entity=aplus,
    )
    with django_assert_num_queries(2):  # the GROUP BY, and which scopes have Gumroad fees not yet known
        cards = selectors.kpi_cards(now=now, entities=[aplus, legacy])
    assert [card.title for card in cards] == ["All entities", "A+ Enterprise LLC", "Legacy Unchained Inc"]

    def figures(card, period):
        return {f.currency: f for f in next(p for p in card.periods if p.key == period).figures}

    total_today = figures(cards[0], "today")
    assert list(total_today) == ["USD", "JPY"]  # reporting currency first, never summed together
    usd = total_today["USD"]
    assert (usd.current_cents, usd.previous_cents) == (100000 - 20000 + 50000, 60000)
    assert usd.direction == "up" and usd.change_display == "+116.7%"
    assert usd.current_display == "1,300.00 USD"
    jpy = total_today["JPY"]
    assert (jpy.current_cents, jpy.previous_cents, jpy.change_display) == (5000, 0, "new")
    assert jpy.current_display == "5,000 JPY"

    aplus_today = figures(cards[1], "today")["USD"]
    assert (aplus_today.current_cents, aplus_today.previous_cents) == (80000, 60000)
    aplus_week = figures(cards[1], "week")["USD"]
    assert aplus_week.current_cents == 80000 + 60000 + 70000 + 30000  # Mon 15 .. today
    assert aplus_week.previous_cents == 0
    assert "JPY" not in figures(cards[1], "today")
    legacy_today = figures(cards[2], "today")
    assert legacy_today["USD"].change_display == "new" and legacy_today["JPY"].current_cents == 5000

    only = selectors.kpi_cards(now=now, entities=[aplus, legacy], entity=legacy)
    assert [card.title for card in only] == ["Legacy Unchained Inc"]


def test_kpi_figure_change():
    down = selectors.KpiFigure("USD", 5000, 10000)
    assert (down.direction, down.change_display) == ("down", "-50.0%")
    from_negative = selectors.KpiFigure("USD", 1000, -1000)
    assert (from_negative.direction, from_negative.change_display) == ("up", "+200.0%")
    assert selectors.KpiFigure("USD", 0, 0).change_display == "no change"


@pytest.mark.django_db
def test_daily_and_monthly_buckets_across_dst_changes(entities):
    """The database buckets in Central time on 23- and 25-hour days too."""
    from datetime import date

    aplus = entities["aplus-enterprise"]
    rows = [
        (1000, datetime(2026, 3, 8, 23, 30, tzinfo=CT)),  # CDT: 04:30 UTC on the 9th
        (2000, datetime(2026, 3, 8, 0, 30, tzinfo=CT)),  # CST, before the jump
        (3000, datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=CT)),  # the second 01:30 (CST)
        (4000, datetime(2026, 11, 1, 23, 30, tzinfo=CT)),  # CST: 05:30 UTC on the 2nd
        (5000, datetime(2026, 10, 31, 23, 30, tzinfo=CT)),  # CDT: 04:30 UTC on 1 November
    ]
    for amount, at in rows:
        revenue_event_record(entry=ledger_entry(amount_cents=amount, occurred_at=at), entity=aplus)

    spring = selectors.daily_net_revenue(
        currency="USD", first_day=date(2026, 3, 7), last_day=date(2026, 3, 9), entities=[aplus]
    )
    assert spring.series[0][1] == [0, 3000, 0]
    autumn = selectors.daily_net_revenue(
        currency="USD", first_day=date(2026, 10, 31), last_day=date(2026, 11, 2), entities=[aplus]
    )
    assert autumn.series[0][1] == [5000, 7000, 0]
    months = selectors.monthly_buckets(currency="USD", first_day=date(2026, 10, 1), last_day=date(2026, 11, 30))
    assert [(m.month, m.buckets.payments_cents) for m in months] == [
        (date(2026, 10, 1), 5000),
        (date(2026, 11, 1), 7000),
    ]

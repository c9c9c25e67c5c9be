"""The morning figures: yesterday against the same weekday last week, week and month to date,
per entity and in total, per currency, on business days (America/Chicago), each with its rows."""

from __future__ import annotations

from datetime import date, datetime, time
from urllib.parse import parse_qs, urlsplit

import pytest

from revenue.business_time import business_zone
from revenue.models import Entity
from revenue.selectors import morning_figures
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

CT = business_zone()
DAY = date(2026, 3, 11)  # a Wednesday, three days after DST started (Sunday 8 March)


def central(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CT)


@pytest.fixture
def ledger(entities):
    aplus, legacy = entities["aplus-enterprise"], entities["legacy-unchained"]
    rows = [
        # (entity, kind, amount, currency, occurred_at)
        (aplus, "payment", 10000, "USD", central(DAY, 23, 30)),  # already 12 March in UTC: counts on the 11th
        (aplus, "refund", -2500, "USD", central(DAY, 0, 10)),
        (aplus, "payment", 4000, "USD", central(date(2026, 3, 4), 12)),  # the same weekday last week
        (aplus, "payment", 7000, "USD", central(date(2026, 3, 9), 8)),  # Monday: week to date
        (aplus, "payment", 1000, "USD", central(date(2026, 3, 1), 0, 30)),  # first minutes of the month
        (aplus, "payment", 999, "USD", central(date(2026, 2, 28), 23, 30)),  # 1 March in UTC: not this month
        (aplus, "payment", 1200, "JPY", central(DAY, 10)),
        (legacy, "payment", 5000, "EUR", central(DAY, 12)),
        (legacy, "payment", 300, "USD", central(date(2026, 3, 12), 0, 10)),  # the next day: not in any figure
    ]
    for entity, kind, amount, currency, at in rows:
        revenue_event_record(
            entry=ledger_entry(kind=kind, amount_cents=amount, currency=currency, occurred_at=at), entity=entity
        )


def _lines(scope):
    return {
        line.currency: (
            line.day.amount_cents,
            line.compare_day.amount_cents,
            line.week_to_date.amount_cents,
            line.month_to_date.amount_cents,
        )
        for line in scope.lines
    }


@pytest.mark.django_db
def test_figures_per_entity_and_in_total_per_currency(ledger, django_assert_max_num_queries):
    entities = list(Entity.objects.order_by("name"))
    with django_assert_max_num_queries(2):
        figures = morning_figures(day=DAY, entities=entities)
    assert (figures.day, figures.compare_day) == (DAY, date(2026, 3, 4))
    assert (figures.week_first, figures.month_first) == (date(2026, 3, 9), date(2026, 3, 1))
    total, aplus, legacy = figures.scopes
    assert (total.name, total.slug, aplus.slug, legacy.slug) == (
        "All entities",
        "",
        "aplus-enterprise",
        "legacy-unchained",
    )
    assert _lines(aplus) == {"USD": (7500, 4000, 14500, 19500), "JPY": (1200, 0, 1200, 1200)}
    assert _lines(legacy) == {"EUR": (5000, 0, 5000, 5000)}
    # The total adds entities within a currency, never across currencies; the reporting currency first.
    assert [line.currency for line in total.lines] == ["USD", "EUR", "JPY"]
    assert _lines(total) == {
        "USD": (7500, 4000, 14500, 19500),
        "EUR": (5000, 0, 5000, 5000),
        "JPY": (1200, 0, 1200, 1200),
    }
    usd = total.lines[0]
    assert (usd.day.display, usd.day.amount, usd.day.count) == ("75.00 USD", "75.00", 2)
    assert total.lines[2].month_to_date.display == "1,200 JPY"  # no minor unit
    assert (usd.change.direction, usd.change.change_display) == ("up", "+87.5%")


@pytest.mark.django_db
def test_every_figure_links_to_exactly_its_rows(ledger, entities, admin_client):
    figures = morning_figures(day=DAY)
    aplus = figures.scopes[1]
    usd = next(line for line in aplus.lines if line.currency == "USD")
    query = parse_qs(urlsplit(usd.day.url).query)
    assert query["entity__id__exact"] == [str(entities["aplus-enterprise"].pk)]
    assert query["currency"] == ["USD"]
    for cell, rows in ((usd.day, 2), (usd.compare_day, 1), (usd.week_to_date, 3), (usd.month_to_date, 5)):
        response = admin_client.get(cell.url)
        assert response.status_code == 200
        changelist = response.context["cl"]
        assert changelist.result_count == rows == cell.count
        assert sum(row.amount_cents for row in changelist.queryset) == cell.amount_cents
    total_eur = figures.scopes[0].lines[1]
    assert "entity__id__exact" not in total_eur.day.url
    assert admin_client.get(total_eur.day.url).context["cl"].result_count == 1


@pytest.mark.django_db
def test_one_entity_and_an_entity_with_nothing_booked(ledger, entities):
    figures = morning_figures(day=DAY, entity=entities["legacy-unchained"])
    [legacy] = figures.scopes
    assert _lines(legacy) == {"EUR": (5000, 0, 5000, 5000)}
    quiet = morning_figures(day=date(2026, 1, 14))
    assert [scope.lines for scope in quiet.scopes] == [[], [], []]


@pytest.mark.django_db
def test_yesterday_is_the_default_day(entities, time_machine):
    time_machine.move_to(datetime(2026, 3, 12, 4, 0, tzinfo=CT), tick=False)  # 04:00 Central, 10:00 UTC
    assert morning_figures().day == DAY

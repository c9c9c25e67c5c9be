"""One set of numbers (issue 16): for a generated ledger and random periods, every surface shows the
same money buckets as a raw SQL query over the ledger.

The ledger has payments, refunds, lost and won disputes, fees, adjustments and reversals, in USD,
EUR and JPY (no minor unit), for both entities, around local midnight in America/Chicago across
the spring-forward day. For a random business day: API totals = API trends = the daily summary =
the figures in the Slack text = the reconciliation bridge (both entities) = raw SQL; for the
business month around it: the dashboard's monthly chart JSON = the monthly summary = raw SQL.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.summary_text import summary_text
from revenue.business_time import day_bounds, day_start
from revenue.models import Entity
from revenue.money import to_minor_units
from revenue.reconciliation.selectors import reconciliation_totals
from revenue.services import revenue_event_record, revenue_event_reverse
from revenue.tests.factories import ledger_entry
from summaries.services import summary_compute, summary_payload

from .api_fixtures import api, read_key  # noqa: F401

pytestmark = pytest.mark.django_db  # ~4 s for 12 examples: in the fast lane

CHICAGO = ZoneInfo("America/Chicago")
FIRST_DAY = date(2026, 3, 6)  # Friday; Sunday 2026-03-08 has 23 hours (spring forward)
DAYS = 5
CURRENCIES = ("USD", "EUR", "JPY")
# The specification of the buckets, written out here rather than imported: ledger kind -> bucket.
SPEC = {
    "payment": "payments",
    "refund": "refunds",
    "dispute": "disputes",
    "dispute_reversal": "disputes_won",
    "fee": "fees",
    "adjustment": "adjustments",
    "reversal": "adjustments",
}
NAMES = ("payments", "refunds", "disputes", "disputes_won", "fees", "adjustments")
SLACK_LABELS = {
    "Payments": "payments",
    "Refunds": "refunds",
    "Disputes": "disputes",
    "Disputes won back": "disputes_won",
    "Fees": "fees",
    "Adjustments": "adjustments",
    "Net": "net",
}
LABELS_LONGEST_FIRST = sorted(SLACK_LABELS, key=len, reverse=True)
SIGN = {"payment": 1, "dispute_reversal": 1, "refund": -1, "dispute": -1, "fee": -1}

movements = st.fixed_dictionaries(
    {
        "kind": st.sampled_from([*SIGN, "adjustment", "reversal"]),
        "amount": st.integers(min_value=1, max_value=500_000),
        "negative": st.booleans(),  # adjustments only
        "currency": st.sampled_from(CURRENCIES),
        "entity": st.sampled_from(["aplus-enterprise", "legacy-unchained"]),
        "provider": st.sampled_from(["stripe", "gumroad", "manual"]),
        "day": st.integers(min_value=0, max_value=DAYS),
        # Minutes from local midnight: most rows within 90 minutes of it, on either side.
        "minute": st.one_of(st.integers(min_value=-90, max_value=90), st.integers(min_value=0, max_value=1439)),
        "target": st.integers(min_value=0, max_value=1000),  # which earlier row a reversal reverses
    }
)


def _book(rows: list[dict], entities: dict[str, Entity]) -> None:
    booked = []
    for n, row in enumerate(rows):
        at = day_start(FIRST_DAY + timedelta(days=row["day"])) + timedelta(minutes=row["minute"])
        if row["kind"] == "reversal":
            candidates = [
                event for event in booked if event.kind != "reversal" and event.pk not in reversed_ids(booked)
            ]
            if candidates:
                target = candidates[row["target"] % len(candidates)]
                booked.append(revenue_event_reverse(event=target, reason="generated", occurred_at=at))
            continue
        sign = SIGN.get(row["kind"], -1 if row["negative"] else 1)
        entry = ledger_entry(
            event_id=f"gen:{n}",
            provider=row["provider"],
            kind=row["kind"],
            amount_cents=sign * row["amount"],
            currency=row["currency"],
            occurred_at=at,
        )
        booked.append(revenue_event_record(entry=entry, entity=entities[row["entity"]]).event)


def reversed_ids(booked: list) -> set:
    return {event.reverses_id for event in booked if event.reverses_id}


def sql_buckets(first: date, last: date) -> dict[str, dict[str, int]]:
    """Raw SQL over the ledger: currency -> bucket -> sum, for the business days [first, last]."""
    start, end = day_bounds(first, last)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT currency, kind, SUM(amount_cents) FROM revenue_events "
            "WHERE occurred_at >= %s AND occurred_at < %s GROUP BY currency, kind",
            [start, end],
        )
        found: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys((*NAMES, "net"), 0))
        for currency, kind, total in cursor.fetchall():
            found[currency][SPEC[kind]] += int(total)
            found[currency]["net"] += int(total)
    return dict(found)


def _from_api(buckets: dict) -> dict[str, int]:
    return {name.removesuffix("_cents"): value for name, value in buckets.items()}


def _nonzero(figures: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {currency: values for currency, values in figures.items() if any(values.values())}


def slack_figures(text: str) -> dict[str, dict[str, int]]:
    """The per-currency lines of the Slack text, read back into minor units ("USD: Payments $1.00 · …")."""
    found: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Z]{3}): (.*)$", line)
        if not match or match.group(1) not in CURRENCIES:
            continue
        currency, values = match.group(1), dict.fromkeys((*NAMES, "net"), 0)
        for part in match.group(2).split(" · "):
            label = next((name for name in LABELS_LONGEST_FIRST if part.startswith(f"{name} ")), None)
            if label is not None:  # "Disputes won back -$1.00", "Net 1,234 JPY"; not "Avg transaction …"
                amount = part[len(label) + 1 :].removesuffix(f" {currency}")
                values[SLACK_LABELS[label]] = _parse_money(amount, currency)
        found[currency] = values
    return found


def _parse_money(text: str, currency: str) -> int:
    negative = text.startswith("-")
    digits = text.lstrip("-").removeprefix("$").replace(",", "")
    value = to_minor_units(Decimal(digits), currency)
    return -value if negative else value


def _summary_figures(row) -> dict[str, dict[str, int]]:
    return {
        currency: {name: money.get(f"{name}_cents", 0) for name in (*NAMES, "net")}
        for currency, money in row.by_currency.items()
    }


def _day_surfaces(client, day: date, entities: dict[str, Entity]) -> dict[str, dict[str, dict[str, int]]]:
    as_of = day_start(day + timedelta(days=1)) - timedelta(microseconds=1)
    totals = client.get("/api/v1/revenue/totals", {"as_of": as_of.isoformat()}).json()
    trends = client.get(
        "/api/v1/revenue/trends", {"granularity": "daily", "start": day.isoformat(), "end": day.isoformat()}
    ).json()
    digest = summary_compute(cadence="daily", day=day)[0]
    slack = summary_text(summary_payload(digest=digest, entity_rows=[], amendments=[]))
    bridge: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys((*NAMES, "net"), 0))
    for entity in entities.values():
        for currency, t in reconciliation_totals(entity=entity, start=day, end=day).items():
            for name in NAMES:
                bridge[currency][name] += getattr(t.ledger_buckets, f"{name}_cents")
            bridge[currency]["net"] += t.ledger_net_cents
    return {
        "api totals": {row["currency"]: _from_api(row["buckets"]) for row in totals["periods"]["today"]["by_currency"]},
        "api trends": {s["currency"]: _from_api(s["points"][0]["buckets"]) for s in trends["series"]},
        "daily summary": _summary_figures(digest),
        "slack text": slack_figures(slack),
        "reconciliation": dict(bridge),
    }


def _month_surfaces(staff_client, day: date) -> dict[str, dict[str, dict[str, int]]]:
    month = summary_compute(cadence="monthly", day=day)[0]
    chart: dict[str, dict[str, int]] = {}
    with time_machine.travel(datetime.combine(day, time(12), tzinfo=CHICAGO), tick=False):
        for currency in CURRENCIES:
            body = staff_client.get(reverse("dashboard:chart-monthly"), {"range": 30, "currency": currency}).json()
            index = body["labels"].index(f"{day:%b %Y}")
            data = {dataset["label"]: dataset["data"][index] for dataset in body["datasets"]}
            chart[currency] = {
                "payments": data["Payments"],
                "refunds": data["Refunds"],
                "disputes": data["Disputes"],
                "fees": data["Fees"],
                "net": data["Net"],
            }
    summary = {
        currency: {name: values[name] for name in ("payments", "refunds", "disputes", "fees", "net")}
        for currency, values in _summary_figures(month).items()
    }
    return {"dashboard monthly chart": chart, "monthly summary": summary}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(movements, min_size=1, max_size=25), day_index=st.integers(min_value=0, max_value=DAYS))
def test_every_surface_shows_the_same_buckets_as_raw_sql(rows, day_index, api, staff_client, entities):  # noqa: F811
    day = FIRST_DAY + timedelta(days=day_index)
    with transaction.atomic():
        _book(rows, entities)
        expected_day = _nonzero(sql_buckets(day, day))
        for surface, figures in _day_surfaces(api, day, entities).items():
            assert _nonzero(figures) == expected_day, surface
        month_first = day.replace(day=1)
        month_last = date(2026, 3, 31)
        expected_month = sql_buckets(month_first, month_last)
        for surface, figures in _month_surfaces(staff_client, day).items():
            for currency in CURRENCIES:
                want = {
                    name: expected_month.get(currency, {}).get(name, 0)
                    for name in ("payments", "refunds", "disputes", "fees", "net")
                }
                assert figures.get(currency, dict.fromkeys(want, 0)) == want, (surface, currency)
        transaction.set_rollback(True)

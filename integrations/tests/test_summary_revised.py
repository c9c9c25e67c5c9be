# ruff: noqa: F811  (pytest fixtures imported from summary_fixtures are used as arguments)
"""A summary already sent whose period changes is revised: a Slack reply in the first message's
thread (Web API) and the Notion page updated; through slack_sdk and notion-client against real
local HTTP servers (issue 17)."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta

import pytest
from werkzeug import Request, Response

from integrations.models import Delivery
from revenue.models import RevenueEvent
from revenue.selectors import effective_date
from revenue.services import revenue_event_reverse_by_user
from summaries.services import summaries_revise

from .summary_fixtures import (  # noqa: F401  (fixtures)
    DAILY_TITLE,
    MORNING,
    day_of_revenue,
    notion,
    run,
    sweep,
    tick,
)

pytestmark = pytest.mark.django_db


class FakeSlackApi:
    """Slack's chat.postMessage: records each message and answers its ts."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self._ts = (f"1773050400.{n:06d}" for n in itertools.count(1))

    def __call__(self, request: Request) -> Response:
        assert request.headers["Authorization"] == "Bearer xoxb-test-token"
        body = json.loads(request.get_data()) if request.is_json else request.form.to_dict()
        body["ts"] = next(self._ts)
        self.messages.append(body)
        return Response(json.dumps({"ok": True, "channel": body["channel"], "ts": body["ts"]}), 200)

    def starting(self, prefix: str) -> list[dict]:
        return [m for m in self.messages if m["text"].startswith(prefix)]


@pytest.fixture
def slack_api(httpserver, settings) -> FakeSlackApi:
    fake = FakeSlackApi()
    settings.SLACK_WEBHOOK_URL = ""
    settings.SLACK_BOT_TOKEN = "xoxb-test-token"
    settings.SLACK_CHANNEL = "C0REVENUE"
    settings.SLACK_API_URL = httpserver.url_for("/api/")
    httpserver.expect_request("/api/chat.postMessage", method="POST").respond_with_handler(fake)
    return fake


def test_a_correction_in_a_sent_period_revises_it_in_the_slack_thread_and_the_notion_page(
    day_of_revenue, slack_api, notion, tick, time_machine, staff_user
):
    tick()
    [daily] = slack_api.starting(DAILY_TITLE)
    [weekly] = slack_api.starting("💰 Weekly Revenue Summary")
    assert "thread_ts" not in daily and daily["channel"] == "C0REVENUE"
    assert Delivery.objects.get(channel="slack", message__topic="summary.daily").external_id == daily["ts"]

    later = MORNING + timedelta(hours=3)
    time_machine.move_to(later, tick=False)
    po = RevenueEvent.objects.get(provider="manual")
    reversal = revenue_event_reverse_by_user(event=po, reason="PO cancelled", actor=staff_user)
    assert effective_date(reversal) == date(2026, 3, 8)

    tick(later + timedelta(minutes=15))
    revised_daily = slack_api.starting("Revised: Daily Revenue Summary (2026-03-08)")
    revised_weekly = slack_api.starting("Revised: Weekly Revenue Summary")
    assert len(revised_daily) == 1 and len(revised_weekly) == 1
    assert revised_daily[0]["thread_ts"] == daily["ts"]
    assert revised_weekly[0]["thread_ts"] == weekly["ts"]
    text = revised_daily[0]["text"]
    assert "Legacy Unchained Inc: net was $8,320.00, now $8,000.00 (-$320.00, +1 row)" in text
    assert "Total: $20,450.00" in text
    assert "A+ Enterprise" not in text.split("Corrections")[0]  # only what moved is listed as a change

    page = next(
        p
        for p in notion.pages.values()
        if p["properties"]["Summary key"]["rich_text"][0]["text"]["content"] == "daily:2026-03-08"
    )
    assert page["properties"]["Net"] == {"number": 20450.0}

    tick(later + timedelta(minutes=30))  # the same rows revise a period once
    assert len(slack_api.starting("Revised:")) == 2


def test_a_late_row_for_a_period_not_yet_sent_revises_nothing(day_of_revenue, slack_api, tick, time_machine):
    tick()
    before = len(slack_api.messages)
    time_machine.move_to(MORNING + timedelta(hours=1), tick=False)
    revenue_event_reverse_by_user(event=RevenueEvent.objects.get(provider="manual"), reason="x")
    # March's monthly summary is not sent before April: nothing to revise there, and the daily
    # and weekly revisions go out once.
    tick(MORNING + timedelta(hours=1, minutes=15))
    assert len(slack_api.messages) == before + 2
    assert not slack_api.starting("Revised: Monthly")


def test_a_tick_after_the_revision_checks_the_sent_periods_in_a_few_queries(
    day_of_revenue, slack_api, tick, time_machine, django_assert_max_num_queries
):
    tick()
    later = MORNING + timedelta(hours=3)
    time_machine.move_to(later, tick=False)
    revenue_event_reverse_by_user(event=RevenueEvent.objects.get(provider="manual"), reason="PO cancelled")
    tick(later + timedelta(minutes=15))
    assert len(slack_api.starting("Revised:")) == 2

    # The late row is still in the look-back: each cadence is compared with what was sent in one
    # aggregation, and no period is locked or recomputed (every tick did so before; under a fast
    # clock the worker fell behind the beat).
    time_machine.move_to(later + timedelta(minutes=30), tick=False)
    with django_assert_max_num_queries(5):
        assert summaries_revise() == []

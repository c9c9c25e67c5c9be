"""Fixtures for summary delivery tests: a day of ledger rows, a frozen morning, and local receivers.

The receivers are pytest-httpserver handlers (a real HTTP server on loopback)
that behave like Slack's incoming webhook and Notion's API, so the real
slack_sdk and notion-client talk to them.
"""

from __future__ import annotations

import json
import re
from collections import deque
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from werkzeug import Request, Response

from integrations.tasks import outbox_sweep
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry
from summaries.tasks import summaries_tick

CHICAGO = ZoneInfo("America/Chicago")
# Monday 2026-03-09 06:00 CDT, the morning after the 23-hour day: daily (Mar 8), weekly
# (Mar 2-8) and, on a fresh installation, the latest month (February) are due.
MORNING = datetime(2026, 3, 9, 11, 0, tzinfo=UTC)
DAILY_TITLE = "💰 Daily Revenue Summary (2026-03-08)"
DAILY_KEY = "daily:2026-03-08"

EXPECTED_DAILY_TEXT = """💰 Daily Revenue Summary (2026-03-08)

A+ Enterprise LLC: $12,450.00 (last Sun $0.00, new) · week to date $12,450.00 · month to date $12,450.00
Legacy Unchained Inc: $8,320.00 (last Sun $0.00, new) · week to date $8,320.00 · month to date $8,320.00
Total: $20,770.00 (last Sun $0.00, new) · week to date $20,770.00 · month to date $20,770.00

Open alerts: none

Events: 6 (Stripe: 3, Gumroad: 2, Manual: 1)

USD: Payments $20,870.00 · Refunds -$100.00 · Gumroad fees not yet known · Net $20,770.00 · Avg transaction $4,174.00 (5 payments)

As of 2026-03-09 06:00 CDT (America/Chicago)"""


@pytest.fixture
def day_of_revenue(entities):
    """The specification's example amounts, booked on the 23-hour day 2026-03-08."""
    rows = [
        ("aplus-enterprise", "stripe", "payment", 1200000, 1),
        ("aplus-enterprise", "stripe", "payment", 50000, 4),
        ("aplus-enterprise", "gumroad", "payment", 5000, 9),
        ("aplus-enterprise", "stripe", "refund", -10000, 16),
        ("legacy-unchained", "gumroad", "payment", 800000, 0),
        ("legacy-unchained", "manual", "payment", 32000, 23),
    ]
    for slug, provider, kind, amount, hour in rows:
        at = datetime(2026, 3, 8, hour, 30, tzinfo=CHICAGO)
        revenue_event_record(
            entry=ledger_entry(amount_cents=amount, occurred_at=at, provider=provider, kind=kind),
            entity=entities[slug],
        )


@pytest.fixture
def run(time_machine, django_capture_on_commit_callbacks):
    """run(task, at) runs a Celery task eagerly at a frozen instant, with on-commit delivery."""

    def _run(task, at: datetime, **kwargs):
        time_machine.move_to(at, tick=False)
        with django_capture_on_commit_callbacks(execute=True):
            return task.apply(kwargs=kwargs).get()

    return _run


@pytest.fixture
def tick(run):
    return lambda at=MORNING: run(summaries_tick, at)


@pytest.fixture
def sweep(run):
    return lambda at: run(outbox_sweep, at)


class FakeSlack:
    """Slack's incoming webhook: answers from a script for the daily digest, 200 'ok' otherwise."""

    def __init__(self):
        self.daily_script: deque[tuple[int, dict]] = deque()
        self.posts: list[dict] = []

    def __call__(self, request: Request) -> Response:
        body = json.loads(request.get_data())
        self.posts.append(body)
        if body.get("text", "").startswith(DAILY_TITLE) and self.daily_script:
            status, headers = self.daily_script.popleft()
            return Response("rate_limited" if status == 429 else "error", status=status, headers=headers)
        return Response("ok", status=200)

    def titled(self, title: str) -> list[dict]:
        return [post for post in self.posts if post.get("text", "").startswith(title)]


@pytest.fixture
def slack(httpserver, settings) -> FakeSlack:
    fake = FakeSlack()
    settings.SLACK_WEBHOOK_URL = httpserver.url_for("/services/T000/B000/s3cr3tT0ken")
    httpserver.expect_request("/services/T000/B000/s3cr3tT0ken", method="POST").respond_with_handler(fake)
    return fake


class FakeNotion:
    """Notion's API for one database: query by "Summary key", create and update pages.

    `fail_next_create` makes the next create store the page and then answer 500,
    as when Notion did the work but the answer was lost. `script` answers the
    requests about the daily summary (DAILY_KEY) with scripted errors, in order.
    """

    def __init__(self, database_id: str):
        self.database_id = database_id
        self.pages: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.fail_next_create: tuple[int, dict] | None = None
        self.script: deque[tuple[int, dict]] = deque()

    def _key(self, properties: dict) -> str:
        return properties["Summary key"]["rich_text"][0]["text"]["content"]

    def __call__(self, request: Request) -> Response:
        body = json.loads(request.get_data() or b"{}")
        self.requests.append((request.method, request.path, dict(request.headers), body))
        if self.script and DAILY_KEY in json.dumps(body):
            status, headers = self.script.popleft()
            code = {429: "rate_limited", 410: "object_not_found"}.get(status, "internal_server_error")
            return _json({"object": "error", "status": status, "code": code, "message": "scripted"}, status, headers)
        if request.path == f"/v1/databases/{self.database_id}/query":
            wanted = body["filter"]["rich_text"]["equals"]
            found = [page for page in self.pages.values() if self._key(page["properties"]) == wanted]
            return _json({"object": "list", "results": found[:1], "has_more": False, "next_cursor": None})
        if request.path == "/v1/pages" and request.method == "POST":
            page = {"object": "page", "id": f"page-{len(self.pages) + 1}", "properties": body["properties"]}
            self.pages[page["id"]] = page
            if self.fail_next_create and DAILY_KEY in json.dumps(body):
                status, headers = self.fail_next_create
                self.fail_next_create = None
                return _json(
                    {"object": "error", "status": status, "code": "internal_server_error", "message": "lost"},
                    status,
                    headers,
                )
            return _json(page)
        if request.path.startswith("/v1/pages/") and request.method == "PATCH":
            page = self.pages[request.path.rsplit("/", 1)[1]]
            page["properties"] = body["properties"]
            return _json(page)
        return _json({"object": "error", "status": 400, "code": "invalid_request_url", "message": "?"}, 400)

    def calls(self, method: str, path_prefix: str) -> list[dict]:
        return [body for m, path, _, body in self.requests if m == method and path.startswith(path_prefix)]


def _json(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json")


@pytest.fixture
def notion(httpserver, settings) -> FakeNotion:
    fake = FakeNotion("d9824bdc84454327be8b5b47500af6ce")
    settings.NOTION_API_KEY = "secret_notion_test"
    settings.NOTION_DATABASE_ID = fake.database_id
    settings.NOTION_BASE_URL = httpserver.url_for("/").rstrip("/")
    httpserver.expect_request(re.compile(r"^/v1/pages(/[^/]+)?$")).respond_with_handler(fake)
    httpserver.expect_request(f"/v1/databases/{fake.database_id}/query", method="POST").respond_with_handler(fake)
    return fake


def later(at: datetime, **delta) -> datetime:
    return at + timedelta(**delta)

# ruff: noqa: F811  (pytest fixtures imported from summary_fixtures are used as arguments)
"""The optional AI insight through the official openai client, against a real local HTTP server."""

import json

import pytest
from django.core.cache import cache

from .summary_fixtures import (  # noqa: F401  (fixtures)
    DAILY_TITLE,
    EXPECTED_DAILY_TEXT,
    day_of_revenue,
    run,
    slack,
    tick,
)

pytestmark = pytest.mark.django_db

COMPLETION = {
    "id": "chatcmpl-test",
    "object": "chat.completion",
    "created": 1773050400,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "A+ Enterprise carried the day.\n\nRefunds were small."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def openai_server(httpserver, settings):
    settings.OPENAI_API_KEY = "sk-test-not-a-real-key"
    settings.OPENAI_BASE_URL = httpserver.url_for("/v1")
    return httpserver


def _completion_requests(server) -> list:
    return [request for request, _ in server.log if request.path == "/v1/chat/completions"]


def test_insight_joins_the_digest_when_allowed(day_of_revenue, slack, openai_server, tick, settings):
    settings.SAFE_MODE = False
    openai_server.expect_request("/v1/chat/completions", method="POST").respond_with_json(COMPLETION)
    tick()
    [post] = slack.titled(DAILY_TITLE)
    assert "Insight: A+ Enterprise carried the day. Refunds were small." in post["text"]
    assert any("_Insight:_ A+ Enterprise carried the day." in b.get("text", {}).get("text", "") for b in post["blocks"])
    requests = _completion_requests(openai_server)
    daily_request = next(
        r for r in requests if '"label": "2026-03-08"' in json.loads(r.get_data())["messages"][1]["content"]
    )
    sent = json.loads(daily_request.get_data())
    assert sent["model"] == settings.OPENAI_MODEL
    assert daily_request.headers["Authorization"] == "Bearer sk-test-not-a-real-key"
    assert "@" not in sent["messages"][1]["content"]  # aggregates only, no customers
    assert len(requests) == 3  # one per digest, shared by every formatting of it


def test_safe_mode_sends_nothing_to_the_ai_provider(day_of_revenue, slack, openai_server, tick, settings):
    settings.SAFE_MODE = True
    openai_server.expect_request("/v1/chat/completions", method="POST").respond_with_json(COMPLETION)
    tick()
    assert slack.titled(DAILY_TITLE)[0]["text"] == EXPECTED_DAILY_TEXT
    assert _completion_requests(openai_server) == []


def test_a_failing_ai_provider_never_fails_the_digest(day_of_revenue, slack, openai_server, tick, settings):
    settings.SAFE_MODE = False
    openai_server.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        {"error": {"message": "overloaded", "type": "server_error"}}, status=500
    )
    tick()
    assert slack.titled(DAILY_TITLE)[0]["text"] == EXPECTED_DAILY_TEXT
    assert len(_completion_requests(openai_server)) == 3  # one attempt per digest, then cached as unavailable

"""Slack content for `summary.*` outbox messages: Block Kit plus the plain-text fallback.

The fallback (`text`) is the specification's example layout; the blocks show the
same facts with a header, per-entity totals, events by provider and the
per-currency breakdown.
"""

from __future__ import annotations

from django.conf import settings

from ..openai_insight import summary_insight
from ..summary_text import (
    alert_lines,
    amendment_lines,
    as_of_line,
    breakdown_lines,
    entity_lines,
    events_line,
    forecast_lines,
    rate_lines,
    revision_lines,
    summary_text,
    title,
)
from .channel import slack_formatter

SECTION_LIMIT = 2900  # Slack refuses section text over 3000 characters


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(text: str, path: str) -> str:
    """A figure linked to its rows in the back office (SITE_URL set), else the escaped text."""
    return f"<{settings.SITE_URL}{path}|{_escape(text)}>" if settings.SITE_URL else _escape(text)


def _section(lines: list[str], *, escaped: bool = False) -> dict:
    text = "\n".join(line if escaped else _escape(line) for line in lines)
    if len(text) > SECTION_LIMIT:
        text = text[:SECTION_LIMIT] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def summary_blocks(payload: dict, *, insight: str | None = None) -> list[dict]:
    reporting = payload["reporting_currency"]
    total = payload["total"]
    entities = entity_lines(payload, link=_link, escape=_escape)
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(payload)[:150], "emoji": True}},
        _section([*entities[:-1], f"*{entities[-1]}*"], escaped=True),
    ]
    alerts = alert_lines(payload, link=_link)
    if alerts:
        blocks.append(_section(alerts, escaped=True))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(events_line(total))}]})
    details = breakdown_lines(total) + rate_lines(total, reporting)
    if details:
        blocks.append(_section(details))
    forecast = forecast_lines(payload)
    if forecast:
        blocks.append(_section(forecast))
    amendments = amendment_lines(payload)
    if amendments:
        blocks.append({"type": "divider"})
        blocks.append(_section(amendments))
    if insight:
        blocks.append(_section([f"_Insight:_ {insight}"]))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(as_of_line(payload))}]})
    return blocks


@slack_formatter("summary.")
def summary_slack_message(payload: dict) -> dict:
    insight = summary_insight(payload)
    # The fallback text is parsed like mrkdwn: entity names and the insight are escaped as in the blocks.
    text = _escape(summary_text(payload, insight=insight))
    return {"text": text, "blocks": summary_blocks(payload, insight=insight)}


@slack_formatter("summary.revised.")
def revised_summary_slack_message(payload: dict) -> dict:
    """A summary whose period changed after it was sent: what moved, then the figures as they are now,
    as a reply in the first message's thread where the channel can thread (the Web API)."""
    changes = revision_lines(payload)
    totals = {**payload, "morning": None}  # the period's figures now, not a morning view
    entities = entity_lines(totals, link=_link, escape=_escape)
    blocks = [
        _section([f"*{_escape(changes[0])}*", *(_escape(line) for line in changes[1:])], escaped=True),
        _section([*entities[:-1], f"*{entities[-1]}*"], escaped=True),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(as_of_line(payload))}]},
    ]
    text = _escape("\n".join([*changes, *entity_lines(totals)]))
    return {
        "text": text,
        "blocks": blocks,
        "thread_of": {
            "topic": f"summary.{payload['period']}",
            "payload": {"period": payload["period"], "start_date": payload["start_date"]},
        },
    }

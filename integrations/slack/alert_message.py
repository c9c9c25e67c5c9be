"""Slack content for `alert.*` outbox messages: warning and critical go to Slack, info does not.

Block Kit with a plain-text fallback (`text`, what notifications and old clients show).
Amounts in metadata (`*_cents` with a `currency`) are formatted per currency, so
reconciliation alerts raised elsewhere read as well as the detectors' own.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from alerts.models import RevenueAlert
from revenue.business_time import business_zone
from revenue.money import CurrencyError, format_money

from .channel import slack_formatter

SEVERITY_STYLE = {
    RevenueAlert.Severity.CRITICAL: (":rotating_light:", "Critical"),
    RevenueAlert.Severity.WARNING: (":warning:", "Warning"),
}
# Metadata that is plumbing, not a fact worth a field.
HIDDEN_KEYS = {"where", "rule_id", "baseline_days", "event_ids", "scope", "currency"}
MAX_FIELDS = 8


def _escape(text: str) -> str:
    """Slack's three control characters, so mentions and links in data arrive as text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _type_label(alert_type: str) -> str:
    try:
        return RevenueAlert.AlertType(alert_type).label
    except ValueError:
        return alert_type.replace("_", " ").capitalize()


def _label(key: str) -> str:
    for suffix in ("_cents", "_at"):
        if key.endswith(suffix):
            key = key[: -len(suffix)]
    return key.replace("_", " ").capitalize()


def _value(key: str, value, currency: str | None) -> str:
    if key.endswith("_cents") and isinstance(value, int) and not isinstance(value, bool) and currency:
        try:
            return format_money(value, currency)
        except CurrencyError:
            return str(value)
    if key.endswith("_at") and isinstance(value, str):
        try:
            return datetime.fromisoformat(value).astimezone(business_zone()).strftime("%Y-%m-%d %H:%M %Z")
        except ValueError:
            return value
    if key.endswith("percent"):
        return f"{value}%"
    return str(value)


def _facts(payload: dict) -> list[tuple[str, str]]:
    metadata = payload.get("metadata") or {}
    currency = metadata.get("currency")
    facts = [("Severity", str(payload.get("severity", "")).capitalize()), ("Type", _type_label(payload["alert_type"]))]
    if payload.get("entity_name") or payload.get("entity"):
        facts.append(("Entity", payload.get("entity_name") or payload["entity"]))
    for key, value in metadata.items():
        if len(facts) >= MAX_FIELDS:
            break
        if key in HIDDEN_KEYS or value is None or isinstance(value, dict | list):
            continue
        facts.append((_label(key), _value(key, value, currency)))
    return facts


def _admin_link(payload: dict) -> str | None:
    try:
        path = reverse("admin:alerts_revenuealert_change", args=[payload["id"]])
    except (NoReverseMatch, KeyError):
        return None
    return f"{settings.SITE_URL}{path}" if settings.SITE_URL else None


@slack_formatter("alert.")
def alert_slack_message(payload: dict) -> dict | None:
    style = SEVERITY_STYLE.get(payload.get("severity"))
    if style is None:  # info alerts stay in the admin
        return None
    emoji, severity = style
    type_label = _type_label(payload["alert_type"])
    message = payload.get("message", "")
    # The fallback text is rendered as mrkdwn too: escaped like the blocks, so `<!channel>` stays inert.
    text = f"{emoji} {severity} alert ({_escape(type_label)}): {_escape(message)}"
    where = (payload.get("metadata") or {}).get("where")
    context = []
    if where:
        context.append(f"*Where to look:* {_escape(str(where))}")
    link = _admin_link(payload)
    if link:
        context.append(f"<{link}|Open the alert in admin> to acknowledge, resolve or dismiss it")
    else:
        context.append("Acknowledge, resolve or dismiss it in Admin > Alerts > Revenue alerts")
    blocks = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"{emoji} {severity}: {type_label}"[:150], "emoji": True},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": _escape(message)[:3000]}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{_escape(k)}*\n{_escape(v)}"[:2000]} for k, v in _facts(payload)],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": part} for part in context]},
    ]
    return {"text": text[:3000], "blocks": blocks}

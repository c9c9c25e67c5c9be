"""Notion channel: one page per summary in NOTION_DATABASE_ID, through the official notion-client.

The page is found again by its unique "Summary key" property (or the page id
kept in Delivery.external_id), so a retry or a redelivery updates the page
instead of adding a second one. The database needs these properties:
Name (title), Summary key (text), Period (select), Start (date), End (date),
Net (number), Events (number), Net exact (text), As of (date).
"""

from __future__ import annotations

from decimal import Decimal

import httpx
from django.conf import settings
from notion_client import Client
from notion_client.errors import HTTPResponseError, RequestTimeoutError

from revenue.models import OutboxMessage
from revenue.money import from_minor_units

from .channels import Channel, PermanentDeliveryError, RetryableDeliveryError, TargetGoneError, channel_register
from .models import Delivery
from .openai_insight import summary_insight
from .summary_text import amount_line, summary_text, title

# Pinned: the request and response shapes below are those of this version.
NOTION_VERSION = "2022-06-28"
TOPIC_PREFIX = "summary."
TEXT_LIMIT = 2000  # Notion's limit for one rich_text item


def summary_key(payload: dict) -> str:
    return f"{payload['period']}:{payload['start_date']}"


def _client() -> Client:
    return Client(
        auth=settings.NOTION_API_KEY,
        base_url=settings.NOTION_BASE_URL.rstrip("/"),
        notion_version=NOTION_VERSION,
        timeout_ms=int(settings.OUTBOUND_HTTP_TIMEOUT_SECONDS * 1000),
    )


def _text(content: str) -> list[dict]:
    return [{"type": "text", "text": {"content": content[:TEXT_LIMIT]}}]


def _number(amount_minor: int, currency: str) -> float:
    # Notion's number property is a JSON number; the exact amount is in "Net exact".
    return float(from_minor_units(amount_minor, currency).quantize(Decimal("0.0001")))


def page_properties(payload: dict) -> dict:
    total = payload["total"]
    return {
        "Name": {"title": _text(title(payload))},
        "Summary key": {"rich_text": _text(summary_key(payload))},
        "Period": {"select": {"name": payload["period"]}},
        "Start": {"date": {"start": payload["start_date"]}},
        "End": {"date": {"start": payload["end_date"]}},
        "Net": {"number": _number(total["total_amount_cents"], payload["reporting_currency"])},
        "Events": {"number": total["event_count"]},
        "Net exact": {"rich_text": _text(amount_line(total, payload["reporting_currency"]))},
        "As of": {"date": {"start": payload["as_of"]}},
    }


def page_children(payload: dict, *, insight: str | None) -> list[dict]:
    return [
        {"object": "block", "type": "paragraph", "paragraph": {"rich_text": _text(paragraph)}}
        for paragraph in summary_text(payload, insight=insight).split("\n\n")
    ]


def _classify(exc: Exception) -> Exception:
    """Map a notion-client or httpx failure onto the delivery outcomes."""
    if isinstance(exc, HTTPResponseError):
        status, body = exc.status, exc.body[:2000]
        if status == 429:
            retry_after = exc.headers.get("Retry-After")
            try:
                seconds = float(retry_after) if retry_after else None
            except ValueError:
                seconds = None
            return RetryableDeliveryError(
                "Notion rate limit", retry_after=seconds, status_code=status, response_body=body
            )
        if status == 410:
            return TargetGoneError("Notion answered 410 Gone", status_code=status, response_body=body)
        if status >= 500 or status == 409:
            return RetryableDeliveryError(f"Notion answered {status}", status_code=status, response_body=body)
        return PermanentDeliveryError(
            f"Notion refused the page ({status}): {exc}", status_code=status, response_body=body
        )
    if isinstance(exc, RequestTimeoutError | httpx.HTTPError):
        return RetryableDeliveryError(f"Notion unreachable: {exc.__class__.__name__}: {exc}")
    return exc


def notion_targets(message: OutboxMessage) -> list[str]:
    if not (settings.NOTION_API_KEY and settings.NOTION_DATABASE_ID) or not message.topic.startswith(TOPIC_PREFIX):
        return []
    return [settings.NOTION_DATABASE_ID]


def notion_send(delivery: Delivery) -> str:
    """Create the summary's page, or update it when it already exists. Returns the page id."""
    payload = delivery.message.payload
    properties = page_properties(payload)
    client = _client()
    try:
        page_id = delivery.external_id
        if not page_id:
            found = client.databases.query(
                database_id=delivery.target,
                filter={"property": "Summary key", "rich_text": {"equals": summary_key(payload)}},
                page_size=1,
            )
            page_id = found["results"][0]["id"] if found.get("results") else ""
        if page_id:
            client.pages.update(page_id=page_id, properties=properties)
            return page_id
        page = client.pages.create(
            parent={"database_id": delivery.target},
            properties=properties,
            children=page_children(payload, insight=summary_insight(payload)),
        )
        return page["id"]
    except (HTTPResponseError, RequestTimeoutError, httpx.HTTPError) as exc:
        raise _classify(exc) from exc
    finally:
        client.close()


channel_register(Channel(name=Delivery.Channel.NOTION, targets=notion_targets, send=notion_send))

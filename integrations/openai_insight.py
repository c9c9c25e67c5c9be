"""An optional one-paragraph AI reading of a digest, through the official openai client.

Only when OPENAI_API_KEY is set AND SAFE_MODE is off (SAFE_MODE means no
financial data goes to an AI provider). Only aggregates are sent: entity
names, totals and counts, never customers. It never blocks or fails a digest:
one attempt with a short timeout, any error means no insight. The answer (or
the failure) is cached per summary so Slack and Notion share one call.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

CACHE_SECONDS = 24 * 3600
FAILURE_CACHE_SECONDS = 15 * 60
MAX_CHARACTERS = 700

INSTRUCTIONS = (
    "You are a finance analyst. In one short paragraph (at most three sentences), point out what stands out "
    "in this revenue summary: movement between entities or providers, refunds, disputes. Amounts are integer "
    "minor units of the stated currency; never add different currencies together. Do not invent numbers."
)


def insight_enabled() -> bool:
    return bool(settings.OPENAI_API_KEY) and not settings.SAFE_MODE


def _facts(payload: dict) -> dict:
    """The aggregates the model may see."""
    keep = ("event_count", "payment_count", "by_currency", "by_provider", "by_kind", "unconverted_event_count")
    return {
        "period": payload["period"],
        "label": payload["label"],
        "total": {key: payload["total"].get(key) for key in keep},
        "entities": [
            {"name": entity["name"], **{key: entity.get(key) for key in keep}} for entity in payload["entities"]
        ],
        "amendments": payload.get("amendments", []),
    }


def summary_insight(payload: dict) -> str | None:
    if not insight_enabled():
        return None
    key = f"summaries:insight:{payload['summary_id']}"
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    from openai import OpenAI

    try:
        client = OpenAI(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL,
            timeout=settings.OUTBOUND_HTTP_TIMEOUT_SECONDS,
            max_retries=0,
        )
        response = client.chat.completions.create(
            model=settings.OPENAI_MODEL,
            messages=[
                {"role": "system", "content": INSTRUCTIONS},
                {"role": "user", "content": json.dumps(_facts(payload), sort_keys=True)},
            ],
            max_tokens=200,
        )
        text = " ".join((response.choices[0].message.content or "").split())[:MAX_CHARACTERS]
    except Exception:  # the digest goes out without an insight
        logger.warning("AI insight for summary %s unavailable", payload["summary_id"], exc_info=True)
        cache.set(key, "", FAILURE_CACHE_SECONDS)
        return None
    cache.set(key, text, CACHE_SECONDS)
    return text or None

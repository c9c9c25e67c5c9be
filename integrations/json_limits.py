"""The one JSON reader for bodies from outside (webhooks, the API): limits, and a sentence for every refusal.

Python's parser recurses: a body nested a few thousand levels deep raises RecursionError,
which no caller expects (a 5xx). PostgreSQL text and jsonb cannot hold U+0000. Both are
refused here as `JSONRefused` (a ValueError) with a message a person can act on.
"""

from __future__ import annotations

import json

from django.conf import settings


class JSONRefused(ValueError):
    """The body is not JSON we accept; str(exc) says why."""


def json_loads_limited(text: str | bytes, *, max_depth: int | None = None, **kwargs) -> object:
    """json.loads with a nesting limit (JSON_MAX_DEPTH) and no NUL character in any key or string."""
    limit = max_depth or settings.JSON_MAX_DEPTH
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JSONRefused(f"the JSON is nested more than {limit} levels deep") from None
    except UnicodeDecodeError:
        raise JSONRefused("the body is not UTF-8 text") from None
    except ValueError as exc:
        raise JSONRefused(f"the body is not valid JSON ({exc})") from None
    json_check(value, max_depth=limit)
    return value


def json_check(value: object, *, max_depth: int | None = None) -> None:
    """Refuse a parsed document nested deeper than `max_depth` or holding a NUL character."""
    limit = max_depth or settings.JSON_MAX_DEPTH
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise JSONRefused("the JSON contains a NUL character (\\u0000), which cannot be stored")
        elif isinstance(item, dict | list):
            if depth > limit:
                raise JSONRefused(f"the JSON is nested more than {limit} levels deep")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)

"""ASGI fast path: POST /webhooks/stripe and /webhooks/gumroad are answered on the event loop.

A delivery needs none of sessions, CSRF, auth, messages, axes or URL resolution,
and those cost more CPU than verifying and storing it. On the event loop a
delivery also holds no thread: it awaits its group commit, so a burst is
limited by PostgreSQL and the CPU, not by a thread pool. Everything else,
including other methods on these paths, goes to the wrapped app (Django); the
server's lifespan events are answered here.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from django.conf import settings

from .group_commit import group_commit
from .intake import KEPT_HEADERS, Answer, Inbound, gumroad_intake_async, stripe_intake_async

ASGIApp = Callable[[dict, Callable, Callable], Awaitable[None]]

_ROUTES: dict[str, Callable[[Inbound], Awaitable[Answer]]] = {
    "/webhooks/stripe": stripe_intake_async,
    "/webhooks/gumroad": gumroad_intake_async,
}
_KEPT = {name.lower().encode("latin-1"): name for name in KEPT_HEADERS}


class _Disconnected(Exception):
    pass


async def _read_body(receive: Callable, limit: int) -> bytes:
    """The request body, stopping once it is past `limit` (the intake answers 413 for that)."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _inbound(scope: dict, receive: Callable) -> Inbound:
    headers = {}
    for name, value in scope["headers"]:
        canonical = _KEPT.get(name)
        if canonical is not None:
            headers[canonical] = value.decode("latin-1")
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    declared = headers.get("Content-Length", "")
    refused_unread = declared and not (declared.isdigit() and int(declared) <= limit)  # the intake says why
    body = b"" if refused_unread else await _read_body(receive, limit)
    query = scope.get("query_string", b"").decode("latin-1")
    return Inbound(
        read=lambda size: body[:size],
        headers=headers,
        token=parse_qs(query).get("token", [""])[-1] if query else "",
    )


async def _lifespan(receive: Callable, send: Callable) -> None:
    """Server start and stop; on stop, the group commit's writer closes its connection."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await group_commit.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


class WebhookFastPath:
    """ASGI middleware answering the webhook routes with the shared intake; `app` serves the rest."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send)
        intake = _ROUTES.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if intake is None:
            return await self.app(scope, receive, send)
        try:
            inbound = await _inbound(scope, receive)
        except _Disconnected:  # the sender gave up before the body arrived: nothing to store or answer
            return None
        answer = await intake(inbound)
        body = json.dumps(answer.payload).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return None

"""WSGI fast path: POST /webhooks/stripe and /webhooks/gumroad skip Django's request stack.

A delivery needs none of sessions, CSRF, auth, messages, axes or URL resolution,
and those cost more CPU than verifying and storing it; under load that is the
difference between keeping up with a provider's burst and not. Everything else,
including other methods on these paths, goes to Django unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from http import HTTPStatus
from urllib.parse import parse_qs

from .intake import Answer, Inbound, gumroad_intake, stripe_intake

_ROUTES: dict[str, Callable[[Inbound], Answer]] = {
    "/webhooks/stripe": stripe_intake,
    "/webhooks/gumroad": gumroad_intake,
}

_ENVIRON_HEADERS = {
    "Content-Type": "CONTENT_TYPE",
    "Content-Length": "CONTENT_LENGTH",
    "User-Agent": "HTTP_USER_AGENT",
    "Stripe-Signature": "HTTP_STRIPE_SIGNATURE",
}


def _inbound(environ: dict) -> Inbound:
    stream = environ["wsgi.input"]
    query = environ.get("QUERY_STRING", "")
    return Inbound(
        read=stream.read,
        headers={name: environ[key] for name, key in _ENVIRON_HEADERS.items() if environ.get(key)},
        token=parse_qs(query).get("token", [""])[-1] if query else "",
    )


class WebhookFastPath:
    """WSGI middleware answering the webhook routes with the shared intake; Django serves the rest."""

    def __init__(self, django_app: Callable):
        self.django_app = django_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        intake = _ROUTES.get(environ.get("PATH_INFO", ""))
        if intake is None or environ.get("REQUEST_METHOD") != "POST":
            return self.django_app(environ, start_response)
        answer = intake(_inbound(environ))
        body = json.dumps(answer.payload).encode()
        status = HTTPStatus(answer.status)
        start_response(
            f"{status.value} {status.phrase}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

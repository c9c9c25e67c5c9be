"""POST /webhooks/stripe and /webhooks/gumroad through Django (test client, runserver).

Thin adapters over `intake`; under gunicorn the ASGI fast path (`.asgi`) answers
these two routes before Django's middleware stack, with the same intake.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .intake import KEPT_HEADERS, Answer, Inbound, gumroad_intake, stripe_intake


def _inbound(request: HttpRequest) -> Inbound:
    return Inbound(
        read=request.read,
        headers={name: request.headers[name] for name in KEPT_HEADERS if name in request.headers},
        token=request.GET.get("token", ""),
    )


def _respond(answer: Answer) -> JsonResponse:
    return JsonResponse(answer.payload, status=answer.status)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    return _respond(stripe_intake(_inbound(request)))


@csrf_exempt
@require_POST
def gumroad_webhook(request: HttpRequest) -> JsonResponse:
    return _respond(gumroad_intake(_inbound(request)))

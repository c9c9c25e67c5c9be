"""Project-level views: health."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure to answer is "down"
        return f"down: {exc.__class__.__name__}"


def _broker_status() -> str:
    if not settings.CELERY_BROKER_URL:
        return "inline (no broker configured)"
    from branchberg.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        return f"down: {exc.__class__.__name__}"


@require_GET
def health(request):
    database = _database_status()
    body = {"database": database, "broker": _broker_status()}
    body["status"] = "ok" if database == "ok" else "degraded"
    return JsonResponse(body, status=200 if database == "ok" else 503)

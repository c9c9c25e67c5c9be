"""Project-level views: health, and the "What each number means" page (docs/numbers.md)."""

from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET
from markdown_it import MarkdownIt

NUMBERS_PAGE = settings.BASE_DIR / "docs" / "numbers.md"


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


@lru_cache(maxsize=1)
def _numbers_html() -> str:
    """docs/numbers.md as HTML: CommonMark with tables, raw HTML in the file escaped (html=False)."""
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(NUMBERS_PAGE.read_text(encoding="utf-8"))


@require_GET
def numbers(request):
    """What each number means: the money buckets, with one worked example. No figures of ours: public."""
    # The HTML comes from our own Markdown file, rendered with raw HTML disabled.
    return render(request, "docs/numbers.html", {"body": mark_safe(_numbers_html())})  # noqa: S308

"""Upload size limit, enforced from the request headers before a byte of the body is read."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat

# Multipart framing and the other form fields (CSRF token, format, entity) around the file.
FORM_OVERHEAD_BYTES = 64 * 1024


def upload_limit_message(size_bytes: int | None = None) -> str:
    limit = filesizeformat(settings.IMPORT_MAX_UPLOAD_BYTES)
    size = f" is {filesizeformat(size_bytes)}:" if size_bytes is not None else " is too large:"
    text = (
        f"The upload{size} files up to {limit} can be imported here. "
        "Split the file into smaller files (each keeps its header row) and import them one after another; "
        "rows already imported are skipped."
    )
    return text.replace("\xa0", " ")  # filesizeformat's no-break spaces: this is plain text too


class UploadLimitMiddleware:
    """Refuse a multipart POST whose Content-Length is above IMPORT_MAX_UPLOAD_BYTES (plus the form's framing).

    A person in the back office is sent back to the form with the reason; anyone else gets 413.
    A multipart POST without a Content-Length (chunked) is refused with 411: its size cannot be
    known before reading it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.content_type == "multipart/form-data":
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        raw = request.META.get("CONTENT_LENGTH") or ""
        if not raw.isascii() or not raw.isdigit():
            return HttpResponse(
                "An upload must say its size (Content-Length); send the file from the import form.",
                status=411,
                content_type="text/plain; charset=utf-8",
            )
        length = int(raw)
        if length <= settings.IMPORT_MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES:
            return None
        text = upload_limit_message(length)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff and hasattr(request, "_messages"):
            messages.error(request, text)
            response = HttpResponseRedirect(request.get_full_path())
            response.status_code = 303
        else:
            response = HttpResponse(text, status=413, content_type="text/plain; charset=utf-8")
        return response

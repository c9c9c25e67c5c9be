"""An accountant file as an HTTP download, for the admin page and the API alike."""

from __future__ import annotations

from django.http import HttpResponse, StreamingHttpResponse

from revenue.business_time import business_zone

from .services import AccountantFile


def file_response(file: AccountantFile) -> HttpResponse | StreamingHttpResponse:
    """The file as an attachment, streamed when its content is a stream (the ledger detail CSV)."""
    if isinstance(file.content, bytes):
        response: HttpResponse | StreamingHttpResponse = HttpResponse(file.content, content_type=file.content_type)
    else:
        response = StreamingHttpResponse(file.content, content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    response["X-Business-Time-Zone"] = str(business_zone())
    return response

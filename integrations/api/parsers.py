"""The API's JSON parser: the body size and nesting limits of `integrations.json_limits`, as 4xx answers."""

from __future__ import annotations

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from ..json_limits import JSONRefused, json_loads_limited


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


class LimitedJSONParser(JSONParser):
    """JSON bodies up to API_MAX_BODY_BYTES and JSON_MAX_DEPTH levels; anything else is a 400/413 with a reason."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise BodyTooLarge(f"The body is larger than {limit} bytes.")
        try:
            return json_loads_limited(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise ParseError("The body is not UTF-8 text.") from None
        except JSONRefused as exc:
            raise ParseError(f"JSON parse error: {exc}.") from None

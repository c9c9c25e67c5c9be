"""Logging filters for the web process."""

from __future__ import annotations

import logging
import re

# Query parameters that carry a secret: Gumroad's ping URL holds the webhook token.
_SECRET_QUERY_VALUE = re.compile(r"(?<=[?&])(token|key|secret|api_key|password)=[^&\s\"]*", re.IGNORECASE)


def secrets_redacted(text: str) -> str:
    """`text` with the values of secret-bearing query parameters replaced."""
    return _SECRET_QUERY_VALUE.sub(r"\1=[redacted]", text)


class QuerySecretsRedacted(logging.Filter):
    """Keeps query-string secrets out of access logs (uvicorn passes the path as a format argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(secrets_redacted(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.msg, str):
            record.msg = secrets_redacted(record.msg)
        return True

"""Logging filters for the web process, and the access log's queue."""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
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


class _RecordAsIs(logging.handlers.QueueHandler):
    """Queues the record unformatted: uvicorn's access formatter needs its arguments (the queue is
    in-process, so nothing has to be pickled), and formatting is the listener's work."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def access_log_off_the_hot_path(logger: logging.Logger) -> logging.handlers.QueueListener | None:
    """Move `logger`'s handlers behind a queue and a listener thread: a request appends the record to
    the queue and goes on; the thread formats and writes it. Filters on the logger still run first
    (in the request), so redaction happens before anything is queued. Returns the listener (stopped
    at exit, which flushes what is queued), or None when the logger has no handlers (no access log)."""
    handlers = list(logger.handlers)
    if not handlers:
        return None
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(records, *handlers, respect_handler_level=True)
    for handler in handlers:
        logger.removeHandler(handler)
    logger.addHandler(_RecordAsIs(records))
    listener.start()
    atexit.register(listener.stop)
    return listener

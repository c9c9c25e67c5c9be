"""Logging filters for the web process, and the access log's queue."""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import re
import threading

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


class _AccessLogWriter(threading.Thread):
    """Every INTERVAL seconds, takes what the requests queued, formats it and writes it: a stream's
    lines in one write. Nobody waits on the queue, so a request's put wakes no thread; a thread woken
    per record (logging's QueueListener) cost the event loop the GIL at every request."""

    INTERVAL = 0.05

    def __init__(self, records: queue.SimpleQueue[logging.LogRecord], handlers: list[logging.Handler]) -> None:
        super().__init__(name="access-log", daemon=True)
        self.records, self.handlers, self.stopping = records, handlers, threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.INTERVAL):
            self.write_queued()
        self.write_queued()

    def stop(self) -> None:
        """Write what is queued and end the thread (at exit)."""
        if self.is_alive():
            self.stopping.set()
            self.join()

    def write_queued(self) -> None:
        batch: list[logging.LogRecord] = []
        while True:
            try:
                batch.append(self.records.get_nowait())
            except queue.Empty:
                break
        for handler in self.handlers:
            if isinstance(handler, logging.StreamHandler):
                lines = [handler.format(r) + handler.terminator for r in batch if self._takes(handler, r)]
                if lines:
                    with handler.lock:
                        handler.stream.write("".join(lines))
                        handler.flush()
            else:
                for record in batch:
                    if record.levelno >= handler.level:
                        handler.handle(record)

    @staticmethod
    def _takes(handler: logging.Handler, record: logging.LogRecord) -> bool:
        return record.levelno >= handler.level and bool(handler.filter(record))


def access_log_off_the_hot_path(logger: logging.Logger) -> _AccessLogWriter | None:
    """Move `logger`'s handlers behind a queue and a writer thread: a request appends the record to
    the queue and goes on; the thread formats and writes what is queued every 50 ms. (With a
    thread woken per record, logging's QueueListener, the access log cost ~19% of intake throughput
    at ~4,000 deliveries/s; now ~8%: bench/bench_access_log.py, docs/ingestion.md.) Filters on the logger still run first (in the
    request), so redaction happens before anything is queued. Returns the writer (stopped at exit,
    which writes what is queued), or None when the logger has no handlers (no access log)."""
    handlers = list(logger.handlers)
    if not handlers:
        return None
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    writer = _AccessLogWriter(records, handlers)
    for handler in handlers:
        logger.removeHandler(handler)
    logger.addHandler(_RecordAsIs(records))
    writer.start()
    atexit.register(writer.stop)
    return writer

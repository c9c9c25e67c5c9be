"""The web process's access log (real gunicorn + uvicorn workers) never shows a webhook token."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

import pytest
import requests

from branchberg.log_filters import QuerySecretsRedacted
from integrations.tests import webhook_helpers as h

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_the_gumroad_token_is_redacted_in_the_access_log(start_gunicorn, tmp_path, seeded_entities):
    base_url = start_gunicorn(
        workers=1,
        GUNICORN_CMD_ARGS="--access-logfile -",
        GUMROAD_WEBHOOK_SECRET=h.GUMROAD_SECRET,
        GUMROAD_SELLER_ID=h.GUMROAD_SELLER,
        WEBHOOK_PROCESSING="inline",
    )
    query = urlencode({"token": h.GUMROAD_SECRET, "other": "kept"})
    response = requests.post(f"{base_url}/webhooks/gumroad?{query}", data=h.gumroad_ping(), timeout=30)
    assert response.status_code == 200
    log_path = tmp_path / f"gunicorn-{base_url.rsplit(':', 1)[1]}.log"
    deadline = time.monotonic() + 10  # the access log is written by a writer thread, within 50 ms of the answer
    while "POST /webhooks/gumroad" not in log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = log_path.read_text()
    assert "POST /webhooks/gumroad?token=[redacted]&other=kept" in log
    assert h.GUMROAD_SECRET not in log


def test_the_filter_redacts_format_arguments_and_plain_messages():
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "POST", "/webhooks/gumroad?a=1&Token=s3cret&key=k", "1.1", 200), None,
    )  # fmt: skip
    assert QuerySecretsRedacted().filter(record) is True
    assert (
        record.getMessage() == '1.2.3.4:5 - "POST /webhooks/gumroad?a=1&Token=[redacted]&key=[redacted] HTTP/1.1" 200'
    )
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "GET /x?password=p&tokens=t", None, None)
    QuerySecretsRedacted().filter(plain)
    assert plain.getMessage() == "GET /x?password=[redacted]&tokens=t"


def test_the_access_log_is_written_by_a_writer_thread_with_uvicorns_formatter(tmp_path):
    """The request thread only queues the record; the writer formats it with the handler's own
    formatter (uvicorn's needs the record's arguments) and writes it, redacted."""
    import atexit
    import threading

    from uvicorn.logging import AccessFormatter

    from branchberg.log_filters import access_log_off_the_hot_path

    logger = logging.getLogger("test.access.queued")
    logger.propagate = False
    written: list[tuple[str, str]] = []

    class Recording(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            written.append((threading.current_thread().name, self.format(record)))

    handler = Recording()
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False))
    logger.addHandler(handler)
    logger.addFilter(QuerySecretsRedacted())
    listener = access_log_off_the_hot_path(logger)
    assert listener is not None and handler not in logger.handlers
    logger.info('%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "POST", "/webhooks/gumroad?token=s3cret", "1.1", 200)
    atexit.unregister(listener.stop)  # stopped here, not again at exit
    listener.stop()
    assert written == [
        (written[0][0], '1.2.3.4:5 - "POST /webhooks/gumroad?token=[redacted] HTTP/1.1" 200 OK'),
    ]
    assert written[0][0] != threading.current_thread().name


def test_a_burst_of_access_lines_is_written_in_a_few_writes_and_none_is_lost():
    """Lines queued between two passes of the writer go out in one write; stopping writes the rest."""
    import atexit
    import io

    from uvicorn.logging import AccessFormatter

    from branchberg.log_filters import access_log_off_the_hot_path

    class CountingStream(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            CountingStream.writes += 1
            return super().write(text)

    stream = CountingStream()
    logger = logging.getLogger("test.access.burst")
    logger.propagate = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AccessFormatter('"%(request_line)s" %(status_code)s', use_colors=False))
    logger.addHandler(handler)
    logger.addFilter(QuerySecretsRedacted())
    writer = access_log_off_the_hot_path(logger)
    assert writer is not None
    for n in range(2000):
        logger.info('%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "POST", f"/webhooks/gumroad?token=t{n}", "1.1", 200)
    atexit.unregister(writer.stop)
    writer.stop()
    lines = stream.getvalue().splitlines()
    assert lines == ['"POST /webhooks/gumroad?token=[redacted] HTTP/1.1" 200 OK' for _ in range(2000)]
    assert CountingStream.writes < 100, CountingStream.writes

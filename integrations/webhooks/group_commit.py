"""Group commit for the intake: concurrent deliveries in one process share one INSERT and one commit.

Request threads hand their verified delivery to one writer thread and wait until
it is committed; the writer takes everything queued since its last commit. There
is no timer: a lone delivery commits at once, and under load batches grow by
themselves, so PostgreSQL flushes its log once per batch instead of once per
delivery. A request is answered only after its own row is durable, and a failure
reaches every waiter of that batch (each answers 503 and the provider retries).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from concurrent.futures import Future

from django.conf import settings
from django.db import connection

from ..services.ingest import NewDelivery, inbound_deliveries_store

logger = logging.getLogger(__name__)

MAX_BATCH = 256


class GroupCommit:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[NewDelivery, Future]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer_pid: int | None = None

    def store(self, delivery: NewDelivery) -> tuple[int | None, bool]:
        """Durably store `delivery` (see `inbound_deliveries_store`), waiting for its batch's commit."""
        self._ensure_writer()
        done: Future = Future()
        self._queue.put((delivery, done))
        return done.result(timeout=settings.WEBHOOK_STORE_TIMEOUT_SECONDS)

    def _ensure_writer(self) -> None:
        if self._writer_pid == os.getpid():
            return
        with self._lock:  # a fork (gunicorn worker) inherits the object but not the thread
            if self._writer_pid != os.getpid():
                threading.Thread(target=self._write_forever, name="webhook-group-commit", daemon=True).start()
                self._writer_pid = os.getpid()

    def _write_forever(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            pending = [(delivery, done) for delivery, done in batch if done.set_running_or_notify_cancel()]
            try:
                results = inbound_deliveries_store([delivery for delivery, _ in pending])
            except Exception as exc:  # every waiter answers 503; the writer carries on with a new connection
                logger.warning("group commit of %d deliveries failed: %s", len(pending), exc)
                connection.close()
                for _, done in pending:
                    done.set_exception(exc)
                continue
            for (_, done), result in zip(pending, results, strict=True):
                done.set_result(result)


group_commit = GroupCommit()

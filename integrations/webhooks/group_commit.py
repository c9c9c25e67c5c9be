"""Group commit for the intake: concurrent deliveries in one process share one INSERT and one commit.

Request threads hand their verified delivery to one writer thread and wait until
it is committed; the writer takes everything queued since its last commit. There
is no timer: a lone delivery commits at once, and under load batches grow by
themselves, so PostgreSQL flushes its log once per batch instead of once per
delivery. A request is answered only after its own row is durable, and a failure
reaches every waiter of that batch (each answers 503 and the provider retries).
"""

from __future__ import annotations

import _thread
import logging
import os
import queue
import threading

from django.conf import settings
from django.db import connection

from ..services.ingest import INFRASTRUCTURE_ERRORS, NewDelivery, inbound_deliveries_store

logger = logging.getLogger(__name__)

MAX_BATCH = 256


class _Waiter:
    """One request's hand-off: a held lock the writer releases once the outcome is set
    (cheaper than a Future, which matters at thousands of deliveries a second)."""

    __slots__ = ("_done", "delivery", "error", "outcome")

    def __init__(self, delivery: NewDelivery):
        self.delivery = delivery
        self.outcome: tuple[int | None, bool] | None = None
        self.error: Exception | None = None
        self._done = _thread.allocate_lock()
        self._done.acquire()

    def finish(self, outcome: tuple[int | None, bool] | None = None, error: Exception | None = None) -> None:
        self.outcome, self.error = outcome, error
        self._done.release()

    def wait(self, timeout: float) -> tuple[int | None, bool]:
        if not self._done.acquire(timeout=timeout):
            raise TimeoutError(f"the delivery was not committed within {timeout} s")
        if self.error is not None:
            raise self.error
        return self.outcome


class GroupCommit:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Waiter] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer_pid: int | None = None

    def store(self, delivery: NewDelivery) -> tuple[int | None, bool]:
        """Durably store `delivery` (see `inbound_deliveries_store`), waiting for its batch's commit."""
        self._ensure_writer()
        waiter = _Waiter(delivery)
        self._queue.put(waiter)
        return waiter.wait(settings.WEBHOOK_STORE_TIMEOUT_SECONDS)

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
            try:
                outcomes = _store([waiter.delivery for waiter in batch])
            except Exception as exc:  # every waiter answers 503; the writer carries on with a new connection
                logger.warning("group commit of %d deliveries failed: %s", len(batch), exc)
                connection.close()
                for waiter in batch:
                    waiter.finish(error=exc)
                continue
            for waiter, outcome in zip(batch, outcomes, strict=True):
                waiter.finish(outcome)


def _store(deliveries: list[NewDelivery]) -> list[tuple[int | None, bool]]:
    try:
        return inbound_deliveries_store(deliveries)
    except INFRASTRUCTURE_ERRORS:
        # A connection the server dropped while the writer idled fails once; the INSERT is
        # idempotent (ON CONFLICT DO NOTHING), so one retry on a fresh connection is safe.
        connection.close()
        return inbound_deliveries_store(deliveries)


group_commit = GroupCommit()

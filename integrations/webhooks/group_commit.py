"""Group commit for the ASGI intake: deliveries in flight together share one INSERT and one commit.

One writer task per event loop owns an async psycopg connection in autocommit. A
request queues its verified delivery and awaits the commit; the writer takes
everything queued since its last commit, and while it awaits PostgreSQL the loop
keeps accepting deliveries, which form the next batch. There is no timer: a lone
delivery commits at once, and under load batches grow by themselves, so PostgreSQL
flushes its log once per batch instead of once per delivery. A request is answered
only after its own row is durable, and a failure reaches every waiter of that batch
(each answers 503 and the provider retries). No thread is involved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg
from django.conf import settings
from django.db import connection

from ..services.ingest import NewDelivery, inbound_deliveries_store_async

logger = logging.getLogger(__name__)

MAX_BATCH = 256

Outcome = tuple[int | None, bool]


class GroupCommit:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[NewDelivery, asyncio.Future[Outcome]]] | None = None
        self._writer: asyncio.Task | None = None
        self._conn: psycopg.AsyncConnection | None = None

    async def store(self, delivery: NewDelivery) -> Outcome:
        """Durably store `delivery` (see `inbound_deliveries_store`), awaiting its batch's commit."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # first use in this process (or a new loop, in tests)
            self._loop, self._queue, self._conn = loop, asyncio.Queue(), None
            self._writer = loop.create_task(self._write_forever(self._queue), name="webhook-group-commit")
        future = loop.create_future()
        self._queue.put_nowait((delivery, future))
        timeout = settings.WEBHOOK_STORE_TIMEOUT_SECONDS
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise TimeoutError(f"the delivery was not committed within {timeout} s") from None

    async def close(self) -> None:
        """Stop the writer and close its connection (the server's shutdown, after in-flight requests)."""
        if self._writer is not None and self._loop is asyncio.get_running_loop():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            await self._discard_connection()
        self._loop = self._queue = self._writer = None

    async def _write_forever(self, queue: asyncio.Queue) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                # A hung server or network must not stall the writer: past the timeout the batch fails
                # (its waiters have answered 503 by then) and the next one starts on a new connection.
                async with asyncio.timeout(settings.WEBHOOK_STORE_TIMEOUT_SECONDS):
                    outcomes = await self._store([delivery for delivery, _ in batch])
            except Exception as exc:  # every waiter answers 503
                logger.warning("group commit of %d deliveries failed: %r", len(batch), exc)
                await self._discard_connection()
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():  # else its request timed out and already answered 503
                    future.set_result(outcome)

    async def _store(self, deliveries: list[NewDelivery]) -> list[Outcome]:
        try:
            return await self._insert(deliveries)
        except psycopg.OperationalError:
            # A connection the server dropped while the writer idled fails once; the INSERT is
            # idempotent (ON CONFLICT DO NOTHING), so one retry on a fresh connection is safe.
            await self._discard_connection()
        except Exception:
            await self._discard_connection()
            raise
        try:
            return await self._insert(deliveries)
        except Exception:
            await self._discard_connection()
            raise

    async def _insert(self, deliveries: list[NewDelivery]) -> list[Outcome]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(**_connection_params(), autocommit=True)
        return await inbound_deliveries_store_async(self._conn, deliveries)

    async def _discard_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None


def _connection_params() -> dict:
    """Django's own settings for the default database (host, TLS, connect timeout), minus its cursor class."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    return params


group_commit = GroupCommit()

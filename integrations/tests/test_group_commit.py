"""The intake's group commit: many deliveries in flight, one INSERT and one commit per batch, each answered."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.db import connection

from integrations.models import InboundDelivery
from integrations.services.ingest import NewDelivery, inbound_deliveries_store
from integrations.webhooks.group_commit import GroupCommit

pytestmark = pytest.mark.django_db(transaction=True)


def delivery(event_id: str) -> NewDelivery:
    return NewDelivery("stripe", event_id, "charge.succeeded", json.dumps({"id": event_id}), {"Content-Type": "x"})


def store_all(writer: GroupCommit, event_ids: list[str]) -> list:
    """Store concurrently on one event loop, as the ASGI intake does; each result or exception, in order."""

    async def main():
        try:
            return await asyncio.gather(*(writer.store(delivery(e)) for e in event_ids), return_exceptions=True)
        finally:
            await writer.close()

    return asyncio.run(main())


def test_a_batch_stores_each_new_delivery_once_and_reports_repeats():
    first = inbound_deliveries_store([delivery("evt_a"), delivery("evt_b"), delivery("evt_a")])
    assert [created for _, created in first] == [True, True, False]
    assert first[2][0] is None and first[0][0] != first[1][0]
    again = inbound_deliveries_store([delivery("evt_b"), delivery("evt_c")])
    assert [created for _, created in again] == [False, True]
    stored = InboundDelivery.objects.order_by("event_id")
    assert [row.event_id for row in stored] == ["evt_a", "evt_b", "evt_c"]
    assert stored[0].headers == {"Content-Type": "x"} and stored[0].raw_body == json.dumps({"id": "evt_a"})


def test_deliveries_in_flight_share_commits_and_each_gets_its_own_answer():
    ids = [f"evt_{n % 150}" for n in range(300)]  # every event arrives twice
    results = store_all(GroupCommit(), ids)
    assert sum(created for _, created in results) == 150
    assert InboundDelivery.objects.count() == 150
    created_ids = {pk for pk, created in results if created}
    assert created_ids == set(InboundDelivery.objects.values_list("pk", flat=True))
    # One batch is one statement with one timestamp: 300 deliveries took far fewer commits.
    batches = InboundDelivery.objects.values("received_at").distinct().count()
    assert batches < 20, batches


def test_a_failed_commit_reaches_every_waiter_and_the_writer_recovers():
    writer = GroupCommit()
    with connection.cursor() as cursor:  # an unusable table makes the INSERT fail
        cursor.execute("ALTER TABLE integrations_inbounddelivery RENAME TO inbound_away")
    try:
        results = store_all(writer, [f"evt_x{n}" for n in range(8)])
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE inbound_away RENAME TO integrations_inbounddelivery")
    assert all(isinstance(result, Exception) for result in results), results
    assert store_all(writer, ["evt_after"]) == [(InboundDelivery.objects.get().pk, True)]


def test_a_connection_dropped_while_idle_costs_no_delivery():
    writer = GroupCommit()
    connection.ensure_connection()
    ours = connection.connection.info.backend_pid

    async def main():
        assert (await writer.store(delivery("evt_before")))[1] is True
        await asyncio.to_thread(terminate_sessions_except, ours)
        assert (await writer.store(delivery("evt_after")))[1] is True
        await writer.close()

    asyncio.run(main())
    assert InboundDelivery.objects.count() == 2


def terminate_sessions_except(ours: int) -> None:
    """What the server does to the writer's session on an idle timeout or a failover."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid NOT IN (pg_backend_pid(), %s) AND backend_type = 'client backend'",
            [ours],
        )


def test_a_commit_slower_than_the_timeout_answers_503_and_the_writer_starts_afresh(settings):
    """A hung database (here: a lock) fails the batch at the timeout instead of stalling every later
    delivery; the provider's retry is then stored, exactly once."""
    settings.WEBHOOK_STORE_TIMEOUT_SECONDS = 0.5
    writer = GroupCommit()

    async def main():
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        async with await psycopg.AsyncConnection.connect(**params) as blocker:
            await blocker.execute("LOCK TABLE integrations_inbounddelivery IN EXCLUSIVE MODE")
            with pytest.raises(TimeoutError):
                await writer.store(delivery("evt_slow"))
            await asyncio.sleep(0.3)  # the writer gives up on its batch and drops that connection
            with pytest.raises(TimeoutError):
                await writer.store(delivery("evt_still_locked"))
        retry = await writer.store(delivery("evt_slow"))
        repeat = await writer.store(delivery("evt_slow"))
        await writer.close()
        return retry, repeat

    retry, repeat = asyncio.run(main())
    assert retry[1] is True and repeat == (None, False)
    assert InboundDelivery.objects.filter(event_id="evt_slow").count() == 1

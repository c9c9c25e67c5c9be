"""The intake's group commit: many threads, one INSERT and one commit per batch, each row answered."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from integrations.models import InboundDelivery
from integrations.services.ingest import NewDelivery, inbound_deliveries_store
from integrations.webhooks.group_commit import GroupCommit

pytestmark = pytest.mark.django_db(transaction=True)


def delivery(event_id: str) -> NewDelivery:
    return NewDelivery("stripe", event_id, "charge.succeeded", json.dumps({"id": event_id}), {"Content-Type": "x"})


def test_a_batch_stores_each_new_delivery_once_and_reports_repeats():
    first = inbound_deliveries_store([delivery("evt_a"), delivery("evt_b"), delivery("evt_a")])
    assert [created for _, created in first] == [True, True, False]
    assert first[2][0] is None and first[0][0] != first[1][0]
    again = inbound_deliveries_store([delivery("evt_b"), delivery("evt_c")])
    assert [created for _, created in again] == [False, True]
    stored = InboundDelivery.objects.order_by("event_id")
    assert [row.event_id for row in stored] == ["evt_a", "evt_b", "evt_c"]
    assert stored[0].headers == {"Content-Type": "x"} and stored[0].raw_body == json.dumps({"id": "evt_a"})


def test_concurrent_threads_share_commits_and_each_gets_its_own_answer():
    writer = GroupCommit()
    ids = [f"evt_{n % 150}" for n in range(300)]  # every event arrives twice
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda event_id: writer.store(delivery(event_id)), ids))
    assert sum(created for _, created in results) == 150
    assert InboundDelivery.objects.count() == 150
    created_ids = {pk for pk, created in results if created}
    assert created_ids == set(InboundDelivery.objects.values_list("pk", flat=True))


def test_a_failed_commit_reaches_every_waiter_and_the_writer_recovers():
    writer = GroupCommit()
    with connection.cursor() as cursor:  # an unusable table makes the INSERT fail
        cursor.execute("ALTER TABLE integrations_inbounddelivery RENAME TO inbound_away")
    try:
        errors = []

        def attempt(event_id):
            try:
                writer.store(delivery(event_id))
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=attempt, args=(f"evt_x{n}",)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(errors) == 8
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE inbound_away RENAME TO integrations_inbounddelivery")
    assert writer.store(delivery("evt_after")) == (InboundDelivery.objects.get().pk, True)


def test_a_connection_dropped_while_idle_costs_no_delivery():
    writer = GroupCommit()
    assert writer.store(delivery("evt_before"))[1] is True
    with connection.cursor() as cursor:  # the server drops every other session (idle timeout, failover)
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    assert writer.store(delivery("evt_after"))[1] is True
    assert InboundDelivery.objects.count() == 2

"""Celery workers killed with SIGKILL mid-task, and a poison delivery that kills every worker it meets."""

import signal
import threading
import time

import pytest
from django.utils import timezone

from alerts.models import RevenueAlert
from integrations.models import Delivery
from integrations.tasks import delivery_send, outbox_sweep
from revenue.models import OutboxMessage

from .conftest import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def _alert_message(n: int) -> OutboxMessage:
    payload = {
        "id": f"00000000-0000-0000-0000-{n:012d}",
        "alert_type": "threshold",
        "severity": "critical",
        "message": f"fault-test alert {n}",
        "metadata": {},
        "entity": None,
        "fingerprint": f"fault:{n}",
        "created_at": timezone.now().isoformat(),
    }
    return OutboxMessage.objects.create(topic="alert.raised", payload=payload, dispatched_at=timezone.now())


class SlowReceiver:
    """A Slack-like receiver that holds the first request for each message long enough to kill the worker."""

    def __init__(self, httpserver, *, hold_seconds: float, poison: str = ""):
        self.seen: list[str] = []
        self.in_flight = threading.Event()
        self.hold_seconds = hold_seconds
        self.poison = poison
        httpserver.expect_request("/hook", method="POST").respond_with_handler(self.handle)
        self.url = httpserver.url_for("/hook")

    def handle(self, request):
        from werkzeug import Response

        text = request.get_data(as_text=True)
        if "fault-test alert" not in text:
            return Response("ok", status=200)  # not one of this test's messages
        first_time = not any(text == earlier for earlier in self.seen)
        self.seen.append(text)
        if first_time or (self.poison and self.poison in text):
            self.in_flight.set()
            time.sleep(self.hold_seconds)
        return Response("ok", status=200)

    def count(self, marker: str) -> int:
        return sum(marker in text for text in self.seen)


def _kill(process) -> None:
    process.stop(sig=signal.SIGKILL)


def test_sigkill_mid_task_ten_times_each_delivery_happens_once(httpserver, start_worker, enqueue):
    receiver = SlowReceiver(httpserver, hold_seconds=3)
    env = {"SLACK_WEBHOOK_URL": receiver.url, "DELIVERY_LEASE_SECONDS": "2"}
    deliveries = [
        Delivery.objects.create(message=_alert_message(n), channel="slack", target=receiver.url) for n in range(10)
    ]
    for delivery in deliveries:
        worker = start_worker(name=f"victim{delivery.pk}", **env)
        receiver.in_flight.clear()
        enqueue(delivery_send, delivery.pk)
        assert receiver.in_flight.wait(timeout=60), worker.log()
        _kill(worker)  # mid-send: the receiver is still holding the request
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (Delivery.Status.PENDING, 1), worker.log()[-3000:]

    time.sleep(2.5)  # the killed workers' leases expire
    start_worker(name="survivor", concurrency=2, **env)
    enqueue(outbox_sweep, 0)
    wait_until(
        lambda: not Delivery.objects.exclude(status=Delivery.Status.SENT).exists(),
        timeout=120,
        what="every delivery to be sent after the kills",
    )
    for delivery in Delivery.objects.all():
        assert delivery.attempts == 2  # the killed attempt and the one that completed
        assert delivery.sent_at is not None
    # The receiver saw each message at least once; the webhook log records it sent exactly once.
    for n in range(10):
        assert receiver.count(f"fault-test alert {n}") >= 1


def test_a_poison_delivery_stops_after_bounded_attempts_and_others_continue(
    httpserver, start_worker, enqueue, settings
):
    receiver = SlowReceiver(httpserver, hold_seconds=3, poison="fault-test alert 99")
    env = {"SLACK_WEBHOOK_URL": receiver.url, "DELIVERY_LEASE_SECONDS": "1", "DELIVERY_MAX_ATTEMPTS": "3"}
    settings.DELIVERY_MAX_ATTEMPTS = 3
    poison = Delivery.objects.create(message=_alert_message(99), channel="slack", target=receiver.url)
    for attempt in range(3):
        worker = start_worker(name=f"poisoned{attempt}", **env)
        receiver.in_flight.clear()
        enqueue(delivery_send, poison.pk)
        assert receiver.in_flight.wait(timeout=60), worker.log()
        _kill(worker)  # the poison takes its worker down every time
        time.sleep(1.2)  # lease expires
    poison.refresh_from_db()
    assert poison.attempts == 3

    healthy = [Delivery.objects.create(message=_alert_message(n), channel="slack", target=receiver.url) for n in (1, 2)]
    start_worker(name="after-poison", **env)
    enqueue(delivery_send, poison.pk)  # a fourth try is refused before sending
    for delivery in healthy:
        enqueue(delivery_send, delivery.pk)
    wait_until(
        lambda: Delivery.objects.filter(pk__in=[d.pk for d in healthy], status=Delivery.Status.SENT).count() == 2,
        timeout=90,
        what="the other deliveries to go through",
    )
    wait_until(
        lambda: Delivery.objects.get(pk=poison.pk).status == Delivery.Status.FAILED,
        timeout=30,
        what="the poison delivery to be given up",
    )
    assert receiver.count("fault-test alert 99") == 3  # never a fourth send
    alert = RevenueAlert.objects.get(alert_type="delivery", status="open")
    assert alert.severity == "critical"
    assert "never completed" in alert.message

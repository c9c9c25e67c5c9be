"""A hanging Atlas receiver: deliveries time out and retry in workers; intake is not slowed."""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from integrations.models import Delivery
from integrations.services.subscriptions import subscription_create

from .conftest import wait_until
from .test_ingest_faults import STRIPE_SECRET, _delivery, _post_timed

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_a_hanging_receiver_does_not_slow_intake(httpserver, start_gunicorn, start_worker, settings):
    def hang(request):
        from werkzeug import Response

        time.sleep(5)
        return Response("late", status=200)

    httpserver.expect_request("/atlas").respond_with_handler(hang)
    settings.ATLAS_ALLOW_PRIVATE_TARGETS = True
    subscription_create(url=httpserver.url_for("/atlas"), event_types=["revenue.event.recorded"], created_by=None)
    env = {
        "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
        "ATLAS_ALLOW_PRIVATE_TARGETS": "true",
        "OUTBOUND_HTTP_TIMEOUT_SECONDS": "1",
    }
    base_url = start_gunicorn(workers=2, threads=4, **env)
    start_worker(name="sender", concurrency=2, **env)

    with ThreadPoolExecutor(max_workers=8) as pool:  # warm every gunicorn thread and its connection
        assert set(
            pool.map(lambda body: _post_timed(base_url, body)[0], [_delivery(n, "warm") for n in range(40)])
        ) == {200}
    bodies = [_delivery(n, "hang") for n in range(200)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda body: _post_timed(base_url, body), bodies))
    statuses = [status for status, _ in results]
    latencies = sorted(seconds for _, seconds in results)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"intake while the receiver hangs: p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    assert statuses == [200] * 200
    assert p99 < 0.250

    # Meanwhile the deliveries to the hanging receiver time out and are scheduled again.
    wait_until(
        lambda: Delivery.objects.filter(channel="atlas", status=Delivery.Status.RETRYING, attempts__gte=1).exists(),
        timeout=120,
        what="a timed-out delivery to be scheduled for retry",
    )
    retrying = Delivery.objects.filter(channel="atlas", status=Delivery.Status.RETRYING).first()
    assert "timed out" in retrying.error.lower() or "timeout" in retrying.error.lower(), retrying.error

"""Hand-off without lag: with a real Celery worker behind the ASGI intake, every delivery answered
200 is in the ledger within a second, including those stored inside the kick's debounce interval
(before the trailing kick they waited for the next delivery or the 60 s sweep)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import requests

from integrations.models import InboundDelivery

from . import webhook_helpers as h

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _post(base_url: str, evt: dict) -> datetime:
    body = json.dumps(evt)
    response = requests.post(
        f"{base_url}/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": h.signed(body), "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "received"  # stored; a worker books it
    return datetime.now(UTC)


def test_every_answered_delivery_is_booked_within_a_second(asgi_server, real_celery_worker, seeded_entities, settings):
    settings.WEBHOOK_GROUP_COMMIT = True
    settings.WEBHOOK_PROCESSING = "celery"
    worker = real_celery_worker()
    answered: dict[str, datetime] = {}
    for burst in range(3):
        for i in range(6):  # 6 deliveries 30 ms apart: all but the first land inside the interval
            evt = h.event("charge.succeeded", h.charge(pi=f"pi_handoff_{burst}_{i}", ch=f"ch_handoff_{burst}_{i}"))
            answered[evt["id"]] = _post(asgi_server, evt)
            time.sleep(0.03)
        time.sleep(1.5)  # quiet: nothing else arrives to carry the last deliveries along
    deliveries = InboundDelivery.objects.filter(event_id__in=answered)
    worker.wait_for(
        lambda: deliveries.filter(status="processed").count() == len(answered), "every delivery booked", timeout=30
    )
    lags = {d.event_id: (d.processed_at - answered[d.event_id]).total_seconds() for d in deliveries}
    assert max(lags.values()) < 1.0, sorted(lags.values())

"""Two beats at once never send twice: real threads, real PostgreSQL transactions."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from revenue.models import OutboxMessage
from summaries.models import RevenueSummary
from summaries.services import summaries_send_due

from .conftest import local


@pytest.mark.django_db(transaction=True)
def test_two_beats_at_the_same_moment_send_each_period_once(seeded_entities, record):
    record(12345, local(2026, 3, 8, 12))
    now = datetime(2026, 3, 9, 11, 0, tzinfo=UTC)  # Monday 06:00 CDT: daily, weekly, monthly (Feb) due
    barrier = threading.Barrier(4)
    results, errors = [], []

    def beat():
        try:
            barrier.wait()
            results.append(summaries_send_due(now=now))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(len(sent) for sent in results) == 3
    topics = sorted(OutboxMessage.objects.filter(topic__startswith="summary.").values_list("topic", flat=True))
    assert topics == ["summary.daily", "summary.monthly", "summary.weekly"]
    assert RevenueSummary.objects.filter(entity__isnull=True).count() == 3
    daily = RevenueSummary.objects.get(period="daily", entity__isnull=True)
    assert daily.total_amount_cents == 12345

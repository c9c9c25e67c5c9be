"""Unmatched items older than the window raise one reconciliation alert per entity."""

from __future__ import annotations

from datetime import date

import pytest

from alerts.models import RevenueAlert
from alerts.reconciliation import reconciliation_check, reconciliation_check_task
from revenue.models import OutboxMessage
from revenue.reconciliation.services import bank_statement_import
from revenue.tests.reconciliation_fixtures import CHASE_JUNE, june_scenario

pytestmark = pytest.mark.django_db


def test_stale_unmatched_items_raise_one_alert_per_entity(entities):
    june = june_scenario(entities)
    bank_statement_import(content=CHASE_JUNE.encode(), layout="chase", entity=june["entity"])

    # Jun 19: nothing unmatched is older than Jun 12 (5 business days back)
    assert [a.entity for a in reconciliation_check(today=date(2026, 6, 19))] == []

    (alert,) = reconciliation_check(today=date(2026, 7, 15))
    assert alert.alert_type == "reconciliation" and alert.entity == june["entity"]
    assert alert.message == (
        "A+ Enterprise LLC: 1 expected deposit not in the bank (980.00 USD) and 4 bank deposits with no source "
        "(1,574.50 USD), unmatched for more than 5 business days"
    )
    assert alert.metadata["expected"] == [{"currency": "USD", "amount_cents": 98000, "count": 1}]
    assert OutboxMessage.objects.filter(topic="alert.raised").count() == 1

    (again,) = reconciliation_check(today=date(2026, 7, 16))
    assert again.pk == alert.pk
    again.refresh_from_db()
    assert again.occurrences == 2
    assert RevenueAlert.objects.count() == 1


def test_task_is_registered_and_runs(entities):
    from branchberg.celery import app

    assert "alerts.reconciliation_check" in app.tasks
    assert reconciliation_check_task.delay().get() == 0

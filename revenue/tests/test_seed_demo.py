"""The demo data (scripts/run.sh) is never dated after now, so the dashboard's Today and the API's today agree."""

import io

import pytest
from django.core.management import call_command
from django.db.models import Max
from django.utils import timezone

from revenue.models import RevenueEvent


@pytest.mark.django_db
def test_demo_data_is_never_later_than_now(entities):
    call_command("seed_demo", "--days", "20", stdout=io.StringIO())
    assert RevenueEvent.objects.count() > 50
    assert RevenueEvent.objects.aggregate(latest=Max("occurred_at"))["latest"] <= timezone.now()

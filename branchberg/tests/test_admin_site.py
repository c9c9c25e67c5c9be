"""The back office shows date-times in the business time zone (America/Chicago), on every admin page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib import admin
from django.urls import reverse

from branchberg.admin_site import BackOfficeSite
from integrations.models import InboundDelivery

pytestmark = pytest.mark.django_db


def test_the_default_admin_site_is_the_back_office():
    assert isinstance(admin.site, BackOfficeSite)


def test_a_delivery_received_late_evening_central_shows_on_its_central_day(staff_client):
    # 03:30 UTC on 15 January is 21:30 CST on the 14th: UTC would put it on the wrong business day.
    InboundDelivery.objects.create(
        provider="stripe",
        event_id="evt_evening",
        event_type="charge.succeeded",
        raw_body="{}",
        headers={},
        received_at=datetime(2026, 1, 15, 3, 30, tzinfo=UTC),
    )
    listing = staff_client.get(reverse("admin:integrations_inbounddelivery_changelist")).content.decode()
    assert "Jan. 14, 2026, 9:30 p.m." in listing and "3:30 a.m." not in listing
    drill = staff_client.get(
        reverse("admin:integrations_inbounddelivery_changelist"),
        {"received_at__year": "2026", "received_at__month": "1", "received_at__day": "14"},
    ).content.decode()
    assert "evt_evening" in drill  # the date hierarchy filters by the Central day too

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


def test_admin_home_starts_with_the_money_then_the_menu_in_working_order(admin_client, entities):
    html = admin_client.get("/admin/").content.decode()
    landmarks = [
        'id="bb-money"',
        ">Record payment<",
        ">Import CSV<",
        ">Reconcile<",
        "open alert",
        'id="bb-yesterday"',
        'id="bb-today"',
        ">Ledger<",
        ">Reconciliation<",
        ">Summaries<",
        ">Alerts<",
        ">Integrations<",
        ">Users and groups<",
        '<details class="bb-system">',
    ]
    positions = [html.find(landmark) for landmark in landmarks]
    assert -1 not in positions, [m for m, p in zip(landmarks, positions, strict=True) if p == -1]
    assert positions == sorted(positions)
    menu, system = html[: positions[-1]], html[positions[-1] :]
    # Third-party tables are folded into System (a closed <details>), each named unambiguously.
    for name in (
        "Stripe API keys (dj-stripe mirror)",
        "Periodic tasks (schedules)",
        "Access attempts (login lockouts)",
    ):
        assert name in system
    assert "Atlas API keys" in menu and "Stripe API keys" not in menu and "Periodic tasks" not in menu
    for url in (
        "admin:revenue_revenueevent_record",
        "admin:revenue_revenueevent_import",
        "admin:revenue_bankdeposit_reconciliation",
    ):
        assert f'href="{reverse(url)}"' in html
        assert admin_client.get(reverse(url)).status_code == 200
    # An app's own page still lists its models.
    assert admin_client.get("/admin/revenue/").status_code == 200


def test_staff_without_superuser_see_the_money_and_not_the_system_tables(client, django_user_model):
    from django.contrib.auth.models import Permission

    clerk = django_user_model.objects.create_user("clerk", "clerk@example.com", "pw-clerk-12345", is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_revenueevent", "view_revenuealert", "view_periodictask"])
    )
    client.force_login(clerk)
    html = client.get("/admin/").content.decode()
    assert ">Ledger<" in html and ">Alerts<" in html
    assert "bb-system" not in html and "Periodic tasks" not in html

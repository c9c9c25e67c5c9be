"""Issue 15 item 1: provider times outside the plausible window never reach the ledger, and
every reading surface keeps working whatever date a row already holds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from alerts.models import RevenueAlert
from integrations.models import InboundDelivery
from revenue.business_time import business_today
from revenue.models import RevenueEvent
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry
from summaries.services import summary_compute

from . import webhook_helpers as h
from .api_fixtures import api, read_key  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.hostile, pytest.mark.django_db]


def _failed_with_alert(response, provider: str) -> InboundDelivery:
    assert response.status_code == 200, response.content  # answered: the provider must not retry forever
    assert not RevenueEvent.objects.exists()
    delivery = InboundDelivery.objects.get(provider=provider)
    assert delivery.status == InboundDelivery.Status.FAILED
    alert = RevenueAlert.objects.get(alert_type="ingestion")
    assert delivery.event_id in alert.message
    return delivery


@pytest.mark.parametrize(
    "stamp",
    [
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59-12:00",  # year 10000 in UTC
        "1999-12-31T23:59:59Z",
        "2999-01-01T00:00:00Z",
    ],
)
def test_gumroad_sale_timestamp_outside_the_window_is_kept_failed_with_an_alert(client, stamp):
    delivery = _failed_with_alert(h.post_gumroad(client, h.gumroad_ping(sale_timestamp=stamp)), "gumroad")
    # Refused by the ledger's window, or already by the mapper when the time has no UTC form (year 10000).
    assert "occurred_at" in delivery.error or "outside the range of dates" in delivery.error


def test_gumroad_sale_timestamp_beyond_python_is_a_failed_delivery_not_a_5xx(client):
    _failed_with_alert(h.post_gumroad(client, h.gumroad_ping(sale_timestamp="10000-01-01T00:00:00Z")), "gumroad")


@pytest.mark.parametrize("created", [0, 946_684_799, 32_503_680_000, 10**15])
def test_stripe_created_outside_the_window_is_kept_failed_with_an_alert(client, created):
    charge = h.charge(created=created)
    evt = h.event("charge.succeeded", charge, created=created)
    _failed_with_alert(h.post_stripe(client, evt), "stripe")


def test_stripe_created_in_other_scripts_digits_is_not_a_time(client):
    evt = h.event("charge.succeeded", h.charge(created="١٧٨٠٠٠٠٠٠٠"))
    delivery = _failed_with_alert(h.post_stripe(client, evt), "stripe")
    assert "Unix seconds" in delivery.error


def test_a_time_inside_the_window_is_booked(client):
    response = h.post_gumroad(client, h.gumroad_ping(sale_timestamp="2000-01-01T00:00:00Z"))
    assert response.status_code == 200
    assert RevenueEvent.objects.get().occurred_at == datetime(2000, 1, 1, tzinfo=UTC)


def test_the_database_refuses_an_absurd_time_even_past_the_service():
    event = RevenueEvent.objects.model(
        event_id="manual:db-check",
        provider="manual",
        event_type="manual",
        kind="payment",
        amount_cents=100,
        currency="USD",
        occurred_at=datetime(1900, 1, 1, tzinfo=UTC),
        entity_id=_default_entity_id(),
    )
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError, match="occurred_at_sane"), transaction.atomic():
        event.save(force_insert=True)


# ---------------------------------------------------------------- readers survive anything


def _default_entity_id() -> int:
    from revenue.models import Entity

    return Entity.objects.get(is_default=True).pk


@pytest.fixture
def extreme_rows(entities):
    """Rows at year 1, at the end of year 9999 and in year 10000 (UTC), written past the CHECK as the
    owner would have before it existed (the DDL is rolled back with the test's transaction)."""
    with connection.cursor() as cursor:  # before any insert: ALTER TABLE refuses with trigger events pending
        cursor.execute("ALTER TABLE revenue_events DROP CONSTRAINT revenue_revenueevent_occurred_at_sane")
    revenue_event_record(entry=ledger_entry(event_id="stripe:normal", occurred_at=timezone.now() - timedelta(hours=1)))
    columns = [f.column for f in RevenueEvent._meta.concrete_fields]
    listed = ", ".join(columns)
    for suffix, when in (
        ("year-1", "0001-01-01T00:00:00+00"),
        ("year-9999", "9999-12-31T23:59:59+00"),
        ("year-10000", "10000-01-01T11:59:59+00"),
    ):
        values = ", ".join(
            {"id": "gen_random_uuid()", "event_id": "event_id || %s", "occurred_at": "%s::timestamptz"}.get(c, c)
            for c in columns
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO revenue_events ({listed}) SELECT {values} FROM revenue_events "  # noqa: S608
                "WHERE event_id = 'stripe:normal'",
                [f":{suffix}", when],
            )
    assert RevenueEvent.objects.count() == 4
    return RevenueEvent.objects.all()


def test_api_events_and_export_survive_extreme_rows(api, extreme_rows):  # noqa: F811
    response = api.get("/api/v1/revenue/events", {"limit": 10})
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 4
    export = api.get("/api/v1/revenue/export")
    assert export.status_code == 200
    body = b"".join(export.streaming_content) if export.streaming else export.content
    assert body.count(b"stripe:normal") == 4
    assert api.get("/api/v1/revenue/totals").status_code == 200
    assert api.get("/api/v1/revenue/trends").status_code == 200


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
@pytest.mark.parametrize("path", ["/api/v1/revenue/totals", "/api/v1/revenue/trends", "/api/v1/revenue/export"])
def test_api_date_parameters_at_the_edge_of_the_calendar_are_4xx_or_answered(api, path, day):  # noqa: F811
    for params in ({"start": day}, {"end": day}, {"start": day, "end": day}):
        response = api.get(path, params)
        assert response.status_code < 500, (path, params, response.content[:300])


def test_admin_ledger_survives_extreme_rows(staff_client, extreme_rows):
    changelist = reverse("admin:revenue_revenueevent_changelist")
    response = staff_client.get(changelist)
    assert response.status_code == 200
    assert response.content.count(b"stripe:normal") >= 4
    for year in ("1", "9999"):
        # year 9999's "next year" does not exist: a refused lookup (the list reloads), not a 500
        assert staff_client.get(changelist, {"occurred_at__year": year}, follow=True).status_code == 200
    for event in extreme_rows:
        assert staff_client.get(reverse("admin:revenue_revenueevent_change", args=[event.pk])).status_code == 200
    assert staff_client.get(reverse("admin:index")).status_code == 200


def test_dashboard_and_summaries_survive_extreme_rows(staff_client, extreme_rows):
    assert staff_client.get(reverse("dashboard:index")).status_code == 200
    for name in ("summary", "chart-daily-net", "chart-providers", "chart-monthly", "chart-payouts"):
        response = staff_client.get(reverse(f"dashboard:{name}"))
        assert response.status_code == 200, (name, response.content[:300])
    for cadence in ("daily", "weekly", "monthly"):
        summary_compute(cadence=cadence, day=business_today())
    assert summary_compute(cadence="daily", day=date(2000, 1, 3)) is not None


def test_clamped_values_are_what_readers_see(extreme_rows):
    times = sorted(RevenueEvent.objects.values_list("occurred_at", flat=True))
    assert times[0] == datetime(1, 1, 3, tzinfo=UTC)
    assert times[-1] == times[-2] == datetime(9999, 12, 29, tzinfo=UTC)

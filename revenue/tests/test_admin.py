"""The back office through the real admin pages, as a logged-in staff user."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.urls import reverse

from alerts.models import RevenueAlert
from alerts.services import alert_raise
from revenue.business_time import business_today, day_start
from revenue.duplicates import duplicate_fingerprint
from revenue.models import Entity, LedgerAuditEntry, RevenueEvent
from revenue.services import ManualEntryData, manual_entry_create, revenue_event_record

from .factories import ledger_entry

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
CHANGELIST = "admin:revenue_revenueevent_changelist"


@pytest.fixture
def ledger(entities):
    """A small ledger in three currencies, both entities, several providers."""
    aplus, legacy = entities["aplus-enterprise"], entities["legacy-unchained"]
    rows = [
        ledger_entry(event_id="stripe:pi_usd", amount_cents=123450, customer_email="ada@lovelace.dev"),
        ledger_entry(event_id="stripe:re_usd", kind="refund", amount_cents=-2000, customer_email="ada@lovelace.dev"),
        ledger_entry(event_id="gumroad:sale_jpy", provider="gumroad", amount_cents=5000, currency="JPY"),
        ledger_entry(event_id="manual:kwd", provider="manual", amount_cents=1234, currency="KWD", reference="PO-KWD-1"),
    ]
    events = [revenue_event_record(entry=rows[0], entity=aplus).event]
    events += [revenue_event_record(entry=row, entity=legacy).event for row in rows[1:]]
    return events


def test_ledger_list_formats_money_in_its_currency_and_shows_business_time(staff_client, ledger):
    response = staff_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    for text in ["1,234.50 USD", "-20.00 USD", "5,000 JPY", "1.234 KWD", "Occurred (Chicago time)"]:
        assert text in html
    # 2026-06-01 15:00 UTC is 10:00 CDT.
    assert "2026-06-01 10:00 CDT" in html
    assert "Record offline payment" in html and "Import" in html
    assert "Add revenue event" not in html


def test_ledger_list_query_count_is_bounded(staff_client, entities, django_assert_max_num_queries):
    for n in range(60):
        revenue_event_record(entry=ledger_entry(event_id=f"stripe:pi_bulk_{n}", amount_cents=100 + n))
    with django_assert_max_num_queries(14):
        response = staff_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert response.content.decode().count('class="action-checkbox"') == 50


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"provider__exact": "gumroad"}, {"gumroad:sale_jpy"}),
        ({"kind__exact": "refund"}, {"stripe:re_usd"}),
        ({"currency": "KWD"}, {"manual:kwd"}),
        ({"q": "PO-KWD-1"}, {"manual:kwd"}),
        ({"q": "stripe:pi_usd"}, {"stripe:pi_usd"}),
        ({"q": "ada@lovelace.dev"}, {"stripe:pi_usd", "stripe:re_usd"}),
        ({"occurred_at__year": "2026", "occurred_at__month": "6", "occurred_at__day": "1"}, None),
    ],
)
def test_ledger_filters_and_search(staff_client, ledger, query, expected):
    response = staff_client.get(reverse(CHANGELIST), query)
    assert response.status_code == 200
    shown = {e.event_id for e in response.context["cl"].result_list}
    assert shown == (expected if expected is not None else {e.event_id for e in ledger})


def test_entity_filter(staff_client, ledger, entities):
    response = staff_client.get(reverse(CHANGELIST), {"entity__id__exact": entities["aplus-enterprise"].pk})
    assert {e.event_id for e in response.context["cl"].result_list} == {"stripe:pi_usd"}


def test_ledger_rows_are_read_only(staff_client, ledger):
    event = ledger[0]
    assert staff_client.get(reverse("admin:revenue_revenueevent_add")).status_code == 403
    change_url = reverse("admin:revenue_revenueevent_change", args=[event.pk])
    view = staff_client.get(change_url)
    assert view.status_code == 200 and b"1,234.50 USD" in view.content and b'name="amount_cents"' not in view.content
    assert staff_client.post(change_url, {"amount_cents": "1"}).status_code == 403
    assert staff_client.post(reverse("admin:revenue_revenueevent_delete", args=[event.pk])).status_code == 403
    event.refresh_from_db()
    assert event.amount_cents == 123450


def test_manual_entry_form_records_a_manual_row(staff_client, entities):
    url = reverse("admin:revenue_revenueevent_record")
    assert staff_client.get(url).status_code == 200
    response = staff_client.post(
        url,
        {
            "entity": entities["legacy-unchained"].pk,
            "customer_email": "ap@client.example",
            "customer_name": "Client Co",
            "reference": "CONTRACT-42",
            "amount": "1,234.50",
            "currency": "USD",
            "received_on": "2026-06-10",
            "description": "Annual licence",
            "expects_bank_deposit": "on",
        },
    )
    assert response.status_code == 302
    event = RevenueEvent.objects.get(reference="CONTRACT-42")
    assert event.provider == "manual" and event.amount_cents == 123450
    assert event.entity == entities["legacy-unchained"]
    assert event.metadata["expects_bank_deposit"] is True
    assert LedgerAuditEntry.objects.get(event=event).actor.username == "staff"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": "12.345"}, "USD has 2 decimal places; &#x27;12.345&#x27; has more"),
        ({"amount": "5000.5", "currency": "JPY"}, "JPY has 0 decimal places"),
        ({"amount": "1.2345", "currency": "KWD"}, "KWD has 3 decimal places"),
        ({"amount": "0"}, "must be more than zero"),
        ({"amount": "twelve"}, "is not a number"),
        ({"reference": ""}, "This field is required"),
        ({"received_on": (business_today() + timedelta(days=2)).isoformat()}, "cannot be in the future"),
        ({"customer_email": "nope"}, "Enter a valid email address"),
    ],
)
def test_manual_entry_form_shows_clear_errors_and_writes_nothing(staff_client, entities, changes, message):
    data = {
        "entity": entities["aplus-enterprise"].pk,
        "reference": "PO-1",
        "amount": "100.00",
        "currency": "USD",
        "received_on": "2026-06-10",
        **changes,
    }
    response = staff_client.post(reverse("admin:revenue_revenueevent_record"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "Please correct the error" in response.content.decode()
    assert not RevenueEvent.objects.exists()


def test_manual_entry_refuses_a_po_number_already_recorded(staff_client, entities, staff_user):
    aplus = entities["aplus-enterprise"]
    manual_entry_create(
        data=ManualEntryData(aplus, "PO-7", 1000, "USD", date(2026, 6, 1)),
        actor=staff_user,
    )
    response = staff_client.post(
        reverse("admin:revenue_revenueevent_record"),
        {"entity": aplus.pk, "reference": "PO-7", "amount": "10.00", "currency": "USD", "received_on": "2026-06-02"},
    )
    assert response.status_code == 200
    assert "already recorded for A+ Enterprise LLC" in response.content.decode()
    assert RevenueEvent.objects.count() == 1


def test_reverse_action_confirms_then_reverses(staff_client, ledger):
    target = ledger[0]
    already = ledger[1]
    from revenue.services import revenue_event_reverse_by_user

    revenue_event_reverse_by_user(event=already, reason="setup")
    count = RevenueEvent.objects.count()
    url = reverse(CHANGELIST)
    confirm = staff_client.post(url, {"action": "reverse_selected", "_selected_action": [target.pk, already.pk]})
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "will be reversed" in html and "already reversed" in html and "Yes, reverse 1 entry" in html
    assert RevenueEvent.objects.count() == count  # nothing written by the confirmation page
    # Submitting without a reason shows the form again.
    again = staff_client.post(
        url, {"action": "reverse_selected", "_selected_action": [target.pk], "post": "yes", "reason": ""}
    )
    assert again.status_code == 200 and "This field is required" in again.content.decode()
    done = staff_client.post(
        url,
        {"action": "reverse_selected", "_selected_action": [target.pk], "post": "yes", "reason": "Charged twice"},
    )
    assert done.status_code == 302
    reversal = RevenueEvent.objects.get(reverses=target)
    assert reversal.amount_cents == -123450 and reversal.metadata["reason"] == "Charged twice"
    audit = LedgerAuditEntry.objects.get(action="reverse", event=target)
    assert audit.actor_username == "staff"
    listing = staff_client.get(url).content.decode()
    assert "reversed" in listing


def test_correct_flow_reverses_and_records_in_one_step(staff_client, entities, staff_user):
    aplus = entities["aplus-enterprise"]
    original = manual_entry_create(
        data=ManualEntryData(aplus, "PO-55", 100000, "USD", date(2026, 6, 1), customer_email="x@example.com"),
        actor=staff_user,
    )
    url = reverse("admin:revenue_revenueevent_correct", args=[original.pk])
    page = staff_client.get(url)
    assert page.status_code == 200 and 'value="1,000.00"' in page.content.decode()
    response = staff_client.post(
        url,
        {
            "entity": aplus.pk,
            "reference": "PO-55",
            "amount": "1,100.00",
            "currency": "USD",
            "received_on": "2026-06-01",
            "customer_email": "x@example.com",
            "reason": "Invoice was 1,100",
        },
    )
    assert response.status_code == 302
    assert RevenueEvent.objects.get(reverses=original).amount_cents == -100000
    replacement = RevenueEvent.objects.get(event_id="manual:aplus-enterprise:PO-55:v2")
    assert replacement.amount_cents == 110000
    assert LedgerAuditEntry.objects.filter(action="correct", event=original).exists()


def test_import_preview_then_confirm_with_good_bad_and_duplicate_rows(staff_client, entities, staff_user):
    aplus = entities["aplus-enterprise"]
    manual_entry_create(
        data=ManualEntryData(aplus, "PO-BIG", 500000, "USD", date(2026, 6, 15), customer_email="ap@bigclient.example"),
        actor=staff_user,
    )
    before = RevenueEvent.objects.count()
    url = reverse("admin:revenue_revenueevent_import")
    assert staff_client.get(url).status_code == 200
    with open(DATA / "generic_with_errors.csv", "rb") as handle:
        preview = staff_client.post(url, {"resource": "0", "format": "0", "import_file": handle, "entity": ""})
    assert preview.status_code == 200
    html = preview.content.decode()
    # The bad row is named by row and column, the duplicate is flagged, the good rows are new.
    result = preview.context["result"]
    [invalid] = result.invalid_rows
    assert invalid.number == 3 and list(invalid.field_specific_errors) == ["amount"]
    assert "USD has 2 decimal places" in html
    assert "POSSIBLE DUPLICATE of manual:aplus-enterprise:PO-BIG" in html
    assert result.totals["new"] == 3
    assert "Confirm import" in html and "Nothing has been written yet" in html
    # Preview wrote nothing: no ledger rows, no alert, no audit entry.
    assert RevenueEvent.objects.count() == before
    assert not RevenueAlert.objects.exists()
    assert not LedgerAuditEntry.objects.filter(action="import").exists()

    confirm_form = preview.context["confirm_form"]
    confirm = staff_client.post(reverse("admin:revenue_revenueevent_process_import"), dict(confirm_form.initial))
    assert confirm.status_code == 302
    assert RevenueEvent.objects.count() == before + 3
    assert not RevenueEvent.objects.filter(event_id="manual:csv-bad-amount").exists()
    assert RevenueEvent.objects.get(event_id="manual:csv-good-2").amount_display == "5,000 JPY"
    dup = RevenueAlert.objects.get(alert_type="duplicate")
    assert dup.fingerprint == duplicate_fingerprint(["gumroad:csv-dup-of-manual", "manual:aplus-enterprise:PO-BIG"])
    audit = LedgerAuditEntry.objects.get(action="import")
    assert audit.actor == staff_user and audit.metadata["inserted"] == 3 and audit.metadata["errors"] == 1
    messages = [str(m) for m in confirm.wsgi_request._messages]
    assert any("row 3 (amount:" in m for m in messages)

    # The same file again: everything already imported is reported as skipped.
    with open(DATA / "generic_with_errors.csv", "rb") as handle:
        again = staff_client.post(url, {"resource": "0", "format": "0", "import_file": handle, "entity": ""})
    assert again.context["result"].totals["skip"] == 3
    assert again.context["result"].totals["new"] == 0
    assert "already in the ledger" in again.content.decode()
    assert "confirm_form" not in again.context or again.context.get("confirm_form") is None


def test_import_of_a_file_chosen_as_another_kind_is_read_as_what_it_is(staff_client, entities):
    """A Gumroad export chosen as a Stripe export is recognised as Gumroad, which then needs an entity."""
    with open(DATA / "gumroad_sales.csv", "rb") as handle:
        response = staff_client.post(
            reverse("admin:revenue_revenueevent_import"), {"resource": "1", "format": "0", "import_file": handle}
        )
    assert response.status_code == 200
    assert "A Gumroad sales export does not say which entity" in " ".join(response.context["form"].errors["entity"])
    assert not RevenueEvent.objects.exists()


def test_stripe_export_import_through_admin_skips_rows_already_booked(staff_client, entities):
    revenue_event_record(entry=ledger_entry(event_id="stripe:pi_3QaplusPaid001", amount_cents=25000))
    with open(DATA / "stripe_unified_payments.csv", "rb") as handle:
        preview = staff_client.post(
            reverse("admin:revenue_revenueevent_import"), {"resource": "1", "format": "0", "import_file": handle}
        )
    result = preview.context["result"]
    # The booked sale's row still brings its Fee cell (new); the failed charge is skipped.
    assert result.totals["new"] == 5 and result.totals["skip"] == 1
    assert "1 part(s) already in the ledger" in preview.content.decode()

    revenue_event_record(
        entry=ledger_entry(
            event_id="stripe:fee:charge:ch_3QaplusPaid001",
            kind="fee",
            amount_cents=-755,
            parent_event_id="stripe:pi_3QaplusPaid001",
        )
    )
    with open(DATA / "stripe_unified_payments.csv", "rb") as handle:
        preview = staff_client.post(
            reverse("admin:revenue_revenueevent_import"), {"resource": "1", "format": "0", "import_file": handle}
        )
    assert preview.context["result"].totals["skip"] == 2  # sale and fee both booked + the failed charge
    assert "Skipped: already in the ledger" in preview.content.decode()


def test_index_shows_todays_revenue_per_entity_and_currency_and_open_alerts(staff_client, entities):
    now = day_start(business_today()) + timedelta(hours=1)
    now = min(now, datetime.now(tz=UTC))
    for n, (amount, currency) in enumerate([(10000, "USD"), (2550, "USD"), (700, "JPY")]):
        revenue_event_record(
            entry=ledger_entry(event_id=f"stripe:pi_today_{n}", amount_cents=amount, currency=currency, occurred_at=now)
        )
    alert_raise(alert_type="threshold", severity="critical", message="Big drop", fingerprint="t:1")
    alert_raise(alert_type="anomaly", severity="warning", message="Odd", fingerprint="a:1")
    response = staff_client.get(reverse("admin:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "125.50 USD" in html and "700 JPY" in html
    assert "<strong>2</strong> open alerts" in html and "1 critical, 1 warning" in html
    assert "<title>Site administration | Branchberg</title>" in html
    assert 'href="/dashboard/"' in html


def test_audit_trail_is_viewable_in_admin(staff_client, entities, staff_user):
    event = manual_entry_create(
        data=ManualEntryData(entities["aplus-enterprise"], "PO-AUD", 1000, "USD", date(2026, 6, 1)), actor=staff_user
    )
    listing = staff_client.get(reverse("admin:revenue_ledgerauditentry_changelist"))
    assert listing.status_code == 200 and "Recorded 10.00 USD (PO-AUD)" in listing.content.decode()
    audit = LedgerAuditEntry.objects.get(event=event)
    detail = staff_client.get(reverse("admin:revenue_ledgerauditentry_change", args=[audit.pk]))
    assert detail.status_code == 200 and "&quot;amount_cents&quot;: 1000" in detail.content.decode()
    assert staff_client.get(reverse("admin:revenue_ledgerauditentry_add")).status_code == 403
    ledger_detail = staff_client.get(reverse("admin:revenue_revenueevent_change", args=[event.pk]))
    assert "Correct this entry" in ledger_detail.content.decode()


def test_entity_changes_keep_history_with_who(staff_client, entities):
    legacy = entities["legacy-unchained"]
    url = reverse("admin:revenue_entity_change", args=[legacy.pk])
    response = staff_client.post(
        url,
        {
            "name": legacy.name,
            "slug": legacy.slug,
            "stripe_account_ids": '["acct_legacy"]',
            "gumroad_product_ids": "[]",
            "aliases": '["Legacy Unchained"]',
        },
    )
    assert response.status_code == 302
    record = Entity.history.filter(id=legacy.pk).order_by("-history_date").first()
    assert record.stripe_account_ids == ["acct_legacy"] and record.history_user.username == "staff"
    assert staff_client.get(reverse("admin:revenue_entity_history", args=[legacy.pk])).status_code == 200


def test_admin_login_through_the_real_form_and_axes_lockout(client, staff_user, settings):
    login = reverse("admin:login")
    ok = client.post(login, {"username": "staff", "password": "correct-horse-battery-staple", "next": "/admin/"})
    assert ok.status_code == 302 and ok["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        bad = client.post(login, {"username": "staff", "password": "wrong"})
        assert bad.status_code == 200 and b"Please enter the correct username and password" in bad.content
    assert client.post(login, {"username": "staff", "password": "wrong"}).status_code == 429  # the limit
    locked = client.post(login, {"username": "staff", "password": "correct-horse-battery-staple"})
    assert locked.status_code == 429
    assert client.get("/admin/").status_code == 302  # still not logged in
    # Lockout is per username + IP: the same user from another address can still log in.
    other = client.post(
        login, {"username": "staff", "password": "correct-horse-battery-staple"}, REMOTE_ADDR="10.9.8.7"
    )
    assert other.status_code == 302


def test_export_through_the_admin_escapes_formula_cells(staff_client, entities, staff_user):
    import csv
    import io

    from revenue.backfill import GENERIC_COLUMNS

    manual_entry_create(
        data=ManualEntryData(
            entities["aplus-enterprise"],
            "=cmd|' /C calc'!A0",
            5000,
            "USD",
            date(2026, 6, 1),
            customer_name="@SUM(1+1)",
            description="-2+3",
        ),
        actor=staff_user,
    )
    url = reverse("admin:revenue_revenueevent_export")
    assert staff_client.get(url).status_code == 200
    data = {"format": "0", "resource": "0", **{f"ledgerexportresource_{c}": "on" for c in GENERIC_COLUMNS}}
    response = staff_client.post(url, data)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert row["reference"] == "'=cmd|' /C calc'!A0"
    assert row["customer_name"] == "'@SUM(1+1)" and row["description"] == "'-2+3"
    assert row["amount"] == "50.00" and row["currency"] == "USD"


def test_a_gumroad_payout_is_entered_by_hand_as_an_expected_deposit(staff_client, entities):
    from revenue.models import Payout

    url = "/admin/revenue/payout/add/"
    assert staff_client.get(url).status_code == 200
    bad = staff_client.post(
        url,
        {
            "provider": "gumroad",
            "payout_id": "gp-1",
            "entity": entities["legacy-unchained"].pk,
            "payout_amount": "12.345",
            "currency": "USD",
            "arrival_on": "2026-06-05",
        },
    )
    assert bad.status_code == 200 and "2 decimal places" in bad.content.decode()
    assert not Payout.objects.exists()
    good = staff_client.post(
        url,
        {
            "provider": "gumroad",
            "payout_id": "gp-1",
            "entity": entities["legacy-unchained"].pk,
            "payout_amount": "412.34",
            "currency": "usd",
            "arrival_on": "2026-06-05",
            "statement_descriptor": "GUMROAD INC PAYOUT",
        },
    )
    assert good.status_code == 302
    payout = Payout.objects.get()
    assert (payout.provider, payout.amount_cents, payout.currency, payout.status) == ("gumroad", 41234, "USD", "paid")

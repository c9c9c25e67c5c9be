"""Stripe payouts from files (issue 17, item 3): the Dashboard payouts export creates or updates the
expected deposits, the itemized payout reconciliation report ties each payout to the balance
transactions it settles and books those the ledger lacks under the webhooks' keys; the payout's admin
page shows the tie-out to the cent, and reconciliation links a deposit's payout to it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from revenue.backfill import FileFormatError, check_columns, recognise_format
from revenue.backfill.parse import RowError
from revenue.backfill.stripe_payouts import map_payout_reconciliation_row, map_stripe_payout_row
from revenue.models import DepositMatch, ImportJob, Payout, PayoutSettlement, RevenueEvent
from revenue.reconciliation.services import bank_statement_import, expected_deposits_sync
from revenue.resources import IMPORT_RESOURCES, StripePayoutReconciliationResource, StripePayoutsResource
from revenue.selectors.payouts import LineStatus, payout_tie_out
from revenue.services import payout_upsert, revenue_event_record
from revenue.tests.factories import ledger_entry

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parent / "data"
PAYOUTS = DATA / "stripe_payouts.csv"
RECONCILIATION = DATA / "stripe_payout_reconciliation.csv"
PAYOUT_A, PAYOUT_B, PAYOUT_C, PAYOUT_D = (
    "po_1PbbA2026Jun08",
    "po_1PbbB2026Jun24",
    "po_1PbbC2026Jun29",
    "po_1PbbD2026Jun30",
)


def _import(fmt: str, path: Path, entity: str = "aplus-enterprise") -> None:
    call_command("import_revenue_csv", str(path), "--format", fmt, "--entity", entity, "--no-progress")


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _headers(path: Path) -> list[str]:
    return next(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def _payout(payout_id: str) -> Payout:
    return Payout.objects.get(provider="stripe", payout_id=payout_id)


def _post_import(client, path: Path, resource, entity, *, name: str = "", content: bytes | None = None):
    upload = SimpleUploadedFile(name or path.name, content or path.read_bytes(), content_type="text/csv")
    return client.post(
        reverse("admin:revenue_revenueevent_import"),
        {
            "resource": str(IMPORT_RESOURCES.index(resource)),
            "format": "0",
            "import_file": upload,
            "entity": entity.pk,
        },
    )


def _confirm(client, preview) -> None:
    form = preview.context["confirm_form"]
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    response = client.post(reverse("admin:revenue_revenueevent_process_import"), data)
    assert response.status_code == 302, response.content[:2000]


# --- recognising the two files -----------------------------------------------------------------


def test_both_files_are_recognised_from_their_header_rows():
    assert recognise_format(_headers(PAYOUTS)) == "stripe_payouts"
    assert recognise_format(_headers(RECONCILIATION)) == "stripe_payout_reconciliation"
    # A payouts export has every required column of a payments export: chosen as one, it is refused, named.
    with pytest.raises(FileFormatError, match="looks like a Stripe Dashboard payouts export"):
        check_columns(_headers(PAYOUTS), "stripe")
    with pytest.raises(FileFormatError, match="payout reconciliation report"):
        check_columns(_headers(RECONCILIATION), "stripe_itemized")


@pytest.mark.parametrize(
    ("path", "fmt", "dropped", "sentence"),
    [
        (RECONCILIATION, "stripe_payout_reconciliation", "net", "missing column net"),
        (RECONCILIATION, "stripe_payout_reconciliation", "automatic_payout_id", "missing column automatic_payout_id"),
        (PAYOUTS, "stripe_payouts", "Arrival Date (UTC)", "missing column Arrival Date (UTC)"),
    ],
)
def test_a_file_missing_a_required_column_is_refused_with_a_sentence(
    staff_client, entities, path, fmt, dropped, sentence
):
    rows = _rows(path)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[h for h in rows[0] if h != dropped], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    resource = StripePayoutsResource if fmt == "stripe_payouts" else StripePayoutReconciliationResource
    response = _post_import(staff_client, path, resource, entities["aplus-enterprise"], content=out.getvalue().encode())
    assert response.status_code == 200
    assert "confirm_form" not in response.context or response.context["confirm_form"] is None
    errors = " ".join(response.context["form"].errors.get("resource", []))
    assert sentence in errors
    assert not Payout.objects.exists() and not RevenueEvent.objects.exists()


def test_row_errors_name_the_row_and_column():
    row = dict(_rows(PAYOUTS)[0], Status="sent")
    with pytest.raises(RowError) as excinfo:
        map_stripe_payout_row(row)
    assert (excinfo.value.column, excinfo.value.message) == (
        "Status",
        "'sent' is not a payout status (pending, in_transit, paid, failed, canceled)",
    )
    bad_net = dict(_rows(RECONCILIATION)[0], net="242.46")
    with pytest.raises(RowError, match="must equal gross minus fee"):
        map_payout_reconciliation_row(bad_net)


# --- the payouts export ------------------------------------------------------------------------


def test_payouts_export_creates_the_payouts_and_a_reimport_adds_nothing(entities):
    _import("stripe_payouts", PAYOUTS)
    a = _payout(PAYOUT_A)
    assert (a.amount_cents, a.currency, a.status, a.arrival_on) == (19365, "USD", "paid", date(2026, 6, 8))
    assert a.entity == entities["aplus-enterprise"]  # the file has no entity column: the one chosen
    assert a.metadata["destination"] == "ba_1PbbBank0001" and a.metadata["source"] == "csv:stripe_payouts"
    failed = _payout(PAYOUT_D)
    assert (failed.status, failed.metadata["failure_code"]) == ("failed", "account_closed")
    history = Payout.history.count()

    _import("stripe_payouts", PAYOUTS)
    assert Payout.objects.count() == 4
    assert Payout.history.count() == history  # nothing saved again


def test_payouts_export_keeps_the_webhooks_status_and_entity(entities):
    legacy = entities["legacy-unchained"]
    payout_upsert(
        provider="stripe",
        payout_id=PAYOUT_A,
        entity=legacy,
        amount_cents=19365,
        currency="USD",
        status="failed",  # payout.failed arrived after payout.paid: the file's "paid" must not undo it
        arrival_on=date(2026, 6, 8),
        metadata={"delivery_event_id": "evt_1Failed"},
    )
    _import("stripe_payouts", PAYOUTS)
    a = _payout(PAYOUT_A)
    assert (a.status, a.entity) == ("failed", legacy)
    assert a.metadata["delivery_event_id"] == "evt_1Failed" and a.metadata["destination"] == "ba_1PbbBank0001"
    assert "source" not in a.metadata  # a webhook's payout stays the webhook's


def test_payouts_export_through_the_admin_preview_then_confirm(staff_client, entities):
    aplus = entities["aplus-enterprise"]
    preview = _post_import(staff_client, PAYOUTS, StripePayoutsResource, aplus)
    html = preview.content.decode()
    assert "4 file rows → 4 payouts: 4 new, 0 updated, 0 unchanged" in html
    assert "1,508.70 USD" in html  # the payouts' total, to compare with Stripe's
    assert "New payout" in html and PAYOUT_C in html
    assert not Payout.objects.exists()  # a preview writes nothing
    _confirm(staff_client, preview)
    assert Payout.objects.count() == 4

    again = _post_import(staff_client, PAYOUTS, StripePayoutsResource, aplus)
    html = again.content.decode()
    assert "4 file rows → 4 payouts: 0 new, 0 updated, 4 unchanged" in html
    assert "Skipped: payout already imported, nothing changed" in html


# --- the payout reconciliation report ----------------------------------------------------------


def test_report_ties_each_payout_to_its_transactions_to_the_cent(entities):
    _import("stripe_payouts", PAYOUTS)
    _import("stripe_payout_reconciliation", RECONCILIATION)
    a = payout_tie_out(payout=_payout(PAYOUT_A))
    assert [line.settlement.balance_transaction_id for line in a.lines] == [
        "txn_1RecChg001",
        "txn_1RecEur002",
        "txn_1RecRef003",
        "txn_1RecRadar004",
    ]
    assert (a.settled_net_cents, a.difference_cents, a.ties_out) == (19365, 0, True)
    assert {line.status for line in a.lines} == {LineStatus.BOOKED}
    charge = a.lines[0]
    assert [(r.event_id, r.amount_cents) for r in charge.ledger_rows] == [
        ("stripe:pi_3RecChg001", 25000),
        ("stripe:fee:txn_1RecChg001", -755),
    ]
    eur = a.lines[1]  # paid in EUR, settled in USD: the ledger's USD amount ties it
    payment = eur.ledger_rows[0]
    assert (payment.currency, payment.amount_cents, payment.amount_usd_cents) == ("EUR", 4900, 5317)
    assert eur.ledger_net_cents == 5125

    b = payout_tie_out(payout=_payout(PAYOUT_B))
    assert (b.settled_net_cents, b.ties_out) == (72695, True)
    assert [line.status for line in b.lines][-1] == LineStatus.NOT_REVENUE  # other_adjustment: settles, books nothing
    assert {c.category: c.net_cents for c in b.categories} == {
        "charge": 72795,
        "dispute": -76500,
        "dispute_reversal": 76500,
        "other_adjustment": -100,
    }


def test_a_payout_that_does_not_tie_shows_its_difference(staff_client, entities):
    _import("stripe_payouts", PAYOUTS)
    _import("stripe_payout_reconciliation", RECONCILIATION)
    c = payout_tie_out(payout=_payout(PAYOUT_C))
    assert (c.settled_net_cents, c.difference_cents, c.ties_out) == (49950, 50, False)
    page = staff_client.get(reverse("admin:revenue_payout_change", args=[_payout(PAYOUT_C).pk]))
    html = page.content.decode()
    assert "does not tie: differs by 0.50 USD" in html
    listing = staff_client.get(reverse("admin:revenue_payout_changelist")).content.decode()
    assert "differs by 0.50 USD" in listing and "ties out (4 lines)" in listing


def test_reimporting_the_report_adds_nothing(entities):
    _import("stripe_payouts", PAYOUTS)
    _import("stripe_payout_reconciliation", RECONCILIATION)
    counts = (RevenueEvent.objects.count(), PayoutSettlement.objects.count())
    assert counts == (14, 9)
    _import("stripe_payout_reconciliation", RECONCILIATION)
    assert (RevenueEvent.objects.count(), PayoutSettlement.objects.count()) == counts


def test_report_books_nothing_a_webhook_already_booked(entities):
    aplus = entities["aplus-enterprise"]
    sale = ledger_entry(
        event_id="stripe:pi_3RecChg001",
        amount_cents=25000,
        occurred_at=datetime(2026, 6, 2, 15, 4, 5, tzinfo=UTC),
        event_type="charge.succeeded",
    )
    revenue_event_record(entry=sale, entity=aplus)
    fee = ledger_entry(
        event_id="stripe:fee:txn_1RecChg001",
        kind="fee",
        amount_cents=-755,
        occurred_at=datetime(2026, 6, 2, 15, 4, 5, tzinfo=UTC),
        parent_event_id="stripe:pi_3RecChg001",
        metadata={"charge": "ch_3RecChg001"},
    )
    revenue_event_record(entry=fee, entity=aplus)
    _import("stripe_payout_reconciliation", RECONCILIATION)
    assert RevenueEvent.objects.filter(event_id="stripe:pi_3RecChg001").count() == 1
    assert RevenueEvent.objects.count() == 14  # the same fourteen rows: the report adds the other twelve
    # The report came first: the payout is tied as soon as its export (or payout.paid) arrives.
    _import("stripe_payouts", PAYOUTS)
    assert payout_tie_out(payout=_payout(PAYOUT_A)).ties_out


def test_a_transaction_missing_from_the_ledger_is_listed(entities):
    _import("stripe_payouts", PAYOUTS)
    _import("stripe_payout_reconciliation", RECONCILIATION)
    with_missing = PayoutSettlement.objects.get(balance_transaction_id="txn_1RecRef003")
    with_missing.ledger_keys = ["stripe:re_3RecNeverBooked", *with_missing.ledger_keys[1:]]
    with_missing.save()
    a = payout_tie_out(payout=_payout(PAYOUT_A))
    assert [(line.settlement.balance_transaction_id, line.missing_keys) for line in a.missing] == [
        ("txn_1RecRef003", ("stripe:re_3RecNeverBooked",))
    ]
    assert a.ties_out  # the report's amounts still tie; the ledger gap is shown apart


def test_report_preview_ties_out_each_payout_before_confirming(staff_client, entities):
    aplus = entities["aplus-enterprise"]
    _import("stripe_payouts", PAYOUTS)
    preview = _post_import(staff_client, RECONCILIATION, StripePayoutReconciliationResource, aplus)
    html = preview.content.decode()
    assert "9 payout settlement lines for 3 payouts (9 new, 0 already recorded)" in html
    assert "differs by 0.50 USD" in html and "ties out" in html
    assert f"settled by {PAYOUT_A}" in html
    assert not preview.context["result"].invalid_rows
    assert not PayoutSettlement.objects.exists() and not RevenueEvent.objects.exists()
    _confirm(staff_client, preview)
    assert PayoutSettlement.objects.count() == 9 and RevenueEvent.objects.count() == 14
    assert payout_tie_out(payout=_payout(PAYOUT_A)).ties_out


def test_a_transaction_put_in_another_payout_is_a_row_error(staff_client, entities):
    _import("stripe_payout_reconciliation", RECONCILIATION)
    rows = _rows(RECONCILIATION)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerow(dict(rows[0], automatic_payout_id=PAYOUT_B))
    preview = _post_import(
        staff_client,
        RECONCILIATION,
        StripePayoutReconciliationResource,
        entities["aplus-enterprise"],
        content=out.getvalue().encode(),
    )
    errors = preview.context["result"].invalid_rows
    assert [(e.number, dict(e.error_dict)) for e in errors] == [
        (1, {"automatic_payout_id": [f"txn_1RecChg001 is already recorded as settled by {PAYOUT_A}"]})
    ]


# --- the admin tie-out and reconciliation's link to it ------------------------------------------


def test_tie_out_page_links_each_line_to_its_ledger_rows(staff_client, entities, django_assert_max_num_queries):
    _import("stripe_payouts", PAYOUTS)
    _import("stripe_payout_reconciliation", RECONCILIATION)
    a = _payout(PAYOUT_A)
    url = reverse("admin:revenue_payout_change", args=[a.pk])
    with django_assert_max_num_queries(8) as captured:  # measured: 7 (session, user, payout, lines, ledger rows…)
        html = staff_client.get(url).content.decode()
    few = len(captured.captured_queries)
    assert "ties out to the cent" in html
    sale = RevenueEvent.objects.get(event_id="stripe:pi_3RecChg001")
    assert reverse("admin:revenue_revenueevent_change", args=[sale.pk]) in html
    # Twenty more lines on the same payout: the same number of queries.
    for n in range(20):
        revenue_event_record(
            entry=ledger_entry(
                event_id=f"stripe:pi_3RecMore{n:03d}", amount_cents=1000, occurred_at=datetime(2026, 6, 7, tzinfo=UTC)
            ),
            entity=entities["aplus-enterprise"],
        )
        PayoutSettlement.objects.create(
            provider="stripe",
            payout_id=PAYOUT_A,
            balance_transaction_id=f"txn_1RecMore{n:03d}",
            reporting_category="charge",
            currency="USD",
            gross_cents=1000,
            fee_cents=0,
            net_cents=1000,
            occurred_at=datetime(2026, 6, 7, tzinfo=UTC),
            ledger_keys=[f"stripe:pi_3RecMore{n:03d}"],
        )
    with django_assert_max_num_queries(few):
        html = staff_client.get(url).content.decode()
    assert "differs by -200.00 USD" in html


def test_reconciliation_page_links_a_stripe_payout_to_its_tie_out(staff_client, entities):
    _import("stripe_payouts", PAYOUTS)
    _import("stripe_payout_reconciliation", RECONCILIATION)
    expected_deposits_sync()
    aplus = entities["aplus-enterprise"]
    summary = bank_statement_import(
        content=(DATA / "bank_june_stripe_payouts.csv").read_bytes(), layout="generic", entity=aplus
    )
    assert summary.auto_matched == 2
    matched = DepositMatch.objects.filter(items__expected__payout__payout_id=PAYOUT_A).get()
    assert matched.items.get(deposit__isnull=False).deposit.amount_cents == 19365
    page = staff_client.get(
        reverse("admin:revenue_bankdeposit_reconciliation"),
        {"entity": aplus.slug, "start": "2026-06-01", "end": "2026-06-30"},
    )
    html = page.content.decode()
    tie_out = reverse("admin:revenue_payout_change", args=[_payout(PAYOUT_A).pk]) + "#tie-out"
    assert html.count(tie_out) == 2  # the expected deposit, and the match of the bank deposit to it
    assert "4 settled balance transactions" in html


# --- above the background threshold: the same writes, batch by batch -----------------------------


def test_both_files_import_in_the_background_like_in_the_request(
    staff_client, entities, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_BACKGROUND_THRESHOLD_BYTES = 512  # both sample files are above it
    settings.IMPORT_JOB_BATCH_ROWS = 2
    aplus = entities["aplus-enterprise"]
    for path, resource in ((PAYOUTS, StripePayoutsResource), (RECONCILIATION, StripePayoutReconciliationResource)):
        with django_capture_on_commit_callbacks(execute=True):
            response = _post_import(staff_client, path, resource, aplus)
        assert response.status_code == 302, response.content.decode()[:2000]
    jobs = list(ImportJob.objects.order_by("pk"))
    assert [job.status for job in jobs] == [ImportJob.Status.DONE, ImportJob.Status.DONE], [j.message for j in jobs]
    assert "4 payout(s) created, 0 updated, 0 unchanged" in jobs[0].message
    assert "9 payout settlement line(s) recorded, 0 already recorded" in jobs[1].message
    assert (Payout.objects.count(), PayoutSettlement.objects.count(), RevenueEvent.objects.count()) == (4, 9, 14)
    assert payout_tie_out(payout=_payout(PAYOUT_A)).ties_out

"""Reconciliation end to end on the real database: statement import, dedupe, auto-match, failures, totals."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import call_command

from revenue.errors import ApplicationError
from revenue.models import BankDeposit, DepositMatch, ExpectedDeposit, Payout, ReconciliationAction
from revenue.reconciliation import selectors, services
from revenue.reconciliation.services import bank_statement_import, reconciliation_run
from revenue.selectors.buckets import BUCKET_FIELDS
from revenue.tests.reconciliation_fixtures import CHASE_JUNE, CREDIT_LINES, DEBIT_LINES, june_scenario

pytestmark = pytest.mark.django_db

JUNE = {"start": date(2026, 6, 1), "end": date(2026, 6, 30)}


def _active_match(expected: ExpectedDeposit) -> DepositMatch | None:
    return DepositMatch.objects.filter(status="active", items__expected=expected, items__active=True).first()


def _deposits_of(match: DepositMatch) -> list[BankDeposit]:
    return sorted(
        (i.deposit for i in match.items.filter(active=True, deposit__isnull=False).select_related("deposit")),
        key=lambda d: d.posted_on,
    )


@pytest.fixture
def june(entities):
    return june_scenario(entities)


@pytest.fixture
def imported(june):
    summary = bank_statement_import(
        content=CHASE_JUNE.encode(), layout="chase", entity=june["entity"], statement_name="chase-june.csv"
    )
    return june, summary


def test_statement_exact_matches_split_bundle_and_leftovers(imported):
    june, summary = imported
    assert (summary.new, summary.duplicates, summary.debits) == (CREDIT_LINES, 0, DEBIT_LINES)
    assert summary.auto_matched == 7
    assert BankDeposit.objects.count() == CREDIT_LINES

    expected = {e.reference: e for e in ExpectedDeposit.objects.all()}
    assert set(expected) == {"po_A", "po_B", "po_C", "po_D", "po_E", "po_F", "po_G", "gp_2026_06_05", "PO-4471"}

    # exact one-to-one: Stripe, Gumroad (Fri -> Mon is one business day), the wire for the PO
    for reference, posted in [
        ("po_A", date(2026, 6, 2)),
        ("gp_2026_06_05", date(2026, 6, 8)),
        ("PO-4471", date(2026, 6, 12)),
    ]:
        match = _active_match(expected[reference])
        assert match is not None and match.method == "auto", reference
        assert [d.posted_on for d in _deposits_of(match)] == [posted]
        assert match.difference_cents == 0

    # split: po_B 3,000.00 paid as 1,800.00 + 1,200.00
    split = _active_match(expected["po_B"])
    assert [d.amount_cents for d in _deposits_of(split)] == [180000, 120000]
    assert (split.expected_cents, split.deposited_cents) == (300000, 300000)

    # bundle: po_D + po_E landed as one 250.00 deposit
    bundle = _active_match(expected["po_D"])
    assert bundle == _active_match(expected["po_E"])
    assert [d.description for d in _deposits_of(bundle)] == ["STRIPE TRANSFER ST-DE45 A PLUS ENTERPRISE"]

    # near miss left for a person, with the 979.50 deposit as the best candidate
    assert _active_match(expected["po_F"]) is None
    items = list(selectors.expected_in_period(entity=june["entity"], **JUNE))
    candidates = selectors.candidates_for(items, entity=june["entity"])
    best = candidates[expected["po_F"].pk][0]
    assert best.deposit.amount_cents == 97950
    assert best.candidate.amount_difference_cents == -50 and best.candidate.description_fits

    # no payout behind the mobile deposit; the duplicate line is two deposits, both unmatched
    unmatched = BankDeposit.objects.exclude(match_items__active=True).order_by("posted_on", "amount_cents")
    assert [(d.description, d.amount_cents) for d in unmatched] == [
        ("MOBILE DEPOSIT REF 0012", 9500),
        ("REMOTE ONLINE DEPOSIT 1", 25000),
        ("REMOTE ONLINE DEPOSIT 1", 25000),
        ("STRIPE TRANSFER ST-F6 A PLUS ENTERPRISE", 97950),
    ]

    # every automatic match is audited, by the system
    autos = ReconciliationAction.objects.filter(action="auto_match")
    assert autos.count() == 7 and not autos.exclude(actor=None).exists()
    audit = ReconciliationAction.objects.get(action="import")
    assert audit.details == {"layout": "chase", "new": CREDIT_LINES, "debits": DEBIT_LINES}
    assert audit.note == "chase-june.csv"


def test_reimporting_the_same_statement_adds_nothing(imported):
    june, _ = imported
    before = set(BankDeposit.objects.values_list("pk", flat=True))
    again = bank_statement_import(content=CHASE_JUNE.encode(), layout="chase", entity=june["entity"])
    assert (again.new, again.duplicates, again.debits, again.auto_matched) == (0, CREDIT_LINES, DEBIT_LINES, 0)
    assert set(BankDeposit.objects.values_list("pk", flat=True)) == before
    assert BankDeposit.objects.filter(description="REMOTE ONLINE DEPOSIT 1").count() == 2


def test_a_third_identical_line_in_a_later_statement_is_a_new_deposit(imported):
    june, _ = imported
    header = CHASE_JUNE.splitlines()[0]
    line = 'DSLIP,06/16/2026,"REMOTE ONLINE DEPOSIT 1",250.00,CHECK_DEPOSIT,23688.34,,'
    three = "\n".join([header, line, line, line]) + "\n"
    summary = bank_statement_import(content=three.encode(), layout="chase", entity=june["entity"])
    assert (summary.new, summary.duplicates) == (1, 2)
    assert BankDeposit.objects.filter(description="REMOTE ONLINE DEPOSIT 1").count() == 3


def test_payout_failed_after_paid_is_no_longer_expected_and_its_match_is_flagged(imported):
    june, _ = imported
    po_c = june["po_C"]
    expected = ExpectedDeposit.objects.get(payout=po_c)
    match = _active_match(expected)
    assert match is not None

    # what the ingestion does on payout.failed
    Payout.objects.filter(pk=po_c.pk).update(status=Payout.Status.FAILED, metadata={"failure_code": "account_closed"})
    sync, matched = reconciliation_run(entity=june["entity"])
    assert (sync.cancelled, sync.flagged_matches, matched) == (1, 1, 0)

    expected.refresh_from_db()
    match.refresh_from_db()
    assert expected.status == "cancelled"
    assert "failed after it was paid (account_closed)" in expected.cancelled_reason
    assert match.status == "active" and match.flagged_at is not None
    assert "no longer expected" in match.flag_reason
    flag = ReconciliationAction.objects.get(action="flag", match=match)
    assert flag.actor is None
    assert ReconciliationAction.objects.filter(action="expectation_cancelled", expected=expected).count() == 1

    # a second run changes nothing; a person can no longer match it
    assert reconciliation_run(entity=june["entity"])[0].cancelled == 0
    with pytest.raises(ApplicationError, match="no longer expected"):
        services.deposit_match(
            deposit_ids=[BankDeposit.objects.get(amount_cents=9500).pk], expected_ids=[expected.pk], user=None
        )

    totals = selectors.reconciliation_totals(entity=june["entity"], **JUNE)["USD"]
    assert totals.cancelled_cents == 50000 and totals.cancelled_count == 1
    assert totals.balanced


def test_totals_bridge_expected_to_deposited_and_explain_ledger(imported):
    june, _ = imported
    totals = selectors.reconciliation_totals(entity=june["entity"], **JUNE)
    assert list(totals) == ["USD"]
    t = totals["USD"]
    assert t.expected_cents == 1449234 and t.expected_count == 9
    assert t.deposited_cents == 1448684 and t.deposited_count == 11
    assert (t.unmatched_expected_cents, t.unmatched_expected_count) == (98000, 1)
    assert (t.unmatched_deposits_cents, t.unmatched_deposits_count) == (157450, 4)
    assert t.match_difference_cents == 0
    assert (t.timing_in_cents, t.timing_out_cents) == (0, 60000)  # po_G expected Jun 30, posted Jul 1
    assert t.bridge_cents == t.deposited_cents and t.balanced and not t.reconciled
    # ledger in June: the manual PO; po_A's sale and fee are in May
    assert t.ledger_buckets.as_dict() == {
        **dict.fromkeys(BUCKET_FIELDS, 0),
        "payments_cents": 750000,
        "net_cents": 750000,
    }

    july = selectors.reconciliation_totals(entity=june["entity"], start=date(2026, 7, 1), end=date(2026, 7, 31))
    assert july["USD"].timing_in_cents == 60000 and july["USD"].balanced

    contents = selectors.payout_contents([ExpectedDeposit.objects.select_related("payout").get(reference="po_A")])
    (tie,) = contents.values()
    assert tie.by_kind == {"payment": 130000, "fee": -5000}
    assert tie.difference_cents == 0 and tie.missing == 0


def test_manual_match_with_difference_unmatch_and_flags_are_audited(imported, staff_user):
    po_f = ExpectedDeposit.objects.get(reference="po_F")
    deposit = BankDeposit.objects.get(amount_cents=97950)
    match = services.deposit_match(
        deposit_ids=[deposit.pk], expected_ids=[po_f.pk], user=staff_user, note="bank kept 0.50"
    )
    assert match.difference_cents == -50 and match.method == "manual"
    record = ReconciliationAction.objects.get(action="match", match=match)
    assert record.actor == staff_user and record.details["difference_cents"] == -50

    with pytest.raises(ApplicationError, match="already matched"):
        services.deposit_match(deposit_ids=[deposit.pk], expected_ids=[po_f.pk], user=staff_user)

    services.deposit_unmatch(match=match, user=staff_user, note="wrong one")
    assert ReconciliationAction.objects.get(action="unmatch", match=match).actor == staff_user
    assert _active_match(po_f) is None

    mobile = BankDeposit.objects.get(amount_cents=9500)
    with pytest.raises(ApplicationError, match="Say why"):
        services.reconciliation_flag(target=mobile, reason=" ", user=staff_user)
    services.reconciliation_flag(target=mobile, reason="customer check, no invoice found", user=staff_user)
    services.reconciliation_unflag(target=mobile, user=staff_user)
    assert list(
        ReconciliationAction.objects.filter(deposit=mobile).order_by("id").values_list("action", "actor", "note")
    ) == [("flag", staff_user.pk, "customer check, no invoice found"), ("unflag", staff_user.pk, "")]


def test_mixed_currencies_are_refused(imported, entities):
    june, _ = imported
    eur = BankDeposit.objects.create(
        entity=june["entity"], posted_on=date(2026, 6, 22), amount_cents=98000, currency="EUR", dedupe_key="eur-1"
    )
    with pytest.raises(ApplicationError, match="mix currencies"):
        services.deposit_match(
            deposit_ids=[eur.pk], expected_ids=[ExpectedDeposit.objects.get(reference="po_F").pk], user=None
        )


def test_reversed_manual_entry_is_no_longer_expected(june):
    from revenue.services import revenue_event_reverse

    services.expected_deposits_sync()
    revenue_event_reverse(event=june["manual"], reason="PO cancelled")
    sync = services.expected_deposits_sync()
    assert sync.cancelled == 1
    assert ExpectedDeposit.objects.get(event=june["manual"]).status == "cancelled"


def test_import_bank_statement_command(june, tmp_path, capsys):
    path = tmp_path / "chase.csv"
    path.write_text(CHASE_JUNE)
    call_command("import_bank_statement", str(path), "--format", "chase", "--entity", "aplus-enterprise")
    out = capsys.readouterr().out
    assert f"{CREDIT_LINES} new deposit(s), 0 already imported, 1 debit line(s) skipped, 7 matched" in out
    call_command("import_bank_statement", str(path), "--format", "chase", "--entity", "aplus-enterprise")
    assert f"0 new deposit(s), {CREDIT_LINES} already imported" in capsys.readouterr().out


def test_command_refuses_a_bad_file_naming_line_and_column(entities, tmp_path):
    from django.core.management.base import CommandError

    path = tmp_path / "bad.csv"
    path.write_text("Date,Description,Amount\n2026-06-01,STRIPE,10.00\n2026-06-02,STRIPE,12.3.4\n")
    with pytest.raises(CommandError, match=r"line 3, column 'Amount': '12.3.4' is not a number"):
        call_command("import_bank_statement", str(path))
    assert BankDeposit.objects.count() == 0


def test_window_is_configurable(june, settings):
    settings.RECONCILIATION_WINDOW_BUSINESS_DAYS = 0
    summary = bank_statement_import(content=CHASE_JUNE.encode(), layout="chase", entity=june["entity"])
    # same-day exact matches still go through; Gumroad (Fri -> Mon), the wire (2 days), po_B's second
    # half (1 day), the bundle... po_G (1 day) need a window
    gumroad = ExpectedDeposit.objects.get(reference="gp_2026_06_05")
    assert _active_match(gumroad) is None
    assert _active_match(ExpectedDeposit.objects.get(reference="po_A")) is not None
    assert summary.auto_matched == 3  # po_A, po_C, and the po_D + po_E bundle (all same day)


def test_a_po_recorded_through_the_form_expecting_a_deposit_is_matched_by_its_wire(staff_client, entities):
    """The form and reconciliation share one metadata key: the PO becomes an expected deposit."""
    from django.urls import reverse

    form = {
        "entity": entities["legacy-unchained"].pk,
        "customer_email": "ap@contoso.example",
        "customer_name": "Contoso",
        "reference": "PO-9001",
        "amount": "8,250.00",
        "currency": "USD",
        "received_on": "2026-06-10",
        "description": "Consulting, June",
    }
    no_deposit = {**form, "reference": "PO-9002"}  # the box left unticked: nothing is expected
    for data in ({**form, "expects_bank_deposit": "on"}, no_deposit):
        assert staff_client.post(reverse("admin:revenue_revenueevent_record"), data).status_code == 302

    assert services.expected_deposits_sync().created == 1
    expected = ExpectedDeposit.objects.get()
    assert (expected.source, expected.amount_cents, expected.reference) == ("manual", 825000, "PO-9001")
    assert (expected.entity, expected.expected_on) == (entities["legacy-unchained"], date(2026, 6, 10))

    wire = "Details,Posting Date,Description,Amount,Type,Balance,Check or Slip #\n"
    wire += "CREDIT,06/12/2026,WIRE FROM CONTOSO PO-9001,8250.00,WIRE_INCOMING,,\n"
    summary = bank_statement_import(
        content=wire.encode(), layout="chase", entity=entities["legacy-unchained"], statement_name="wire.csv"
    )
    assert (summary.new, summary.auto_matched) == (1, 1)
    assert _active_match(expected) is not None

"""The reconciliation page and the statement import, driven through the real Django admin."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from revenue.models import BankDeposit, DepositMatch, ExpectedDeposit, ReconciliationAction
from revenue.reconciliation.bank_formats import STATEMENT_FORMATS
from revenue.reconciliation.services import bank_statement_import
from revenue.tests.reconciliation_fixtures import CHASE_JUNE, CREDIT_LINES, june_scenario

pytestmark = pytest.mark.django_db

PAGE = "admin:revenue_bankdeposit_reconciliation"
JUNE = "?entity=aplus-enterprise&start=2026-06-01&end=2026-06-30"


@pytest.fixture
def imported(entities):
    june = june_scenario(entities)
    bank_statement_import(content=CHASE_JUNE.encode(), layout="chase", entity=june["entity"])
    return june


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_page_shows_expected_deposited_matched_unmatched_and_differences(
    staff_client, imported, django_assert_max_num_queries
):
    with django_assert_max_num_queries(25):
        response = staff_client.get(reverse(PAGE) + JUNE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Reconciliation: A+ Enterprise LLC" in html
    bridge = re.sub(r"\s+", " ", html[html.index('id="bridge-USD"') : html.index('id="ledger-USD"')])
    assert 'Expected deposits (9)</td><td class="num">14,492.34 USD' in bridge
    assert 'not (yet) in the bank (1)</td><td class="num">-980.00 USD' in bridge
    assert 'with no source (4)</td><td class="num">1,574.50 USD' in bridge
    assert 'deposited in another</td><td class="num">-600.00 USD' in bridge
    assert 'Deposited in the bank (11)</td><td class="num">14,486.84 USD' in bridge
    assert "does not balance" not in bridge
    # the near miss is offered to a person with its score; po_A's contents tie out
    po_f = ExpectedDeposit.objects.get(reference="po_F")
    deposit = BankDeposit.objects.get(amount_cents=97950)
    assert f'value="match:{po_f.pk}:{deposit.pk}"' in html
    assert "amount differs by -0.50 USD" in html
    assert "contents: 2 ledger rows" in html and "ties out" in html
    assert len(re.findall(r'<tr id="match-', html)) == 7


def test_page_queries_do_not_grow_with_rows(staff_client, imported, django_assert_max_num_queries):
    from datetime import date, timedelta

    from revenue.models import Payout

    entity = imported["entity"]
    for n in range(40):
        day = date(2026, 6, 1) + timedelta(days=n % 28)
        Payout.objects.create(
            provider="stripe",
            payout_id=f"po_bulk_{n}",
            entity=entity,
            amount_cents=10_000 + 10 * n,
            currency="USD",
            arrival_on=day,
            metadata={"balance_transactions": [imported["sale"].event_id]},
        )
        BankDeposit.objects.create(
            entity=entity,
            posted_on=day,
            amount_cents=10_000 + 10 * n + 3 * (n % 2),
            currency="USD",
            description=f"STRIPE TRANSFER BULK {n}",
            dedupe_key=f"bulk-{n}",
        )
    staff_client.post(reverse(PAGE) + JUNE, {"op": "refresh"})
    assert DepositMatch.objects.filter(status="active").count() == 7 + 20
    with django_assert_max_num_queries(25):
        response = staff_client.get(reverse(PAGE) + JUNE)
    assert response.status_code == 200


def test_match_unmatch_and_flag_actions_are_audited(staff_client, staff_user, imported):
    url = reverse(PAGE) + JUNE
    po_f = ExpectedDeposit.objects.get(reference="po_F")
    deposit = BankDeposit.objects.get(amount_cents=97950)

    response = staff_client.post(
        url, {"op": f"match:{po_f.pk}:{deposit.pk}", "note": "bank kept 0.50", f"score-{po_f.pk}-{deposit.pk}": "94"}
    )
    assert response.status_code == 302 and response.url.endswith(JUNE.replace("?", "?", 1))
    assert any("difference -0.50 USD" in m for m in _messages(response))
    match = DepositMatch.objects.get(status="active", items__expected=po_f)
    assert (match.method, match.created_by, match.score, match.difference_cents) == ("manual", staff_user, 94, -50)
    assert ReconciliationAction.objects.get(action="match", match=match).actor == staff_user

    response = staff_client.post(url, {"op": f"unmatch:{match.pk}", "note": "checking with Stripe"})
    match.refresh_from_db()
    assert match.status == "undone" and match.undone_by == staff_user
    assert ReconciliationAction.objects.get(action="unmatch", match=match).note == "checking with Stripe"

    # match by ticking boxes on both sides
    response = staff_client.post(url, {"op": "match_selected", "expected": [po_f.pk], "deposit": [deposit.pk]})
    assert DepositMatch.objects.filter(status="active", items__deposit=deposit).count() == 1

    mobile = BankDeposit.objects.get(amount_cents=9500)
    response = staff_client.post(url, {"op": f"flag:deposit:{mobile.pk}", "note": ""})
    assert "Say why you flag it" in _messages(response)
    mobile.refresh_from_db()
    assert mobile.flagged_at is None

    response = staff_client.post(url, {"op": f"flag:deposit:{mobile.pk}", "note": "no invoice found"})
    mobile.refresh_from_db()
    assert mobile.flag_reason == "no invoice found"
    flag = ReconciliationAction.objects.get(action="flag", deposit=mobile)
    assert (flag.actor, flag.note) == (staff_user, "no invoice found")

    page = staff_client.get(url).content.decode()
    assert "no invoice found" in page and f'value="unflag:deposit:{mobile.pk}"' in page

    # a match already taken is refused with a message, not a 500
    response = staff_client.post(url, {"op": "match_selected", "expected": [po_f.pk], "deposit": [deposit.pk]})
    assert response.status_code == 302
    assert any("already matched" in m for m in _messages(response))
    response = staff_client.post(url, {"op": "match:not-a-uuid:x"})
    assert response.status_code == 302


def test_refresh_button_picks_up_a_failed_payout(staff_client, imported):
    from revenue.models import Payout

    Payout.objects.filter(payout_id="po_C").update(status="failed")
    response = staff_client.post(reverse(PAGE) + JUNE, {"op": "refresh"})
    assert any("1 no longer expected" in m for m in _messages(response))
    html = staff_client.get(reverse(PAGE) + JUNE).content.decode()
    assert "Stripe payout po_C failed after it was paid" in html
    assert "Not counted: 1 no longer expected" in html


def test_page_needs_staff(client, imported):
    response = client.get(reverse(PAGE))
    assert response.status_code == 302 and "/admin/login/" in response.url


def test_statement_import_through_admin_preview_then_confirm(staff_client, staff_user, entities):
    june_scenario(entities)
    entity = entities["aplus-enterprise"]
    import_url = reverse("admin:revenue_bankdeposit_import")
    assert staff_client.get(import_url).status_code == 200
    chase = str(list(STATEMENT_FORMATS).index("chase"))
    upload = SimpleUploadedFile("chase-june.csv", CHASE_JUNE.encode(), content_type="text/csv")
    preview = staff_client.post(
        import_url, {"import_file": upload, "format": chase, "entity": entity.pk, "currency": "USD", "mapping": ""}
    )
    assert preview.status_code == 200
    assert BankDeposit.objects.count() == 0  # a preview writes nothing
    confirm = preview.context["confirm_form"]
    assert confirm is not None, preview.context["form"].errors
    result = preview.context["result"]
    assert result.totals["new"] == CREDIT_LINES and result.totals["skip"] == 1

    done = staff_client.post(reverse("admin:revenue_bankdeposit_process_import"), confirm.initial)
    assert done.status_code == 302
    assert BankDeposit.objects.filter(entity=entity).count() == CREDIT_LINES
    assert BankDeposit.objects.filter(imported_by=staff_user, statement_name="chase-june.csv").count() == CREDIT_LINES
    audit = ReconciliationAction.objects.get(action="import")
    assert audit.actor == staff_user and audit.details["new"] == CREDIT_LINES
    assert DepositMatch.objects.filter(status="active").count() == 7

    # the same file again: the preview shows every line skipped, and confirming adds nothing
    upload = SimpleUploadedFile("chase-june.csv", CHASE_JUNE.encode(), content_type="text/csv")
    preview = staff_client.post(
        import_url, {"import_file": upload, "format": chase, "entity": entity.pk, "currency": "USD", "mapping": ""}
    )
    assert preview.context["result"].totals["new"] == 0
    staff_client.post(reverse("admin:revenue_bankdeposit_process_import"), preview.context["confirm_form"].initial)
    assert BankDeposit.objects.count() == CREDIT_LINES


def test_admin_import_shows_line_and_column_of_a_bad_value(staff_client, entities):
    upload = SimpleUploadedFile("bad.csv", b"Date,Description,Amount\n2026-06-01,STRIPE,abc\n", content_type="text/csv")
    response = staff_client.post(
        reverse("admin:revenue_bankdeposit_import"),
        {"import_file": upload, "format": "0", "entity": entities["aplus-enterprise"].pk, "currency": "USD"},
    )
    assert response.status_code == 200
    assert "line 2, column &#x27;Amount&#x27;: &#x27;abc&#x27; is not a number" in response.content.decode()
    assert response.context.get("confirm_form") is None
    bad_mapping = SimpleUploadedFile("x.csv", b"a,b\n", content_type="text/csv")
    response = staff_client.post(
        reverse("admin:revenue_bankdeposit_import"),
        {
            "import_file": bad_mapping,
            "format": "0",
            "entity": entities["aplus-enterprise"].pk,
            "currency": "USD",
            "mapping": "when=x",
        },
    )
    assert "Unknown mapping key" in response.content.decode()


def test_changelists_of_the_reconciliation_models_render(staff_client, imported):
    for name in ("bankdeposit", "expecteddeposit", "depositmatch", "reconciliationaction"):
        response = staff_client.get(reverse(f"admin:revenue_{name}_changelist"))
        assert response.status_code == 200, name
    match = DepositMatch.objects.first()
    assert staff_client.get(reverse("admin:revenue_depositmatch_change", args=[match.pk])).status_code == 200


def test_an_unexplained_deposit_is_added_as_a_ledger_entry_and_matched_in_one_step(staff_client, imported):
    from datetime import date

    from revenue.business_time import business_date_of
    from revenue.models import LedgerAuditEntry, RevenueEvent
    from revenue.reconciliation.services import reconciliation_flag

    check = BankDeposit.objects.get(description="MOBILE DEPOSIT REF 0012")
    reconciliation_flag(target=check, reason="No invoice found yet", user=None)
    url = reverse(PAGE) + JUNE
    html = staff_client.get(url).content.decode()
    assert f'value="add_entry:{check.pk}"' in html
    bridge = re.sub(r"\s+", " ", html[html.index('id="bridge-USD"') : html.index('id="ledger-USD"')])
    assert "with no source (4)" in bridge

    incomplete = staff_client.post(url, {"op": f"add_entry:{check.pk}", f"entry-kind-{check.pk}": "payment"})
    assert "name who paid and say what the money is for" in " ".join(_messages(incomplete))
    assert not RevenueEvent.objects.filter(metadata__bank_deposit_id=str(check.pk)).exists()

    form = {
        "op": f"add_entry:{check.pk}",
        f"entry-kind-{check.pk}": "payment",
        f"entry-counterparty-{check.pk}": "Fabrikam",
        f"entry-reason-{check.pk}": "Check 1042 for invoice 77",
    }
    added = staff_client.post(url, form)
    assert "Added to the ledger and matched: 95.00 USD deposited for 95.00 USD expected" in " ".join(_messages(added))
    event = RevenueEvent.objects.get(metadata__bank_deposit_id=str(check.pk))
    assert (event.provider, event.kind, event.amount_cents, event.currency) == ("manual", "payment", 9500, "USD")
    assert business_date_of(event.occurred_at) == date(2026, 6, 15)  # the day the bank posted it
    assert event.metadata["customer_name"] == "Fabrikam" and event.description == "Check 1042 for invoice 77"
    assert LedgerAuditEntry.objects.get(event=event).actor.username == "staff"
    match = DepositMatch.objects.get(items__deposit=check, items__active=True)
    assert (match.method, match.difference_cents, match.created_by.username) == ("manual", 0, "staff")
    assert ReconciliationAction.objects.filter(match=match, action="match").exists()
    check.refresh_from_db()
    assert check.flagged_at is None and ReconciliationAction.objects.filter(deposit=check, action="unflag").exists()

    html = staff_client.get(url).content.decode()
    bridge = re.sub(r"\s+", " ", html[html.index('id="bridge-USD"') : html.index('id="ledger-USD"')])
    assert "with no source (3)" in bridge and "does not balance" not in bridge

    again = staff_client.post(url, form)  # a double submit books nothing twice
    assert "already matched" in " ".join(_messages(again))
    assert RevenueEvent.objects.filter(metadata__bank_deposit_id=str(check.pk)).count() == 1


def test_a_deposit_is_added_only_as_a_payment_or_an_adjustment(staff_client, imported):
    from revenue.models import RevenueEvent

    line = "Details,Posting Date,Description,Amount,Type,Balance,Check or Slip #\n"
    line += "CREDIT,06/30/2026,INTEREST PAYMENT,1.23,ACH_CREDIT,,\n"
    bank_statement_import(content=line.encode(), layout="chase", entity=imported["entity"])
    interest = BankDeposit.objects.get(description="INTEREST PAYMENT")
    url = reverse(PAGE) + JUNE
    form = {
        "op": f"add_entry:{interest.pk}",
        f"entry-counterparty-{interest.pk}": "Bank",
        f"entry-reason-{interest.pk}": "Interest",
    }
    refused = staff_client.post(url, {**form, f"entry-kind-{interest.pk}": "refund"})
    assert "a payment or an adjustment, not 'refund'" in " ".join(_messages(refused))
    staff_client.post(url, {**form, f"entry-kind-{interest.pk}": "adjustment"})
    assert RevenueEvent.objects.get(metadata__bank_deposit_id=str(interest.pk)).kind == "adjustment"


def _preview(staff_client, content: bytes, *, entity, layout: str = "", name: str = "statement.csv"):
    fmt = str(list(STATEMENT_FORMATS).index(layout)) if layout else ""
    upload = SimpleUploadedFile(name, content, content_type="text/csv")
    data = {"import_file": upload, "format": fmt, "entity": entity.pk, "currency": "USD", "mapping": ""}
    return staff_client.post(reverse("admin:revenue_bankdeposit_import"), data)


def test_statement_import_speaks_the_accountants_language(staff_client, entities):
    june_scenario(entities)
    legacy, aplus = entities["legacy-unchained"], entities["aplus-enterprise"]
    # coming from Legacy's reconciliation page, the form is for Legacy
    page = staff_client.get(reverse(PAGE) + "?entity=legacy-unchained").content.decode()
    assert "/admin/revenue/bankdeposit/import/?entity=legacy-unchained" in page
    form = staff_client.get(reverse("admin:revenue_bankdeposit_import") + "?entity=legacy-unchained")
    assert form.context["form"].initial["entity"] == legacy.pk
    assert "amount_cents" not in form.content.decode()  # no developer field list

    # the format left empty: recognised and named; every line as money with what happens to it
    preview = _preview(staff_client, CHASE_JUNE.encode(), entity=aplus)
    html = re.sub(r"\s+", " ", preview.content.decode())
    assert "Read as: <strong>Chase business checking CSV</strong>" in html
    assert '<td class="num">7,500.00 USD</td> <td>new deposit</td>' in html
    assert '<td class="num">-2,000.00 USD</td> <td>not a deposit (money out): ignored</td>' in html
    assert "750000" not in html and "dedupe" not in html

    # confirm: back on the reconciliation page of that entity and month, saying what matched
    done = staff_client.post(
        reverse("admin:revenue_bankdeposit_process_import"), preview.context["confirm_form"].initial, follow=True
    )
    assert done.redirect_chain[-1][0] == reverse(PAGE) + "?start=2026-06-01&end=2026-06-30&entity=aplus-enterprise"
    assert _messages(done) == [
        f"{CREDIT_LINES} new deposit(s), 0 already imported, 1 debit line(s) ignored; 7 matched automatically."
    ]


@pytest.mark.parametrize(
    ("content", "layout", "message"),
    [
        (CHASE_JUNE.encode(), "wells_fargo", "looks like Chase business checking CSV, not Wells Fargo CSV"),
        (CHASE_JUNE.encode(), "ofx", "looks like Chase business checking CSV, not OFX / QFX file"),
        (b"Posted,Memo,Credit\n2026-06-01,x,1.00\n", "", "matches none of the layouts"),
        (b"OFXHEADER:100\nDATA:OFXSGML\n<OFX><BROKEN", "ofx", "Not a readable OFX / QFX file ("),
    ],
    ids=["chase-as-wells-fargo", "chase-as-ofx", "unknown-columns", "broken-ofx"],
)
def test_a_statement_in_the_wrong_layout_gets_one_sentence(staff_client, entities, content, layout, message):
    response = _preview(staff_client, content, entity=entities["aplus-enterprise"], layout=layout)
    html = response.content.decode().replace("&#x27;", "'")
    assert message in html, html[html.find("errorlist") - 200 : html.find("errorlist") + 800]
    assert "Traceback" not in html and "CREDIT,07/01/2026" not in html  # never the file itself
    assert response.context.get("confirm_form") is None and BankDeposit.objects.count() == 0

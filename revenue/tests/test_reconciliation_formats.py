"""Statement layouts (generic + mapping, Chase, Bank of America, Wells Fargo, OFX) and the pure matching rules."""

from __future__ import annotations

from datetime import date

import pytest

from revenue.errors import ApplicationError
from revenue.models import BankDeposit
from revenue.reconciliation import matching
from revenue.reconciliation.bank_formats import StatementError, parse_mapping
from revenue.reconciliation.services import bank_statement_import

BOFA = """Description,,Summary Amt.
Beginning balance as of 06/01/2026,,"10,000.00"
Total credits,,"2,662.34"
Total debits,,"-45.00"
Ending balance as of 06/30/2026,,"12,617.34"

Date,Description,Amount,Running Bal.
06/01/2026,Beginning balance as of 06/01/2026,,"10,000.00"
06/02/2026,"STRIPE DES:TRANSFER ID:ST-A1 INDN:A PLUS ENTERPRISE CO ID:1800948598 CCD","1,250.00","11,250.00"
06/03/2026,"MONTHLY MAINTENANCE FEE","-45.00","11,205.00"
06/08/2026,"GUMROAD DES:PAYOUT ID:GR0605 INDN:A PLUS ENTERPRISE CO ID:1453234 CCD","1,412.34","12,617.34"
"""

WELLS_FARGO = """"06/02/2026","1250.00","*","","STRIPE TRANSFER ST-A1"
"06/03/2026","-45.00","*","","MONTHLY SERVICE FEE"
"06/05/2026","300.00","*","1044","DEPOSITED ITEM"
"""

OFX = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX>
<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20260701120000<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>USD
<BANKACCTFROM><BANKID>021000021<ACCTID>000123456789<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20260601<DTEND>20260630
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260602120000<TRNAMT>1250.00<FITID>2026060201<NAME>STRIPE TRANSFER<MEMO>ST-A1</STMTTRN>
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260616120000<TRNAMT>250.00<FITID>2026061601<NAME>REMOTE ONLINE DEPOSIT</STMTTRN>
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260616120000<TRNAMT>250.00<FITID>2026061602<NAME>REMOTE ONLINE DEPOSIT</STMTTRN>
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20260603120000<TRNAMT>-45.00<FITID>2026060301<NAME>SERVICE FEE</STMTTRN>
</BANKTRANLIST>
<LEDGERBAL><BALAMT>12617.34<DTASOF>20260630</LEDGERBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1>
</OFX>
"""


@pytest.mark.django_db
def test_bank_of_america_skips_the_summary_block_and_balance_lines(entities):
    entity = entities["aplus-enterprise"]
    summary = bank_statement_import(content=BOFA.encode(), layout="bofa", entity=entity)
    assert (summary.new, summary.debits) == (2, 1)
    rows = list(BankDeposit.objects.order_by("posted_on").values_list("posted_on", "amount_cents", "source_format"))
    assert rows == [(date(2026, 6, 2), 125000, "bofa"), (date(2026, 6, 8), 141234, "bofa")]


@pytest.mark.django_db
def test_wells_fargo_headerless_with_check_number_as_reference(entities):
    summary = bank_statement_import(
        content=WELLS_FARGO.encode(), layout="wells_fargo", entity=entities["legacy-unchained"]
    )
    assert (summary.new, summary.debits) == (2, 1)
    check = BankDeposit.objects.get(amount_cents=30000)
    assert (check.bank_reference, check.dedupe_key, check.statement_line) == ("1044", "ref::1044", 3)


@pytest.mark.django_db
def test_ofx_uses_fitid_so_identical_lines_stay_two_and_reimport_adds_nothing(entities):
    entity = entities["aplus-enterprise"]
    first = bank_statement_import(content=OFX.encode(), layout="ofx", entity=entity)
    assert (first.new, first.debits) == (3, 1)
    assert set(BankDeposit.objects.values_list("bank_reference", flat=True)) == {
        "2026060201",
        "2026061601",
        "2026061602",
    }
    assert BankDeposit.objects.get(bank_reference="2026060201").account == "000123456789"
    again = bank_statement_import(content=OFX.encode(), layout="ofx", entity=entity)
    assert (again.new, again.duplicates) == (0, 3)


@pytest.mark.django_db
def test_generic_with_column_mapping_and_credit_column(entities):
    text = 'Posted On,Memo,Credit,Debit,Ref\n2026-06-02,STRIPE TRANSFER,"1,250.00",,A1\n2026-06-03,FEE,,45.00,\n'
    summary = bank_statement_import(
        content=text.encode(),
        layout="generic",
        entity=entities["aplus-enterprise"],
        mapping=parse_mapping("date=Posted On,description=Memo,credit=Credit,debit=Debit,reference=Ref"),
    )
    assert (summary.new, summary.debits) == (1, 1)
    assert BankDeposit.objects.get().amount_cents == 125000


@pytest.mark.django_db
def test_missing_column_and_bad_date_are_named_and_nothing_is_imported(entities):
    entity = entities["aplus-enterprise"]
    with pytest.raises(
        ApplicationError, match=r"Columns 'Description', 'Amount' are not in the file; its columns are: Date, Memo$"
    ):
        bank_statement_import(content=b"Date,Memo\n2026-06-01,x\n", layout="generic", entity=entity)
    bad_date = "Date,Description,Amount\n2026-06-01,STRIPE,10.00\n13/45/2026,STRIPE,11.00\n"
    with pytest.raises(ApplicationError, match=r"line 3, column 'Date': '13/45/2026' is not a date"):
        bank_statement_import(content=bad_date.encode(), layout="generic", entity=entity)
    with pytest.raises(ApplicationError, match="No header row"):
        bank_statement_import(content=b"nothing,here\n", layout="chase", entity=entity)
    with pytest.raises(ApplicationError, match="Not a readable OFX"):
        bank_statement_import(content=b"<html></html>", layout="ofx", entity=entity)
    assert BankDeposit.objects.count() == 0


def test_mapping_parser_names_the_problem():
    assert parse_mapping("date=Posted, amount=Amt ,description=Memo") == {
        "date": "Posted",
        "amount": "Amt",
        "description": "Memo",
    }
    with pytest.raises(StatementError, match="Unknown mapping key 'when'"):
        parse_mapping("when=Posted")
    with pytest.raises(StatementError, match="needs description"):
        parse_mapping("date=Posted,amount=Amt")


def test_business_days_and_window():
    fri, mon, next_fri = date(2026, 6, 5), date(2026, 6, 8), date(2026, 6, 12)
    assert matching.business_days_between(fri, mon) == 1
    assert matching.business_days_between(mon, fri) == 1
    assert matching.business_days_between(fri, next_fri) == 5
    assert matching.business_days_before(mon, 5) == date(2026, 6, 1)


def _e(pk, cents, on, source="stripe_payout", hints=(), currency="USD"):
    return matching.Expected(pk, cents, currency, on, source, hints)


def _d(pk, cents, on, description="STRIPE TRANSFER", currency="USD"):
    return matching.Deposit(pk, cents, currency, on, description)


def test_auto_match_rules_need_amount_window_and_description():
    day = date(2026, 6, 2)
    plans = matching.plan_auto_matches(
        [_e("a", 1000, day), _e("b", 2000, day), _e("c", 3000, day), _e("m", 5000, day, "manual", ("PO-77",))],
        [
            _d(1, 1000, date(2026, 6, 10)),  # 6 business days: outside the window
            _d(2, 2000, day, "MOBILE DEPOSIT"),  # does not say STRIPE
            _d(3, 3000, day, "STRIPE TRANSFER"),
            _d(4, 5000, day, "WIRE IN ACME PO 77"),  # the PO reference, spaced differently
        ],
        window=5,
    )
    assert {(p.expected_ids, p.deposit_ids, p.kind) for p in plans} == {
        (("c",), (3,), "exact"),
        (("m",), (4,), "exact"),
    }


def test_ambiguous_split_is_left_for_a_person():
    day = date(2026, 6, 2)
    deposits = [_d(1, 100, day), _d(2, 200, day), _d(3, 300, day), _d(4, 100, day)]
    # 400 = 100+300 = 300+100(#4) = 100+200+100: three ways, so no automatic split
    plans = matching.plan_auto_matches([_e("x", 400, day)], deposits, window=5)
    assert plans == []
    plans = matching.plan_auto_matches([_e("y", 600, day)], deposits[:3], window=5)
    assert plans == [matching.PlannedMatch(("y",), (1, 2, 3), "split")]


def test_candidate_scores_order_near_misses():
    day = date(2026, 6, 22)
    expected = _e("f", 98000, day)
    near = matching.score_candidate(expected, _d(1, 97950, date(2026, 6, 23)), window=5)
    far = matching.score_candidate(expected, _d(2, 25000, date(2026, 6, 18), "REMOTE DEPOSIT"), window=5)
    assert near.score > 90 > 40 > far.score
    assert near.reasons[0] == "amount differs by -0.50 USD"


def test_only_an_exact_match_scores_100():
    day = date(2026, 6, 22)
    expected = _e("f", 50000, day)
    exact = matching.score_candidate(expected, _d(1, 50000, day, "STRIPE TRANSFER"), window=5)
    near = matching.score_candidate(expected, _d(2, 49950, day, "STRIPE TRANSFER"), window=5)
    assert exact.score == 100 and exact.reasons[0] == "amount exact"
    assert near.score == 99  # 99.5 before: shown as 100, the score of an exact match
    assert near.reasons[0] == "amount differs by -0.50 USD"
    over = matching.score_candidate(_e("y", 5000, day, currency="JPY"), _d(3, 5100, day, currency="JPY"), window=5)
    assert over.reasons[0] == "amount differs by +100 JPY"

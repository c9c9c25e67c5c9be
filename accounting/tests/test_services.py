"""The accountant files built from a known June: columns, totals tied to the money buckets, reversal
links, journals that balance, and the refusals (unmapped account, no USD rate) that make no file."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from accounting.models import AccountMapping
from accounting.selectors import ExportScope, export_entity, export_period
from accounting.services import (
    LEDGER_HEADER,
    QBO_HEADER,
    SUMMARY_HEADER,
    XERO_HEADER,
    FileKind,
    JournalRefused,
    JournalTarget,
    accountant_file_build,
    journals_build,
)
from revenue.errors import ApplicationError
from revenue.money import from_minor_units
from revenue.selectors import BUCKET_LABELS, BUCKETS, money_buckets

from .conftest import JUNE, csv_rows, xlsx_rows


def _scope(entities, slug="aplus-enterprise") -> ExportScope:
    return ExportScope(entities[slug] if slug else None, *JUNE)


def _content(file) -> bytes:
    return file.content if isinstance(file.content, bytes) else b"".join(file.content)


def _buckets(scope: ExportScope):
    start, end = scope.bounds
    return money_buckets(start=start, end=end, entity=scope.entity)


def _dec(text: str) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def test_ledger_csv_columns_and_totals_tie_to_the_buckets(june_ledger, entities, django_assert_max_num_queries):
    scope = _scope(entities)
    with django_assert_max_num_queries(2):
        file = accountant_file_build(scope=scope, kind=FileKind.LEDGER_CSV)
        content = _content(file)
    assert file.filename == "ledger_aplus-enterprise_2026-06.csv"
    rows = csv_rows(content)
    assert list(rows[0]) == list(LEDGER_HEADER)
    ids = {row["Event id"] for row in rows}
    assert "legacy" not in {row["Entity"] for row in rows} and june_ledger["legacy"].event_id not in ids
    assert june_ledger["last_evening"].event_id in ids  # 23:30 CDT on June 30 is June's
    assert june_ledger["july"].event_id not in ids and june_ledger["may"].event_id not in ids

    by_currency: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        for column in ("Gross", "Fee", "Net"):
            by_currency[row["Currency"]][column] += _dec(row[column])
        by_currency[row["Currency"]][row["Bucket"]] += _dec(row["Net"])
    for currency, buckets in _buckets(scope).items():
        sums = by_currency[currency]
        assert sums["Net"] == from_minor_units(buckets.net_cents, currency)
        assert sums["Fee"] == from_minor_units(buckets.fees_cents, currency)
        assert sums["Gross"] == from_minor_units(buckets.net_cents - buckets.fees_cents, currency)
        for name in BUCKETS:
            assert sums[BUCKET_LABELS[name]] == from_minor_units(getattr(buckets, f"{name}_cents"), currency)


def test_ledger_csv_shows_dates_fees_rates_and_reversal_links(june_ledger, entities):
    rows = {
        row["Event id"]: row
        for row in csv_rows(_content(accountant_file_build(scope=_scope(entities), kind=FileKind.LEDGER_CSV)))
    }
    sale = rows["stripe:pi_1"]
    assert sale["Happened on"] == sale["Effective date"] == "2026-06-02"
    assert sale["Gross"] == "250.00" and sale["Fee"] == "" and sale["Net"] == "250.00"
    assert sale["Fees on this sale"] == "-7.55" and sale["Sale net of fees"] == "242.45"
    assert sale["USD equivalent"] == "250.00" and sale["Rate source"] == "Reporting currency (rate 1)"
    assert sale["Counterparty"].endswith("@example.com")
    fee = rows["stripe:fee:txn_1"]
    assert fee["Gross"] == "" and fee["Fee"] == "-7.55" and fee["Belongs to"] == "stripe:pi_1"
    assert fee["Fees on this sale"] == ""
    eur = rows["stripe:pi_eur"]
    assert eur["Net"] == "49.00" and eur["USD equivalent"] == "53.17" and eur["Rate"] == "1.0851020408"
    assert eur["Rate source"] == "Stripe balance transaction"
    assert eur["Fees on this sale"] == eur["Sale net of fees"] == ""  # no fee row in EUR: unknown, not zero
    assert rows["manual:aplus:PO-JP"]["Net"] == "5000" and rows["manual:aplus:PO-JP"]["Rate source"] == "no rate"
    assert rows["manual:aplus:PO-KW"]["Net"] == "1.234"
    assert rows["manual:aplus:PO-KW"]["Description"].startswith("'=")  # formula guarded
    po, reversal = rows["manual:aplus:PO-9"], rows[june_ledger["po_reversal"].event_id]
    assert po["Reversed by"] == reversal["Event id"] and reversal["Reverses"] == "manual:aplus:PO-9"
    assert po["Counterparty"] == "PO-9"
    assert reversal["Effective date"] == "2026-06-20"  # dated in the period of what it corrects
    assert reversal["Happened on"] == reversal["Posted (America/Chicago)"][:10]  # when a person posted it
    assert reversal["Bucket"] == "Adjustments" and reversal["Net"] == "-300.00"


def test_ledger_xlsx_reads_back_with_the_same_figures(june_ledger, entities):
    scope = _scope(entities)
    file = accountant_file_build(scope=scope, kind=FileKind.LEDGER_XLSX)
    assert file.filename.endswith(".xlsx") and file.content[:2] == b"PK"
    sheet = xlsx_rows(_content(file))
    assert sheet[0] == list(LEDGER_HEADER)
    header = sheet[0]
    net, currency, event_id = header.index("Net"), header.index("Currency"), header.index("Event id")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in sheet[1:]:
        totals[row[currency]] += _dec(row[net])
    for code, buckets in _buckets(scope).items():
        assert totals[code] == from_minor_units(buckets.net_cents, code)
    kwd = next(row for row in sheet if row[event_id] == "manual:aplus:PO-KW")
    assert kwd[header.index("Description")] == '=HYPERLINK("http://x")'  # text, never a formula
    assert kwd[0] == "2026-06-10"  # a real spreadsheet date (xlsx_rows reads dates back as ISO dates)


def test_xlsx_opens_with_openpyxl(june_ledger, entities):
    import io

    import openpyxl

    file = accountant_file_build(scope=_scope(entities), kind=FileKind.LEDGER_XLSX)
    sheet = openpyxl.load_workbook(io.BytesIO(_content(file))).active
    assert [cell.value for cell in sheet[1]] == list(LEDGER_HEADER)
    assert sheet.max_row == 1 + 15


def test_summary_lines_tie_to_the_buckets_per_currency(june_ledger, entities, django_assert_max_num_queries):
    scope = _scope(entities)
    with django_assert_max_num_queries(1):
        file = accountant_file_build(scope=scope, kind=FileKind.SUMMARY_CSV)
    rows = csv_rows(_content(file))
    assert list(rows[0]) == list(SUMMARY_HEADER)
    assert {row["Month"] for row in rows} == {"2026-06"} and {row["Entity"] for row in rows} == {"A+ Enterprise LLC"}
    for currency, buckets in _buckets(scope).items():
        mine = [row for row in rows if row["Currency"] == currency]
        net = next(row for row in mine if row["Line"] == "net")
        assert _dec(net["Amount"]) == from_minor_units(buckets.net_cents, currency)
        assert int(net["Rows"]) == buckets.count
        for name in BUCKETS:
            line = next(row for row in mine if row["Line"] == "bucket" and row["Name"] == BUCKET_LABELS[name])
            assert _dec(line["Amount"]) == from_minor_units(getattr(buckets, f"{name}_cents"), currency)
        kinds = sum(_dec(row["Amount"]) for row in mine if row["Line"] == "kind")
        assert kinds == from_minor_units(buckets.net_cents, currency)
    usd_net = next(row for row in rows if row["Currency"] == "USD" and row["Line"] == "net")
    assert usd_net["USD equivalent"] == usd_net["Amount"]
    jpy_net = next(row for row in rows if row["Currency"] == "JPY" and row["Line"] == "net")
    assert jpy_net["USD equivalent"] == "" and jpy_net["Rows without a USD rate"] == "1"


def test_summary_for_every_entity_has_one_block_per_entity(june_ledger, entities):
    rows = csv_rows(_content(accountant_file_build(scope=_scope(entities, None), kind=FileKind.SUMMARY_CSV)))
    assert {row["Entity"] for row in rows} == {"A+ Enterprise LLC", "Legacy Unchained Inc"}
    legacy = next(row for row in rows if row["Entity"] == "Legacy Unchained Inc" and row["Line"] == "net")
    assert legacy["Amount"] == "9.99"
    sheet = xlsx_rows(_content(accountant_file_build(scope=_scope(entities, None), kind=FileKind.SUMMARY_XLSX)))
    assert sheet[0] == list(SUMMARY_HEADER) and len(sheet) == len(rows) + 1


def _journal_sums(journals):
    """Per currency and role, what the journals post (minor units, + debit)."""
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for journal in journals:
        assert journal.debit_cents == journal.credit_cents > 0  # every entry balances
        for line in journal.lines:
            sums[(journal.ledger_currency, line.role)] += line.amount_cents
    return sums


def test_qbo_journals_balance_and_post_each_bucket(june_ledger, entities, django_assert_max_num_queries):
    scope = _scope(entities)
    with django_assert_max_num_queries(3):
        journals = journals_build(scope, JournalTarget.QBO)
    assert {(j.day, j.ledger_currency) for j in journals} == {
        (date(2026, 6, 2), "USD"),
        (date(2026, 6, 2), "EUR"),
        (date(2026, 6, 10), "JPY"),
        (date(2026, 6, 10), "KWD"),
        (date(2026, 6, 20), "USD"),  # the PO credits sales, its reversal debits adjustments
        (date(2026, 6, 30), "USD"),
    }
    sums = _journal_sums(journals)
    for currency, buckets in _buckets(scope).items():
        for name in BUCKETS:
            assert sums.get((currency, name), 0) == -getattr(buckets, f"{name}_cents")
        clearing = sum(
            amount for (code, role), amount in sums.items() if code == currency and role.startswith("clearing")
        )
        assert clearing == buckets.net_cents
    assert sums[("USD", "clearing_gumroad")] == 19900 - 2090
    june_2 = next(j for j in journals if j.day == date(2026, 6, 2) and j.ledger_currency == "USD")
    assert june_2.number == f"BB{entities['aplus-enterprise'].pk}-20260602-USD"


def test_qbo_file_has_the_published_columns(june_ledger, entities):
    file = accountant_file_build(scope=_scope(entities), kind=FileKind.QBO_CSV)
    rows = csv_rows(_content(file))
    assert file.filename == "quickbooks_journals_aplus-enterprise_2026-06.csv"
    assert list(rows[0]) == list(QBO_HEADER)
    by_journal: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_journal[row["JournalNo"]].append(row)
        assert bool(row["Debits"]) != bool(row["Credits"])  # one side per line, never negative
        assert not row["Debits"].startswith("-") and not row["Credits"].startswith("-")
    for lines in by_journal.values():
        assert sum(_dec(r["Debits"]) for r in lines) == sum(_dec(r["Credits"]) for r in lines)
        assert len({(r["JournalDate"], r["Currency"], r["Memo"]) for r in lines}) == 1
    usd = by_journal[f"BB{entities['aplus-enterprise'].pk}-20260602-USD"]
    assert usd[0]["JournalDate"] == "06/02/2026" and usd[0]["Currency"] == "USD"
    sales = next(r for r in usd if r["AccountName"] == "Sales")
    assert sales["Credits"] == "449.00"
    assert next(r for r in usd if r["AccountName"] == "Merchant Account Fees")["Debits"] == "43.45"
    assert next(r for r in rows if r["Currency"] == "JPY")["Debits"] in {"5000", ""}
    kwd = [r for r in rows if r["Currency"] == "KWD"]
    assert {r["Debits"] or r["Credits"] for r in kwd} == {"1.234"}


def test_xero_file_is_in_usd_with_the_published_columns(rates, june_ledger, entities):
    file = accountant_file_build(scope=_scope(entities), kind=FileKind.XERO_CSV)
    rows = csv_rows(_content(file))
    assert list(rows[0]) == list(XERO_HEADER)
    journals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        assert row["*Narration"] and row["*Date"] and row["*AccountCode"] and row["*TaxRate"] == "Tax Exempt"
        journals[(row["*Narration"], row["*Date"])] += Decimal(row["*Amount"])
        assert Decimal(row["*Amount"]).as_tuple().exponent == -2  # USD cents
    assert journals and all(total == 0 for total in journals.values())  # each journal balances
    jpy = [row for row in rows if "JPY in USD" in row["*Narration"]]
    assert jpy[0]["*Date"] == "10/06/2026"
    assert {abs(Decimal(row["*Amount"])) for row in jpy} == {Decimal("32.00")}  # 5000 JPY at 0.0064
    sales = next(row for row in rows if row["*AccountCode"] == "200" and " USD:" in row["*Narration"])
    assert sales["*Amount"] == "-449.00"  # a credit


def test_xero_refuses_rows_without_a_usd_rate(june_ledger, entities):
    with pytest.raises(JournalRefused) as refused:
        accountant_file_build(scope=_scope(entities), kind=FileKind.XERO_CSV)
    assert refused.value.code == "missing_rates"
    assert "JPY: 1 row" in refused.value.message and "KWD: 1 row" in refused.value.message
    assert "EUR" not in refused.value.message  # Stripe stated its rate
    assert refused.value.extra["missing_rates"] == [{"currency": "JPY", "rows": 1}, {"currency": "KWD", "rows": 1}]


def test_an_unmapped_account_refuses_the_journal_files_with_the_list(june_ledger, entities):
    AccountMapping.objects.filter(role__in=["disputes", "clearing_gumroad"], entity=None).delete()
    for kind in (FileKind.QBO_CSV, FileKind.XERO_CSV):
        with pytest.raises(JournalRefused) as refused:
            accountant_file_build(scope=_scope(entities), kind=kind)
        assert refused.value.code == "unmapped_accounts"
        assert refused.value.extra["unmapped"] == [
            {
                "entity": "aplus-enterprise",
                "currency": "USD",
                "role": "clearing_gumroad",
                "role_label": "Gumroad clearing",
            },
            {
                "entity": "aplus-enterprise",
                "currency": "USD",
                "role": "disputes",
                "role_label": "Disputes (chargebacks)",
            },
        ]
        assert "A+ Enterprise LLC · USD · Disputes (chargebacks)" in refused.value.message
        assert "No file was made" in refused.value.message


def test_the_most_specific_mapping_wins(june_ledger, entities):
    aplus = entities["aplus-enterprise"]
    AccountMapping.objects.create(
        role="payments", entity=aplus, currency="", account_name="A+ Sales", account_code="201"
    )
    AccountMapping.objects.create(
        role="payments", entity=aplus, currency="EUR", account_name="A+ EUR Sales", account_code="202"
    )
    AccountMapping.objects.create(
        role="payments", entity=None, currency="JPY", account_name="JPY Sales", account_code="203"
    )
    rows = csv_rows(_content(accountant_file_build(scope=_scope(entities), kind=FileKind.QBO_CSV)))
    names = {row["Currency"]: row["AccountName"] for row in rows if row["Credits"] and "Sales" in row["AccountName"]}
    assert names == {"USD": "A+ Sales", "EUR": "A+ EUR Sales", "JPY": "A+ Sales", "KWD": "A+ Sales"}


def test_journals_need_an_entity(june_ledger, entities):
    with pytest.raises(ApplicationError) as refused:
        accountant_file_build(scope=_scope(entities, None), kind=FileKind.QBO_CSV)
    assert refused.value.code == "entity_required"


def test_a_mapping_for_a_currency_the_period_lacks_changes_nothing(june_ledger, entities):
    AccountMapping.objects.create(role="fees", entity=None, currency="GBP", account_name="GBP fees", account_code="405")
    assert "GBP fees" not in _content(accountant_file_build(scope=_scope(entities), kind=FileKind.QBO_CSV)).decode()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"month": "2026-13"}, "is not a month"),
        ({"month": "June"}, "is not a month"),
        ({}, "Choose a month"),
        ({"month": "2026-06", "date_from": date(2026, 6, 1)}, "not both"),
        ({"date_from": date(2026, 6, 30), "date_to": date(2026, 6, 1)}, "after it ends"),
        ({"date_from": date(2024, 1, 1), "date_to": date(2026, 6, 1)}, "at most 366 days"),
        ({"date_from": date(1999, 1, 1), "date_to": date(1999, 1, 2)}, "must start between"),
    ],
)
def test_bad_periods_are_refused_in_a_sentence(kwargs, message):
    with pytest.raises(ApplicationError) as refused:
        export_period(**kwargs)
    assert refused.value.code == "invalid_period" and message in refused.value.message


def test_periods_and_entities(db, entities):
    assert export_period(month="2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert export_period(date_from=date(2026, 6, 1), date_to=date(2026, 6, 15)) == (date(2026, 6, 1), date(2026, 6, 15))
    assert export_entity("") is None and export_entity("legacy-unchained") == entities["legacy-unchained"]
    with pytest.raises(ApplicationError) as refused:
        export_entity("nope")
    assert refused.value.code == "unknown_entity"
    scope = ExportScope(entities["aplus-enterprise"], date(2026, 6, 1), date(2026, 6, 15))
    assert (
        scope.file_stem == "aplus-enterprise_2026-06-01_2026-06-15" and scope.period_label == "2026-06-01 to 2026-06-15"
    )


def test_a_xero_file_over_its_line_limit_is_refused(rates, june_ledger, entities, monkeypatch):
    monkeypatch.setattr("accounting.services.XERO_MAX_LINES", 10)
    with pytest.raises(JournalRefused) as refused:
        accountant_file_build(scope=_scope(entities), kind=FileKind.XERO_CSV)
    assert refused.value.code == "too_many_lines" and "18 lines" in refused.value.message

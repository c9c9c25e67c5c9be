import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from alerts.models import RevenueAlert
from revenue.backfill import (
    FileFormatError,
    RowError,
    check_columns,
    map_generic_row,
    map_gumroad_row,
    map_stripe_row,
)
from revenue.duplicates import duplicate_fingerprint
from revenue.models import LedgerAuditEntry, OutboxMessage, RevenueEvent
from revenue.resources import LedgerExportResource, SafeCSV, escape_formula
from revenue.services import ManualEntryData, manual_entry_create

DATA = Path(__file__).parent / "data"


def _rows(name: str) -> list[dict]:
    with open(DATA / name, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


# --- pure mapping ------------------------------------------------------------------------


def test_generic_rows_map_amounts_in_each_currencys_units():
    entries = [map_generic_row(row).entries[0] for row in _rows("generic_sample.csv")]
    by_id = {e.event_id: e for e in entries}
    assert by_id["manual:wire-2026-0601"].amount_cents == 1250000
    assert by_id["manual:wire-2026-0602"].amount_cents == 5000  # JPY has no minor unit
    assert by_id["manual:wire-2026-0603"].amount_cents == 1234  # KWD has three
    refund = by_id["stripe:re_3PbackfillA"]
    assert (
        refund.kind == "refund" and refund.amount_cents == -4900 and refund.parent_event_id == "stripe:pi_3PbackfillA"
    )
    # A bare date is noon in Chicago; offsets are respected.
    assert by_id["manual:wire-2026-0601"].occurred_at.astimezone(UTC) == datetime(2026, 6, 1, 17, 0, tzinfo=UTC)
    assert by_id["manual:wire-2026-0602"].occurred_at.astimezone(UTC) == datetime(2026, 6, 2, 14, 30, tzinfo=UTC)
    assert by_id["manual:wire-2026-0603"].metadata["source"] == "csv:generic"


@pytest.mark.parametrize(
    ("change", "column", "fragment"),
    [
        ({"amount": "12.345"}, "amount", "USD has 2 decimal places"),
        ({"amount": "5000.5", "currency": "JPY"}, "amount", "JPY has 0 decimal places"),
        ({"amount": "abc"}, "amount", "is not a number"),
        ({"currency": "XXY"}, "currency", "not an ISO 4217"),
        ({"occurred_at": "31/12/2026"}, "occurred_at", "ISO 8601"),
        ({"occurred_at": "2099-01-01"}, "occurred_at", "in the future"),
        ({"kind": "refund", "amount": "10.00"}, "amount", "negative"),
        ({"kind": "reversal"}, "kind", "ledger admin"),
        ({"provider": "paypal"}, "provider", "not one of"),
        ({"customer_email": "not-an-email"}, "customer_email", "not an email"),
        ({"event_id": ""}, "event_id", "required"),
    ],
)
def test_generic_row_errors_name_the_column(change, column, fragment):
    row = {**_rows("generic_sample.csv")[0], **change}
    with pytest.raises(RowError) as exc:
        map_generic_row(row)
    assert exc.value.column == column
    assert fragment in exc.value.message


def test_stripe_export_rows_map_like_the_webhooks():
    mapped = [map_stripe_row(row) for row in _rows("stripe_unified_payments.csv")]
    paid, refunded, eur, failed, full_refund, disputed = mapped
    assert [e.event_id for e in paid.entries] == ["stripe:pi_3QaplusPaid001", "stripe:fee:charge:ch_3QaplusPaid001"]
    fee = paid.entries[1]  # the Fee column: its own row, tied to its payment, keyed by the charge
    assert (fee.kind, fee.amount_cents, fee.parent_event_id, fee.metadata["charge"]) == (
        "fee",
        -755,
        "stripe:pi_3QaplusPaid001",
        "ch_3QaplusPaid001",
    )
    assert paid.entries[0].amount_cents == 25000 and paid.entries[0].entity_hint == "aplus-enterprise"
    assert paid.entries[0].occurred_at == datetime(2026, 6, 2, 15, 4, 5, tzinfo=UTC)
    assert [(e.kind, e.amount_cents) for e in refunded.entries] == [
        ("payment", 120000),
        ("refund", -30000),
        ("fee", -3510),
    ]
    assert refunded.entries[1].occurred_at == datetime(2026, 6, 8, 14, 0, tzinfo=UTC)  # booked when refunded
    assert eur.entries[0].currency == "EUR" and eur.entries[0].amount_usd_cents == 5317
    assert eur.entries[0].fx_source == "stripe_balance_transaction"
    assert (eur.entries[1].currency, eur.entries[1].amount_cents) == ("USD", -192)  # fee in the settlement currency
    assert failed.skip_reason and not failed.entries
    assert [e.amount_cents for e in full_refund.entries] == [2900, -2900, -114]
    assert [(e.kind, e.amount_cents) for e in disputed.entries] == [
        ("payment", 75000),
        ("dispute", -75000),
        ("fee", -2205),
    ]


def test_gumroad_export_rows_map_sales_refunds_and_skip_non_money():
    mapped = [map_gumroad_row(row) for row in _rows("gumroad_sales.csv")]
    sale, partial, full, preorder, free, totals = mapped
    assert sale.entries[0].event_id == "gumroad:sale:Qx1vLegacyA1b2C3d4e5F=="  # the webhook's key
    assert partial.entries[1].event_id.startswith("gumroad:refund:")
    assert sale.entries[0].amount_cents == 19900 and sale.entries[0].currency == "USD"
    assert sale.entries[0].occurred_at == datetime(2026, 6, 2, 14, 3, 11, tzinfo=UTC)
    assert sale.entries[0].product_id == "legacycourse"
    assert [(e.kind, e.amount_cents) for e in partial.entries] == [
        ("payment", 49900),
        ("refund", -10000),
        ("fee", -5020),
    ]
    assert [(e.kind, e.amount_cents) for e in full.entries] == [("payment", 2900), ("refund", -2900), ("fee", -340)]
    assert (sale.entries[1].event_id, sale.entries[1].parent_event_id) == (
        "gumroad:fee:Qx1vLegacyA1b2C3d4e5F==",
        "gumroad:sale:Qx1vLegacyA1b2C3d4e5F==",
    )
    assert preorder.skip_reason and free.skip_reason and totals.skip_reason == "the export's totals row"


def test_a_file_of_the_wrong_format_is_refused_naming_the_missing_columns():
    with pytest.raises(FileFormatError, match="missing columns Purchase ID, Purchase Date, Sale Price"):
        check_columns(["event_id", "amount", "currency", "occurred_at"], "gumroad")


# --- the management command -------------------------------------------------------------


@pytest.mark.django_db
def test_command_imports_then_reimport_adds_nothing(entities, capsys):
    call_command("import_revenue_csv", str(DATA / "generic_sample.csv"), "--format", "generic", "--no-progress")
    assert RevenueEvent.objects.count() == 6
    assert OutboxMessage.objects.filter(topic="revenue.event.recorded").count() == 6
    jpy = RevenueEvent.objects.get(event_id="manual:wire-2026-0602")
    assert jpy.entity == entities["legacy-unchained"] and jpy.amount_display == "5,000 JPY"
    assert RevenueEvent.objects.get(event_id="stripe:pi_3PbackfillA").amount_usd_cents == 19900
    call_command("import_revenue_csv", str(DATA / "generic_sample.csv"), "--no-progress")
    out = capsys.readouterr().out
    assert "0 ledger entries added, 6 already in the ledger (skipped)" in out
    assert RevenueEvent.objects.count() == 6
    assert OutboxMessage.objects.filter(topic="revenue.event.recorded").count() == 6
    audits = LedgerAuditEntry.objects.filter(action="import").order_by("at")
    assert [a.metadata["inserted"] for a in audits] == [6, 0]


@pytest.mark.django_db
def test_command_stripe_and_gumroad_exports(entities, capsys):
    legacy = entities["legacy-unchained"]
    legacy.gumroad_product_ids = ["legacycourse", "masterclass", "ebook"]
    legacy.save()
    call_command("import_revenue_csv", str(DATA / "stripe_unified_payments.csv"), "--format", "stripe", "--no-progress")
    assert RevenueEvent.objects.filter(provider="stripe").count() == 8 + 5  # + the five Fee cells
    assert "1 rows skipped (no money moved)" in capsys.readouterr().out
    call_command("import_revenue_csv", str(DATA / "gumroad_sales.csv"), "--format", "gumroad", "--no-progress")
    gumroad = RevenueEvent.objects.filter(provider="gumroad")
    assert gumroad.count() == 5 + 3  # + the three fees of sales that moved money
    assert set(gumroad.values_list("entity__slug", flat=True)) == {"legacy-unchained"}
    assert (
        sum(gumroad.values_list("amount_cents", flat=True)) == 19900 + 49900 - 10000 + 2900 - 2900 - 2090 - 5020 - 340
    )
    assert "3 rows skipped (no money moved)" in capsys.readouterr().out


@pytest.mark.django_db
def test_command_reports_bad_rows_by_row_and_column_and_keeps_the_good(entities, tmp_path, capsys):
    path = tmp_path / "mixed.csv"
    path.write_text(
        "event_id,amount,currency,occurred_at,entity\n"
        "ok-1,10.00,USD,2026-06-01,aplus\n"
        "bad-1,10.001,USD,2026-06-01,aplus\n"
        "bad-2,10.00,USD,2026-06-01,Nobody Inc\n"
        "ok-2,7,JPY,2026-06-02,legacy-unchained\n"
    )
    with pytest.raises(CommandError, match="2 row\\(s\\) had errors"):
        call_command("import_revenue_csv", str(path), "--no-progress")
    err = capsys.readouterr().err
    assert "row 2 (line 3), column 'amount': '10.001' is ambiguous: USD has 2 decimal places" in err
    assert "row 3 (line 4), column 'entity': 'Nobody Inc' is not a known entity" in err
    assert set(RevenueEvent.objects.values_list("event_id", flat=True)) == {"manual:ok-1", "manual:ok-2"}


_MIXED_ROWS = [
    {"event_id": "ok-1", "amount": "10.00", "currency": "USD", "occurred_at": "2026-06-01", "entity": "aplus"},
    {"event_id": "bad-1", "amount": "10.001", "currency": "USD", "occurred_at": "2026-06-01", "entity": "aplus"},
    {"event_id": "bad-2", "amount": "10.00", "currency": "USD", "occurred_at": "2026-06-01", "entity": "Nobody"},
    {"event_id": "ok-2", "amount": "7", "currency": "JPY", "occurred_at": "2026-06-02", "entity": "legacy-unchained"},
    {"event_id": "ok-3", "amount": "0", "currency": "USD", "occurred_at": "2026-06-02", "entity": "aplus"},
    {"event_id": "ok-4", "amount": "3.00", "currency": "USD", "occurred_at": "2026-06-03", "entity": "aplus"},
]


@pytest.mark.django_db
def test_batches_of_any_size_book_and_report_like_one_batch(entities):
    """Batches of 1, 2 and 1,000 rows: the ledger, the counts and the errors (row and column) are
    those of importing the file as one batch."""
    from revenue.backfill import FORMAT_GENERIC, ImportReport, RowPreparer
    from revenue.imports import ledger_rows_import

    reports, ledgers = [], []
    for batch_size in (1000, 2, 1):
        rows = [(n, {**row, "event_id": f"{row['event_id']}-{batch_size}"}) for n, row in enumerate(_MIXED_ROWS, 1)]
        report, batches = ImportReport(), []
        completed = ledger_rows_import(
            rows=rows,
            fmt=FORMAT_GENERIC,
            preparer=RowPreparer(),
            report=report,
            file_name="mixed.csv",
            batch_size=batch_size,
            on_batch=lambda r, seen=batches: seen.append(r.rows) is None,
        )
        assert completed and batches[-1] == 6
        reports.append((report.rows, report.inserted, report.skipped_other, sorted(e[:2] for e in report.errors)))
        booked = RevenueEvent.objects.filter(event_id__endswith=f"-{batch_size}").order_by("event_id")
        ledgers.append([(e.event_id.rsplit("-", 1)[0], e.amount_cents, e.currency) for e in booked])
    assert reports[0] == reports[1] == reports[2] == (6, 3, 0, [(2, "amount"), (3, "entity"), (5, "amount")])
    assert (
        ledgers[0]
        == ledgers[1]
        == ledgers[2]
        == [
            ("manual:ok-1", 1000, "USD"),
            ("manual:ok-2", 7, "JPY"),
            ("manual:ok-4", 300, "USD"),
        ]
    )


@pytest.mark.django_db
def test_an_import_told_to_stop_after_a_batch_books_nothing_after_it(entities):
    from revenue.backfill import FORMAT_GENERIC, ImportReport, RowPreparer
    from revenue.imports import ledger_rows_import

    report = ImportReport()
    completed = ledger_rows_import(
        rows=list(enumerate(_MIXED_ROWS, 1)),
        fmt=FORMAT_GENERIC,
        preparer=RowPreparer(),
        report=report,
        file_name="mixed.csv",
        batch_size=2,
        on_batch=lambda r: False,  # a cancelled job
    )
    assert not completed and report.rows == 2
    assert list(RevenueEvent.objects.values_list("event_id", flat=True)) == ["manual:ok-1"]


@pytest.mark.django_db
def test_command_refuses_a_file_in_the_wrong_format(tmp_path):
    with pytest.raises(CommandError, match="missing column"):
        call_command("import_revenue_csv", str(DATA / "generic_sample.csv"), "--format", "stripe", "--no-progress")


@pytest.mark.django_db
def test_command_dry_run_writes_nothing(entities):
    call_command("import_revenue_csv", str(DATA / "generic_sample.csv"), "--dry-run", "--no-progress")
    assert not RevenueEvent.objects.exists() and not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_possible_duplicate_from_another_source_raises_one_alert_per_pair(entities, staff_user, tmp_path):
    manual_entry_create(
        data=ManualEntryData(
            entity=entities["aplus-enterprise"],
            reference="PO-77120",
            amount_cents=1250000,
            currency="USD",
            received_on=date(2026, 6, 1),
            customer_email="ap@bigclient.example",
        ),
        actor=staff_user,
    )
    call_command("import_revenue_csv", str(DATA / "generic_sample.csv"), "--no-progress")
    alert = RevenueAlert.objects.get(alert_type="duplicate")
    assert alert.fingerprint == duplicate_fingerprint(["manual:aplus-enterprise:PO-77120", "manual:wire-2026-0601"])
    assert alert.status == "open" and alert.entity == entities["aplus-enterprise"]
    assert set(alert.metadata["sources"]) == {"manual:form", "csv:generic"}
    # Both rows are kept for review; importing again raises nothing new.
    assert RevenueEvent.objects.filter(customer_email="ap@bigclient.example").count() == 2
    call_command("import_revenue_csv", str(DATA / "generic_sample.csv"), "--no-progress")
    assert RevenueAlert.objects.filter(alert_type="duplicate").count() == 1


# --- export escaping ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-12.50", "-12.50"),
        ("plain text", "plain text"),
    ],
)
def test_escape_formula(value, expected):
    assert escape_formula(value) == expected


@pytest.mark.django_db
def test_ledger_export_escapes_formula_cells_and_round_trips(entities, staff_user):
    manual_entry_create(
        data=ManualEntryData(
            entity=entities["aplus-enterprise"],
            reference='=HYPERLINK("http://evil")',
            amount_cents=5000,
            currency="USD",
            received_on=date(2026, 6, 1),
            customer_name="@attacker",
            description="+cmd",
        ),
        actor=staff_user,
    )
    dataset = LedgerExportResource().export(queryset=RevenueEvent.objects.select_related("entity"))
    exported = SafeCSV().export_data(dataset)
    row = next(csv.DictReader(io.StringIO(exported)))
    assert row["reference"].startswith("'=") and row["customer_name"] == "'@attacker"
    assert row["description"] == "'+cmd"
    assert row["amount"] == "50.00" and row["entity"] == "aplus-enterprise"


@pytest.mark.django_db
def test_the_portable_duplicate_finder_agrees_with_the_postgresql_one(entities, staff_user, monkeypatch):
    """SQLite (the zero-setup run) finds possible duplicates with the ORM; same answers as the SQL."""
    from django.db import connection

    from revenue.backfill import possible_duplicates_find

    manual_entry_create(
        data=ManualEntryData(
            entity=entities["aplus-enterprise"],
            reference="PO-77120",
            amount_cents=1250000,
            currency="USD",
            received_on=date(2026, 6, 1),
            customer_email="ap@bigclient.example",
        ),
        actor=staff_user,
    )
    call_command("import_revenue_csv", str(DATA / "generic_sample.csv"), "--no-progress")
    event_ids = list(RevenueEvent.objects.values_list("event_id", flat=True))

    def found() -> set:  # a pair may be reported from either side: compare what does not depend on that
        return {
            (d.fingerprint, d.customer_email, d.amount_cents, d.currency, d.business_day, frozenset(d.sources))
            for d in possible_duplicates_find(event_ids=event_ids)
        }

    on_postgresql = found()
    assert len(on_postgresql) == 1
    monkeypatch.setattr(connection, "vendor", "sqlite")
    assert found() == on_postgresql

"""A June 2026 reconciliation scenario for A+ Enterprise: payouts, a manual PO and the bank statement.

Statement lines, by what they test:
- exact:   Stripe po_A 1,250.00 (Jun 2), Gumroad 412.34 (Jun 5 -> posted Mon Jun 8), wire for PO-4471 7,500.00
- split:   Stripe po_B 3,000.00 paid as 1,800.00 + 1,200.00 (Jun 9, Jun 10)
- bundle:  Stripe po_D 100.00 + po_E 150.00 landing as one 250.00 deposit (Jun 18)
- failed:  Stripe po_C 500.00 paid Jun 4 (and deposited), later payout.failed
- no payout: a 95.00 mobile deposit
- duplicate line: two identical "REMOTE ONLINE DEPOSIT" 250.00 lines on Jun 16 (two real checks)
- near miss: Stripe po_F 980.00 vs a 979.50 deposit (left for a person)
- timing:  Stripe po_G 600.00 expected Tue Jun 30, posted Wed Jul 1
- a debit (payroll), skipped
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from revenue.entries import EXPECTS_BANK_DEPOSIT
from revenue.models import Payout
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

CHASE_JUNE = """Details,Posting Date,Description,Amount,Type,Balance,Check or Slip #
CREDIT,07/01/2026,"STRIPE TRANSFER ST-G7 A PLUS ENTERPRISE",600.00,ACH_CREDIT,25517.84,,
CREDIT,06/23/2026,"STRIPE TRANSFER ST-F6 A PLUS ENTERPRISE",979.50,ACH_CREDIT,24917.84,,
CREDIT,06/18/2026,"STRIPE TRANSFER ST-DE45 A PLUS ENTERPRISE",250.00,ACH_CREDIT,23938.34,,
DSLIP,06/16/2026,"REMOTE ONLINE DEPOSIT 1",250.00,CHECK_DEPOSIT,23688.34,,
DSLIP,06/16/2026,"REMOTE ONLINE DEPOSIT 1",250.00,CHECK_DEPOSIT,23438.34,,
CREDIT,06/15/2026,"MOBILE DEPOSIT REF 0012",95.00,CHECK_DEPOSIT,23188.34,,
CREDIT,06/12/2026,"WIRE TRANSFER IN NORTHWIND TRADERS PO4471",7500.00,WIRE_INCOMING,23093.34,,
CREDIT,06/10/2026,"STRIPE TRANSFER ST-B2 A PLUS ENTERPRISE",1200.00,ACH_CREDIT,15593.34,,
CREDIT,06/09/2026,"STRIPE TRANSFER ST-B2 A PLUS ENTERPRISE",1800.00,ACH_CREDIT,14393.34,,
CREDIT,06/08/2026,"GUMROAD INC PAYOUT",412.34,ACH_CREDIT,12593.34,,
CREDIT,06/04/2026,"STRIPE TRANSFER ST-C3 A PLUS ENTERPRISE",500.00,ACH_CREDIT,12181.00,,
DEBIT,06/03/2026,"ACH DEBIT ADP PAYROLL",-2000.00,ACH_DEBIT,11681.00,,
CREDIT,06/02/2026,"STRIPE TRANSFER ST-A1 A PLUS ENTERPRISE",1250.00,ACH_CREDIT,13681.00,,
"""

CREDIT_LINES = 12
DEBIT_LINES = 1


def june_scenario(entities) -> dict:
    """Payouts and the manual PO the statement above should settle; returns them by short name."""
    entity = entities["aplus-enterprise"]

    def payout(name, provider, amount_cents, arrival, **extra):
        return Payout.objects.create(
            provider=provider,
            payout_id=name,
            entity=entity,
            amount_cents=amount_cents,
            currency="USD",
            status=Payout.Status.PAID,
            arrival_on=arrival,
            **extra,
        )

    # po_A's contents: a 1,300.00 sale and its 50.00 fee (balance transactions -> ledger rows).
    sale = revenue_event_record(
        entry=ledger_entry(
            event_id="stripe:pi_recon_A",
            amount_cents=130000,
            occurred_at=datetime(2026, 5, 29, 16, 0, tzinfo=UTC),
            entity_hint="aplus-enterprise",
        )
    ).event
    fee = revenue_event_record(
        entry=ledger_entry(
            event_id="stripe:pi_recon_A:fee",
            kind="fee",
            event_type="balance_transaction.fee",
            amount_cents=-5000,
            occurred_at=datetime(2026, 5, 29, 16, 0, tzinfo=UTC),
            entity_hint="aplus-enterprise",
        )
    ).event
    manual = revenue_event_record(
        entry=ledger_entry(
            event_id="manual:po-4471",
            provider="manual",
            event_type="manual.entry",
            amount_cents=750000,
            reference="PO-4471",
            customer_email="ap@northwind.example",
            occurred_at=datetime(2026, 6, 10, 15, 0, tzinfo=UTC),
            metadata={EXPECTS_BANK_DEPOSIT: True, "customer_name": "Northwind Traders"},
            entity_hint="aplus-enterprise",
        )
    ).event
    return {
        "entity": entity,
        "sale": sale,
        "fee": fee,
        "manual": manual,
        "po_A": payout(
            "po_A",
            "stripe",
            125000,
            date(2026, 6, 2),
            metadata={"balance_transactions": [sale.event_id, fee.event_id]},
        ),
        "po_B": payout("po_B", "stripe", 300000, date(2026, 6, 9)),
        "po_C": payout("po_C", "stripe", 50000, date(2026, 6, 4)),
        "po_D": payout("po_D", "stripe", 10000, date(2026, 6, 18)),
        "po_E": payout("po_E", "stripe", 15000, date(2026, 6, 18)),
        "po_F": payout("po_F", "stripe", 98000, date(2026, 6, 22)),
        "po_G": payout("po_G", "stripe", 60000, date(2026, 6, 30)),
        "gumroad": payout("gp_2026_06_05", "gumroad", 41234, date(2026, 6, 5)),
    }

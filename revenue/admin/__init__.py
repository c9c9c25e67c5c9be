"""The revenue back office, one module per sub-domain; importing this package registers every admin.

The ledger is read-only here: no generic add, change or delete. Money enters through
"Record offline payment" and "Import"; mistakes leave through "Reverse selected" and
"Correct", each a service call with an audit entry. Reconciliation's admin lives with
reconciliation (`revenue.reconciliation.admin`) and is registered from here.
"""

from revenue.reconciliation import admin as reconciliation_admin

from . import audit, configuration, imports, ledger, payouts

__all__ = ["audit", "configuration", "imports", "ledger", "payouts", "reconciliation_admin"]

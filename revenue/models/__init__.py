"""The revenue app's models, one module per sub-domain, re-exported here (NetBox style).

`from revenue.models import RevenueEvent` works for every model; Django discovers them
through this module. Reconciliation's models live with the rest of reconciliation.
"""

from revenue.reconciliation.models import (
    BankDeposit,
    DepositMatch,
    DepositMatchItem,
    ExpectedDeposit,
    ReconciliationAction,
)

from .audit import LedgerAuditEntry
from .configuration import Entity, ExchangeRate
from .imports import ImportJob, ImportJobChunk
from .ledger import OCCURRED_AT_CEILING, OCCURRED_AT_FLOOR, RevenueDailyRollup, RevenueEvent
from .outbox import OutboxMessage
from .payouts import Payout, PayoutSettlement

__all__ = [
    "OCCURRED_AT_CEILING",
    "OCCURRED_AT_FLOOR",
    "BankDeposit",
    "DepositMatch",
    "DepositMatchItem",
    "Entity",
    "ExchangeRate",
    "ExpectedDeposit",
    "ImportJob",
    "ImportJobChunk",
    "LedgerAuditEntry",
    "OutboxMessage",
    "Payout",
    "PayoutSettlement",
    "ReconciliationAction",
    "RevenueDailyRollup",
    "RevenueEvent",
]

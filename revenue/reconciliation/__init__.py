"""Reconciliation: bank deposits against payouts and the ledger.

`bank_formats` reads statements, `services` writes (import, expectations, matches,
flags, all audited), `selectors` reads (the per-period picture, candidates, stale items).
"""

from . import admin_reconciliation  # noqa: F401

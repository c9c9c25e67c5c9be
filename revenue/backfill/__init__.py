"""CSV backfill: provider exports and the generic ledger CSV mapped into ledger entries.

* `parse`: reading files and cells; bad input raises `RowError` naming the column;
* `generic`, `stripe`, `gumroad`, `stripe_itemized`: pure mapping functions, one per format, over a row
  dict -> `MappedRow` (zero or more `LedgerEntry`, or a reason to skip);
* `prepare`: `RowPreparer`, entity resolution and reporting-currency conversion,
  cached per file so 100k rows do not cost 100k lookups;
* `write`: `revenue_events_bulk_insert` (`INSERT ... ON CONFLICT (event_id) DO NOTHING
  RETURNING` plus outbox rows for exactly the rows inserted) and `import_batch`;
* `standalone_fees`: imported fees whose payment the ledger does not know, handed to reporters;
* `duplicates`: possible duplicates among new rows (the rule is `revenue.duplicates`),
  handed to the registered reporters.
"""

from collections.abc import Callable

from .duplicates import (
    PossibleDuplicate,
    duplicate_reporter_register,
    possible_duplicates_find,
    possible_duplicates_report,
)
from .generic import map_generic_row
from .gumroad import map_gumroad_row
from .parse import (
    BATCH_SIZE,
    FORMAT_GENERIC,
    FORMAT_GUMROAD,
    FORMAT_STRIPE,
    FORMAT_STRIPE_ITEMIZED,
    FORMAT_STRIPE_PAYOUT_RECONCILIATION,
    FORMAT_STRIPE_PAYOUTS,
    FORMAT_TITLES,
    FORMATS,
    GENERIC_COLUMNS,
    PAYOUT_FORMATS,
    FileFormatError,
    MappedRow,
    RowError,
    check_columns,
    count_csv_rows,
    csv_headers,
    iter_csv_rows,
    names_entity,
    parse_occurred_at,
    recognise_format,
)
from .prepare import PreparedRow, RowPreparer
from .standalone_fees import (
    StandaloneFee,
    fee_entries_with_parent,
    standalone_fee_reporter_register,
    standalone_fees_find,
    standalone_fees_report,
)
from .stripe import map_stripe_row
from .stripe_itemized import map_stripe_itemized_row
from .stripe_payouts import map_payout_reconciliation_row, map_stripe_payout_row
from .write import ImportReport, import_batch, revenue_events_bulk_insert, revenue_events_existing

MAPPERS: dict[str, Callable[..., MappedRow]] = {
    FORMAT_GENERIC: map_generic_row,
    FORMAT_STRIPE: map_stripe_row,
    FORMAT_GUMROAD: map_gumroad_row,
    FORMAT_STRIPE_ITEMIZED: map_stripe_itemized_row,
    FORMAT_STRIPE_PAYOUTS: map_stripe_payout_row,
    FORMAT_STRIPE_PAYOUT_RECONCILIATION: map_payout_reconciliation_row,
}

__all__ = [
    "BATCH_SIZE",
    "FORMATS",
    "FORMAT_GENERIC",
    "FORMAT_GUMROAD",
    "FORMAT_STRIPE",
    "FORMAT_STRIPE_ITEMIZED",
    "FORMAT_STRIPE_PAYOUTS",
    "FORMAT_STRIPE_PAYOUT_RECONCILIATION",
    "FORMAT_TITLES",
    "GENERIC_COLUMNS",
    "MAPPERS",
    "PAYOUT_FORMATS",
    "FileFormatError",
    "ImportReport",
    "MappedRow",
    "PossibleDuplicate",
    "PreparedRow",
    "RowError",
    "RowPreparer",
    "StandaloneFee",
    "check_columns",
    "count_csv_rows",
    "csv_headers",
    "duplicate_reporter_register",
    "fee_entries_with_parent",
    "import_batch",
    "iter_csv_rows",
    "map_generic_row",
    "map_gumroad_row",
    "map_payout_reconciliation_row",
    "map_stripe_itemized_row",
    "map_stripe_payout_row",
    "map_stripe_row",
    "names_entity",
    "parse_occurred_at",
    "possible_duplicates_find",
    "possible_duplicates_report",
    "recognise_format",
    "revenue_events_bulk_insert",
    "revenue_events_existing",
    "standalone_fee_reporter_register",
    "standalone_fees_find",
    "standalone_fees_report",
]

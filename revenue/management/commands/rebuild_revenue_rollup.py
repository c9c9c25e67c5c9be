"""Check or rebuild revenue_daily_rollup from the ledger (after a restore with triggers disabled)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from revenue.selectors import revenue_daily_rollup_drift
from revenue.services import revenue_daily_rollup_rebuild


class Command(BaseCommand):
    help = (
        "Recompute revenue_daily_rollup (the per-day sums behind the API totals) from revenue_events. "
        "Database triggers keep it exact on every write; use this after loading rows with triggers disabled. "
        "--check only compares and exits non-zero when they differ."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Compare only; write nothing.")

    def handle(self, *args, check: bool = False, **options):
        if check:
            drift = revenue_daily_rollup_drift()
            if drift:
                for key in drift[:20]:
                    self.stdout.write(f"differs: {key}")
                raise CommandError(f"{len(drift)} rollup key(s) differ from the ledger: run rebuild_revenue_rollup")
            self.stdout.write("revenue_daily_rollup matches the ledger")
            return
        rows = revenue_daily_rollup_rebuild()
        self.stdout.write(f"revenue_daily_rollup rebuilt: {rows} rows")

"""Check or rebuild revenue_daily_rollup from the ledger (after a restore with triggers disabled)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from revenue.selectors import revenue_daily_rollup_drift
from revenue.services import revenue_daily_rollup_rebuild


class Command(BaseCommand):
    help = (
        "Recompute revenue_daily_rollup (the per-day sums behind the API totals) from revenue_events. "
        "Database triggers keep it exact on every write; use this after loading rows with triggers disabled. "
        "--check only compares and exits non-zero when they differ. Rebuild as the owner of the tables."
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
        try:
            rows = revenue_daily_rollup_rebuild()
        except DatabaseError as error:
            # The app role may not rewrite the rollup or lock the ledger (revenue/db_roles.py).
            raise CommandError(
                f"The rebuild was refused ({str(error).strip()}); run it as the owner of the tables "
                "(DATABASE_URL=$DATABASE_OWNER_URL)."
            ) from error
        self.stdout.write(f"revenue_daily_rollup rebuilt: {rows} rows")

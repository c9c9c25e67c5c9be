"""Reprocess stored inbound deliveries. Idempotent: ledger keys make a replay book nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from ...services.ingest import inbound_deliveries_replay


def parse_since(value: str) -> datetime:
    """YYYY-MM-DD (midnight UTC) or an ISO 8601 datetime (naive means UTC)."""
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since {value!r} is not a date (YYYY-MM-DD) or ISO datetime")
        moment = datetime.combine(day, time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


class Command(BaseCommand):
    help = "Reprocess failed (and stuck) webhook deliveries, or every delivery received since a date."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--failed", action="store_true", help="failed deliveries and ones never processed")
        group.add_argument("--since", help="every delivery received since DATE (YYYY-MM-DD, UTC) or ISO datetime")

    def handle(self, *args, failed: bool, since: str | None, **options):
        counts = inbound_deliveries_replay(failed=failed, since=parse_since(since) if since else None)
        total = sum(counts.values())
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to do"
        self.stdout.write(f"Replayed {total} deliveries: {detail}")
        if counts.get("failed"):
            raise CommandError(f"{counts['failed']} deliveries still fail; see admin > Inbound deliveries")

"""Backfill the ledger from the Stripe API (needs STRIPE_SECRET_KEY). Safe to run again."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ...services.stripe_sync import stripe_backfill, stripe_client_build
from .replay_webhooks import parse_since


class Command(BaseCommand):
    help = "Backfill charges, refunds, disputes, payouts and fees from the Stripe API since DATE."

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="YYYY-MM-DD (UTC) or ISO datetime")
        parser.add_argument("--api-base", default="", help="Stripe API base URL (default: Stripe's; for stripe-mock)")

    def handle(self, *args, since: str, api_base: str, **options):
        if not settings.STRIPE_SECRET_KEY:
            raise CommandError("STRIPE_SECRET_KEY is not set: the API backfill is off.")
        client = stripe_client_build(api_key=settings.STRIPE_SECRET_KEY, api_base=api_base)
        counts = stripe_backfill(client=client, since=parse_since(since))
        self.stdout.write("Synced " + ", ".join(f"{n} {name}" for name, n in counts.items()))

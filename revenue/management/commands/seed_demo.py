"""Realistic demo data for both entities: 90 days of Stripe, Gumroad and manual events with refunds."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from revenue.business_time import business_today, day_start
from revenue.entries import LedgerEntry
from revenue.models import Entity, ExchangeRate, RevenueEvent
from revenue.services import revenue_event_record

CUSTOMERS = [
    "ada@lovelace.dev",
    "grace@hopper.io",
    "alan@turing.org",
    "katherine@johnson.space",
    "linus@kernel.fi",
    "margaret@hamilton.nasa",
    "donald@knuth.cs",
    "barbara@liskov.mit",
    "ken@thompson.bell",
    "radia@perlman.net",
]
PRODUCTS = {
    "aplus-enterprise": [("Consulting retainer", 250000), ("Strategy workshop", 75000), ("Audit package", 120000)],
    "legacy-unchained": [("Legacy course", 19900), ("Masterclass", 49900), ("E-book", 2900)],
}
RATES = {"EUR": Decimal("1.0850"), "GBP": Decimal("1.2700"), "JPY": Decimal("0.0067")}


class Command(BaseCommand):
    help = "Load 90 days of demo ledger data for both entities (idempotent: event ids are fixed by seed)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--seed", type=int, default=20261125)
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when the ledger already has rows.")

    @transaction.atomic
    def handle(self, *args, days: int, seed: int, if_empty: bool, **options):
        if if_empty and RevenueEvent.objects.exists():
            self.stdout.write("Ledger already has data; demo data not loaded.")
            return
        rng = random.Random(seed)
        entities = {e.slug: e for e in Entity.objects.all()}
        today = business_today()
        for currency, rate in RATES.items():
            for offset in range(days + 1):
                ExchangeRate.objects.get_or_create(
                    currency=currency,
                    rate_on=today - timedelta(days=offset),
                    defaults={"usd_per_unit": rate, "source": "demo rate table"},
                )
        created = 0
        for offset in range(days, -1, -1):
            day = today - timedelta(days=offset)
            start = day_start(day)
            for slug, entity in entities.items():
                weekend = day.weekday() >= 5
                for n in range(rng.randint(1, 3) if weekend else rng.randint(3, 8)):
                    created += self._sale(rng, entity, slug, day, start, n)
            if day.day in (1, 15) and start + timedelta(hours=15) <= timezone.now():
                entity = entities["aplus-enterprise"]
                at = start + timedelta(hours=15)
                result = revenue_event_record(
                    entry=LedgerEntry(
                        event_id=f"manual:demo-po-{day:%Y%m%d}",
                        provider="manual",
                        event_type="purchase_order",
                        kind="payment",
                        amount_cents=rng.choice([500000, 1250000, 880000]),
                        currency="USD",
                        occurred_at=at,
                        customer_email="ap@bigclient.example",
                        reference=f"PO-{day:%Y%m%d}",
                        description="Offline contract (demo)",
                    ),
                    entity=entity,
                )
                created += result.created
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {created} ledger rows over {days} days."))

    def _sale(self, rng: random.Random, entity: Entity, slug: str, day, start, n: int) -> int:
        name, base = rng.choice(PRODUCTS[slug])
        provider = "gumroad" if slug == "legacy-unchained" and rng.random() < 0.6 else "stripe"
        currency = "USD"
        amount = base
        if provider == "stripe" and rng.random() < 0.15:
            currency = rng.choice(["EUR", "GBP", "JPY"])
            amount = base if currency != "JPY" else base * 150 // 100
        # One sale per hour slot per entity (A+ on even hours, Legacy on odd): demo data never looks like
        # a possible duplicate, and nothing is dated after now.
        at = start + timedelta(hours=7 + 2 * n + (slug != "aplus-enterprise"), minutes=rng.randint(0, 59))
        if at > timezone.now():
            return 0
        key = f"{day:%Y%m%d}{slug[:3]}{n}"
        email = rng.choice(CUSTOMERS)
        if provider == "stripe":
            event_id, event_type, source = f"stripe:pi_demo{key}", "payment_intent.succeeded", f"pi_demo{key}"
        else:
            event_id, event_type, source = f"gumroad:sale_demo{key}", "sale", f"sale_demo{key}"
        sale = revenue_event_record(
            entry=LedgerEntry(
                event_id=event_id,
                provider=provider,
                event_type=event_type,
                kind="payment",
                amount_cents=amount,
                currency=currency,
                occurred_at=at,
                customer_email=email,
                source_id=source,
                description=name,
                metadata={"product": name, "demo": True},
            ),
            entity=entity,
        )
        created = int(sale.created)
        if rng.random() < 0.06:
            refund_amount = amount if rng.random() < 0.5 else amount // 2
            refund_id = f"re_demo{key}" if provider == "stripe" else f"sale_demo{key}"
            refund = revenue_event_record(
                entry=LedgerEntry(
                    event_id=f"{provider}:{'refund:' if provider == 'gumroad' else ''}{refund_id}",
                    provider=provider,
                    event_type="refund.created" if provider == "stripe" else "refund",
                    kind="refund",
                    amount_cents=-refund_amount,
                    currency=currency,
                    occurred_at=min(at + timedelta(days=rng.randint(0, 3), hours=1), timezone.now()),
                    customer_email=email,
                    source_id=refund_id,
                    parent_event_id=event_id,
                    description=f"Refund: {name}",
                ),
                entity=entity,
            )
            created += int(refund.created)
        return created

"""Daily ledgers for forecast tests: every row goes through the real ledger service."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from revenue.models import Entity
from revenue.services import revenue_event_record
from revenue.tests.factories import ledger_entry

CENTRAL = ZoneInfo("America/Chicago")
WEEKLY = (1.0, 1.1, 1.15, 1.1, 1.05, 0.7, 0.6)  # Monday .. Sunday


def central(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=CENTRAL)


def weekly_amount(base: int = 100_000, noise: float = 0.05, seed: int = 19) -> Callable[[date], int]:
    """A day's net: `base` minor units shaped by the weekday, with a little seeded noise."""
    rng = random.Random(seed)

    def amount(day: date) -> int:
        return round(base * WEEKLY[day.weekday()] * (1 + rng.gauss(0, noise)))

    return amount


def record_days(
    *,
    entity: Entity,
    first_day: date,
    last_day: date,
    amount: Callable[[date], int],
    currency: str = "USD",
) -> None:
    """One payment per business day at noon Central (the day's net)."""
    day = first_day
    while day <= last_day:
        revenue_event_record(
            entry=ledger_entry(
                entity_hint=entity.slug,
                amount_cents=amount(day),
                currency=currency,
                occurred_at=central(day),
                event_id=f"test:{entity.slug}:{currency}:{day.isoformat()}",
            )
        )
        day += timedelta(days=1)

"""Readers survive any row: dates and times PostgreSQL holds but Python cannot.

PostgreSQL stores timestamps from 4713 BC to 294276 AD; Python's datetime stops at
years 1 and 9999, and a time zone conversion near either end overflows. A row
written before the time window and the CHECK constraint existed (or by hand) must
not turn every list, export and summary into a 500. So each connection loads
`timestamptz`, `timestamp` and `date` through loaders that clamp to
[SAFE_MIN, SAFE_MAX]: inside it, any conversion to any zone is defined.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db.backends.signals import connection_created
from django.dispatch import receiver
from psycopg import DataError
from psycopg.adapt import Loader
from psycopg.pq import Format

from .business_time import SAFE_MAX, SAFE_MIN

SAFE_MIN_DATE, SAFE_MAX_DATE = SAFE_MIN.date(), SAFE_MAX.date()
SAFE_MIN_NAIVE, SAFE_MAX_NAIVE = SAFE_MIN.replace(tzinfo=None), SAFE_MAX.replace(tzinfo=None)


def _clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    return value


def _safe_loader(base: type[Loader], kind: str) -> type[Loader]:
    """`base`, but total: out of Python's range (or too close to its edge) loads as the nearest safe value."""
    if kind == "date":
        low, high = SAFE_MIN_DATE, SAFE_MAX_DATE
    elif kind == "timestamp":
        low, high = SAFE_MIN_NAIVE, SAFE_MAX_NAIVE
    else:
        low, high = SAFE_MIN, SAFE_MAX

    class SafeLoader(Loader):
        # Django compares the connection's timestamptz loader's `timezone` with its own.
        timezone = getattr(base, "timezone", None)
        safe_wrapped = base

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self._base = base(oid, context)

        def load(self, data) -> date | datetime:
            try:
                value = self._base.load(data)
            except DataError:
                return low if b"BC" in bytes(data) or bytes(data)[:1] == b"-" else high
            if kind == "timestamptz" and value.tzinfo is not None:
                return _clamp(value, low, high)
            if kind == "timestamptz":
                return _clamp(value, low.replace(tzinfo=None), high.replace(tzinfo=None))
            return _clamp(value, low, high)

    SafeLoader.__name__ = f"Safe{base.__name__}"
    return SafeLoader


def safe_loaders_register(adapters) -> None:
    """Wrap the text loaders of `adapters` (a psycopg connection's or cursor's map); idempotent."""
    for kind in ("timestamptz", "timestamp", "date"):
        oid = adapters.types[kind].oid
        base = adapters.get_loader(oid, Format.TEXT)
        if base is None or hasattr(base, "safe_wrapped"):
            continue
        adapters.register_loader(kind, _safe_loader(base, kind))


@receiver(connection_created)
def safe_loaders_on_connect(sender, connection, **kwargs) -> None:
    if connection.vendor == "postgresql":
        safe_loaders_register(connection.connection.adapters)

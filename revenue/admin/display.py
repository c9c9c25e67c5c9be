"""Column helpers shared by the revenue admins: business-time instants and money."""

from __future__ import annotations

from django.utils.html import format_html

from ..business_time import business_local
from ..money import format_money


def local_time(dt) -> str:
    """An instant in business time (America/Chicago by default), or a dash."""
    return f"{business_local(dt):%Y-%m-%d %H:%M %Z}" if dt else "—"


def money_html(amount_cents: int, currency: str):
    """An amount formatted for a column, negative amounts marked for the stylesheet."""
    css = "bb-money bb-negative" if amount_cents < 0 else "bb-money"
    return format_html('<span class="{}">{}</span>', css, format_money(amount_cents, currency))

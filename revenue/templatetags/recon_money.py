"""`{% money cents currency %}`: minor units formatted at the edge (no floats)."""

from django import template

from revenue.money import format_money

register = template.Library()


@register.simple_tag
def money(amount_cents, currency, neg=0):
    """Format minor units; `neg=1` shows the amount as subtracted (-x) for bridge lines."""
    value = int(amount_cents or 0)
    return format_money(-value if neg and value else value, currency)

"""``{{ amount|money:currency }}``: integer minor units rendered as '$1,234.50'."""

from __future__ import annotations

from django import template

from core.errors import ValidationFailed
from core.money import format_money

register = template.Library()


@register.filter(name="money")
def money(amount, currency: str = "USD") -> str:
    """Format minor units for display; anything that is not an amount renders as empty."""
    if amount is None or amount == "" or isinstance(amount, (bool, float)):
        return ""
    try:
        return format_money(int(amount), currency or "USD")
    except (TypeError, ValueError, ValidationFailed):
        return ""


@register.filter(name="money_signed")
def money_signed(amount, currency: str = "USD") -> str:
    """Like ``money`` with a '+' on positive amounts (incoming money)."""
    if amount is None or amount == "" or isinstance(amount, (bool, float)):
        return ""
    try:
        return format_money(int(amount), currency or "USD", signed=True)
    except (TypeError, ValueError, ValidationFailed):
        return ""

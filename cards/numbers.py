"""Card numbers, CVVs and expiry dates of the cards we issue.

A number is ``settings.CARDS_BIN`` + random digits + a Luhn check digit, 16 digits in all; the CVV
is 3 random digits; a card expires three years out and is valid through the last day of its
expiry month. Randomness comes from ``secrets``. Nothing here stores or logs a number.
"""

from __future__ import annotations

import secrets
from datetime import date

from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

NUMBER_LENGTH = 16
CVV_LENGTH = 3
VALID_YEARS = 3


def luhn_check_digit(partial: str) -> str:
    """The digit that makes ``partial`` + digit pass the Luhn (mod 10) check."""
    total = 0
    # The check digit will sit at position 0 from the right, so partial's last digit is doubled.
    for position, char in enumerate(reversed(partial)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


@sensitive_variables("body")
def card_number_generate(bin_prefix: str | None = None) -> str:
    """A fresh 16-digit Luhn-valid number starting with the configured BIN."""
    prefix = settings.CARDS_BIN if bin_prefix is None else bin_prefix
    if not (prefix.isascii() and prefix.isdigit()) or not 1 <= len(prefix) <= NUMBER_LENGTH - 2:
        raise ValueError("CARDS_BIN must be 1 to 14 digits.")
    random_digits = "".join(str(secrets.randbelow(10)) for _ in range(NUMBER_LENGTH - 1 - len(prefix)))
    body = prefix + random_digits
    return body + luhn_check_digit(body)


def cvv_generate() -> str:
    """Three random digits (leading zeros kept)."""
    return f"{secrets.randbelow(10**CVV_LENGTH):0{CVV_LENGTH}d}"


def expiry_for(today: date | None = None) -> tuple[int, int]:
    """(month, year) of a card issued ``today``: the same month, three years later."""
    today = today or timezone.now().date()
    return today.month, today.year + VALID_YEARS


def card_expired(exp_month: int, exp_year: int, *, today: date | None = None) -> bool:
    """True once the expiry month is over (a card works through the last day of that month)."""
    today = today or timezone.now().date()
    return (exp_year, exp_month) < (today.year, today.month)


__all__ = ["card_expired", "card_number_generate", "cvv_generate", "expiry_for", "luhn_check_digit"]

"""The card vault: checks a debit card's details and keeps its number only encrypted.

What is stored for a linked card (``FundingCard``):

- ``number_encrypted``: a Fernet token of the digits, made with
  ``MultiFernet([Fernet(k) for k in settings.VAULT_KEYS])``. The first key
  encrypts, every key decrypts, so keys rotate: put a new key first in
  ``VAULT_KEYS``, run ``manage.py vault_rotate`` (``vault_rotate()``
  re-encrypts every stored number with the first key), then drop the old key.
- ``fingerprint``: HMAC-SHA256 of the digits keyed by
  ``settings.VAULT_FINGERPRINT_KEY`` (hex). It is a separate setting, not
  derived from ``VAULT_KEYS``, so rotating the encryption keys never changes a
  fingerprint; it recognises the same card linked twice without decrypting.
- in clear: only the brand, the last 4 digits and the expiry.

The CVC is checked for shape here, handed to the processor once for the
verification and then dropped: it is never stored, logged or encrypted.

Never log the number. Nothing in this module logs, and ``CardDetails`` masks
itself in ``repr``/``str`` so a stray log line or traceback shows ``•••• 4242``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import date

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from core.errors import ValidationFailed

NUMBER_MIN_DIGITS = 12
NUMBER_MAX_DIGITS = 19
# An expiry further ahead than this is a typo, not a card.
MAX_YEARS_AHEAD = 20

BRANDS = ("visa", "mastercard", "amex", "discover", "other")
BRAND_LABELS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "other": "Card",
}

_SEPARATORS = re.compile(r"[\s\-]+")


class CardInvalid(ValidationFailed):
    code = "card_invalid"
    default_message = "Check the card details."


class VaultError(Exception):
    """A stored token cannot be decrypted with any key in VAULT_KEYS (a key was dropped too early)."""


# --- Checks -----------------------------------------------------------------------------


@sensitive_variables("text", "digits")
def card_number_normalise(text: object) -> str:
    """The digits of a card number typed with spaces or dashes; CardInvalid if it is not 12–19 digits."""
    if not isinstance(text, str):
        raise CardInvalid("Enter the card number.", fields={"number": ["Enter the card number."]})
    digits = _SEPARATORS.sub("", text)
    if not digits:
        raise CardInvalid("Enter the card number.", fields={"number": ["Enter the card number."]})
    if not (digits.isascii() and digits.isdigit()) or not NUMBER_MIN_DIGITS <= len(digits) <= NUMBER_MAX_DIGITS:
        message = f"A card number is {NUMBER_MIN_DIGITS} to {NUMBER_MAX_DIGITS} digits."
        raise CardInvalid(message, fields={"number": [message]})
    return digits


@sensitive_variables("digits")
def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every card number passes; catches most typos."""
    if not digits or not (digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


@sensitive_variables("digits")
def card_brand(digits: str) -> str:
    """visa / mastercard / amex / discover / other, from the issuer identification number (IIN)."""
    if digits.startswith("4"):
        return "visa"
    if digits[:2] in ("34", "37"):
        return "amex"
    two, four, six = int(digits[:2]), int(digits[:4]), int(digits[:6])
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if digits.startswith(("6011", "65")) or 644 <= int(digits[:3]) <= 649 or 622126 <= six <= 622925:
        return "discover"
    return "other"


def small_int(value: object) -> int | None:
    """An int, or the digits of a short string (an expiry month or year), else None (never bool)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 4:
        return int(value.strip())
    return None


def expiry_check(exp_month: object, exp_year: object, *, today: date | None = None) -> tuple[int, int]:
    """(month, four-digit year); CardInvalid if not a month 1–12, in the past, or over 20 years ahead.

    A two-digit year means 20YY. A card is valid through the last day of its expiry month.
    """
    errors: dict[str, list[str]] = {}
    month, year = small_int(exp_month), small_int(exp_year)
    if month is None or not 1 <= month <= 12:
        errors["exp_month"] = ["Enter the expiry month, 1 to 12."]
    if year is not None and year < 100:
        year += 2000
    if year is None or not 2000 <= year <= 9999:
        errors["exp_year"] = ["Enter the expiry year, like 2030."]
    if errors:
        raise CardInvalid("Check the card's expiry date.", fields=errors)
    today = today or timezone.now().date()
    if (year, month) < (today.year, today.month):
        raise CardInvalid("This card has expired.", fields={"exp_year": ["This card has expired."]})
    if year > today.year + MAX_YEARS_AHEAD:
        raise CardInvalid("That expiry date is too far in the future.", fields={"exp_year": ["Check the expiry year."]})
    return month, year


@sensitive_variables("cvc")
def cvc_check(cvc: object, *, brand: str) -> str:
    """The security code: 4 digits on the front of an American Express card, 3 on the back of others."""
    length = 4 if brand == "amex" else 3
    where = "on the front of the card" if brand == "amex" else "on the back of the card"
    text = cvc.strip() if isinstance(cvc, str) else ""
    if not (text.isascii() and text.isdigit() and len(text) == length):
        message = f"Enter the {length}-digit security code {where}."
        raise CardInvalid(message, fields={"cvc": [message]})
    return text


def mask(last4: str) -> str:
    return f"•••• {last4}"


@dataclass(frozen=True)
class CardDetails:
    """A checked card, in memory only. Its ``repr``/``str`` never show the number or the CVC."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    brand: str
    cvc: str = field(repr=False, default="")

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def masked(self) -> str:
        return mask(self.last4)

    def __repr__(self) -> str:
        return f"CardDetails({self.brand} {self.masked} {self.exp_month:02d}/{self.exp_year})"

    __str__ = __repr__


@sensitive_variables("number", "digits", "cvc")
def card_check(*, number: object, exp_month: object, exp_year: object, cvc: object) -> CardDetails:
    """Every check of a card typed by a person, all errors at once (fields: number, exp_month, exp_year, cvc)."""
    errors: dict[str, list[str]] = {}
    digits = brand = None
    try:
        digits = card_number_normalise(number)
    except CardInvalid as exc:
        errors.update(exc.fields)
    else:
        if not luhn_valid(digits):
            errors["number"] = ["That card number is not valid: check the digits."]
        brand = card_brand(digits)
    month = year = None
    try:
        month, year = expiry_check(exp_month, exp_year)
    except CardInvalid as exc:
        errors.update(exc.fields)
    checked_cvc = ""
    if brand is None:  # no valid number, so no brand: only say something if the code is plainly wrong
        text = cvc.strip() if isinstance(cvc, str) else ""
        if not (text.isascii() and text.isdigit() and len(text) in (3, 4)):
            errors["cvc"] = ["Enter the card's 3- or 4-digit security code."]
    else:
        try:
            checked_cvc = cvc_check(cvc, brand=brand)
        except CardInvalid as exc:
            errors.update(exc.fields)
    if errors:
        first = next(iter(errors.values()))[0]
        raise CardInvalid(first, fields=errors)
    return CardDetails(number=digits, exp_month=month, exp_year=year, brand=brand, cvc=checked_cvc)


# --- Encryption and fingerprints ------------------------------------------------------------


def _fernet() -> MultiFernet:
    keys = settings.VAULT_KEYS
    if not keys:
        raise ImproperlyConfigured("VAULT_KEYS is empty: the card vault cannot work.")
    return MultiFernet([Fernet(key) for key in keys])


@sensitive_variables("digits")
def vault_encrypt(digits: str) -> str:
    """A Fernet token of the card number, made with the first of VAULT_KEYS."""
    return _fernet().encrypt(digits.encode("ascii")).decode("ascii")


def vault_decrypt(token: str) -> str:
    """The card number inside a token; VaultError if no key in VAULT_KEYS opens it."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError, AttributeError):
        raise VaultError("This card number cannot be decrypted with the configured VAULT_KEYS.") from None


@sensitive_variables("digits")
def card_fingerprint(digits: str) -> str:
    """HMAC-SHA256 of the digits keyed by VAULT_FINGERPRINT_KEY (hex): the same card, the same value."""
    key = settings.VAULT_FINGERPRINT_KEY.encode("utf-8")
    return hmac.new(key, b"card-number:" + digits.encode("ascii"), hashlib.sha256).hexdigest()


# Every stored vault token, as (app_label.Model, field, what it is): rotated by vault_rotate().
# Apps above payments (cards) add theirs from AppConfig.ready() with register_vault_field().
_VAULT_FIELDS: list[tuple[str, str, str]] = [
    ("payments.FundingCard", "number_encrypted", "Funding card"),
    ("payments.Check", "deposit_code_encrypted", "Check"),
]


def register_vault_field(model_label: str, column: str, label: str) -> None:
    """Have vault_rotate() re-encrypt ``model_label.column`` too (idempotent)."""
    entry = (model_label, column, label)
    if entry not in _VAULT_FIELDS:
        _VAULT_FIELDS.append(entry)


def vault_rotate(*, batch_size: int = 500) -> int:
    """Re-encrypt every stored vault token (card numbers, CVVs, check codes) with the first key of VAULT_KEYS.

    Safe to run while the site is up, to interrupt and to repeat: each row is rewritten only
    if its token did not change underneath (a conditional update), and a token already under
    the first key is rewritten harmlessly. Returns how many tokens were rewritten. Raises
    VaultError, naming the row, if a token opens with no key.
    """
    from django.apps import apps

    fernet = _fernet()
    rewritten = 0
    for model_label, column, label in _VAULT_FIELDS:
        model = apps.get_model(model_label)
        last_id = 0
        while True:
            rows = list(model.objects.filter(pk__gt=last_id).order_by("pk").values_list("pk", column)[:batch_size])
            if not rows:
                break
            for pk, token in rows:
                if not token:
                    continue
                try:
                    fresh = fernet.rotate(token.encode("ascii")).decode("ascii")
                except (InvalidToken, UnicodeError):
                    raise VaultError(f"{label} #{pk}: no key in VAULT_KEYS opens its {column}.") from None
                with transaction.atomic():
                    rewritten += model.objects.filter(pk=pk, **{column: token}).update(**{column: fresh})
            last_id = rows[-1][0]
    return rewritten

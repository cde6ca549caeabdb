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


@dataclass
class VaultFieldStatus:
    """How many tokens of one vault field are (not yet) under the first key of VAULT_KEYS."""

    label: str
    model_label: str
    column: str
    total: int = 0  # non-empty tokens seen
    current: int = 0  # already under the first key (left alone)
    rewritten: int = 0  # re-encrypted by this run
    changed: int = 0  # changed underneath between read and write (left to the writer: see vault_rotate)
    pending: int = 0  # --check: still under an older key

    @property
    def name(self) -> str:
        return f"{self.model_label}.{self.column}"


def _first_key_fernet() -> Fernet:
    _fernet()  # the same "VAULT_KEYS is empty" error
    return Fernet(settings.VAULT_KEYS[0])


def _under(fernet: Fernet, token: str) -> bool:
    """Whether ``token`` opens with ``fernet`` (the first key alone)."""
    try:
        fernet.decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeError):
        return False
    return True


def _reencrypt(fernet: MultiFernet, token: str, *, where: str) -> str:
    """``token``'s secret encrypted again under the first key; VaultError naming ``where`` if no key opens it."""
    try:
        return fernet.rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise VaultError(f"{where}: no key in VAULT_KEYS opens it. Nothing after it was changed.") from None


def _vault_rows(model, column: str, batch_size: int):
    """(pk, token) of every row with a token, in primary-key order, a batch at a time (never all in memory)."""
    last_id = None
    while True:
        rows = model._base_manager.exclude(**{column: ""}).exclude(**{f"{column}__isnull": True}).order_by("pk")
        if last_id is not None:
            rows = rows.filter(pk__gt=last_id)
        batch = list(rows.values_list("pk", column)[:batch_size])
        if not batch:
            return
        yield from batch
        last_id = batch[-1][0]


def vault_rotate(*, batch_size: int = 500, progress=None) -> int:
    """Re-encrypt every stored vault token (card numbers, CVVs, check codes) under the first key of VAULT_KEYS.

    Guarantees — safe while the site is up, to interrupt (Ctrl-C, a crash) and to repeat:

    - one row at a time, each in its own short transaction, by a conditional update
      (``WHERE pk = … AND column = <the token read>``): a token written by the application
      between our read and our write (always under the first key) is left as the application
      wrote it, never clobbered with our older copy;
    - a token already under the first key is left untouched, so a rerun after an interruption
      skips what is done and goes on where it stopped, and a repeated run writes nothing;
    - a token no configured key opens stops the run with VaultError naming the field and the
      row; rows before it are fully rotated, it and the rows after it are untouched (every
      row is always readable with the keys configured).

    ``progress(status)`` is called with a ``VaultFieldStatus`` after each batch and at the end
    of each field. Returns how many tokens were rewritten.
    """
    from django.apps import apps

    fernet = _fernet()
    first = _first_key_fernet()
    rewritten = 0
    for model_label, column, label in _VAULT_FIELDS:
        model = apps.get_model(model_label)
        status = VaultFieldStatus(label=label, model_label=model_label, column=column)
        for count, (pk, token) in enumerate(_vault_rows(model, column, batch_size), start=1):
            status.total += 1
            if _under(first, token):
                status.current += 1
            else:
                fresh = _reencrypt(fernet, token, where=f"{label} #{pk} ({model_label}.{column})")
                with transaction.atomic():
                    done = model._base_manager.filter(pk=pk, **{column: token}).update(**{column: fresh})
                status.rewritten += done
                status.changed += 1 - done
            if progress and count % batch_size == 0:
                progress(status)
        rewritten += status.rewritten
        if progress:
            progress(status)
    return rewritten


def vault_rotation_check(*, batch_size: int = 500) -> list[VaultFieldStatus]:
    """Per vault field, how many stored tokens are not yet under the first key of VAULT_KEYS (read-only).

    When every ``pending`` is 0, the keys after the first can be dropped from VAULT_KEYS.
    A token no configured key opens counts as pending too (it needs attention before any key goes).
    """
    from django.apps import apps

    first = _first_key_fernet()
    statuses = []
    for model_label, column, label in _VAULT_FIELDS:
        model = apps.get_model(model_label)
        status = VaultFieldStatus(label=label, model_label=model_label, column=column)
        for _pk, token in _vault_rows(model, column, batch_size):
            status.total += 1
            if _under(first, token):
                status.current += 1
            else:
                status.pending += 1
        statuses.append(status)
    return statuses

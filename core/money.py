"""Money: integer minor units with an ISO 4217 currency. No float ever touches money.

``Money.parse("12.34", "USD")`` -> ``Money(1234, "USD")``; ``format_money`` renders it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from .errors import ValidationFailed

# code -> (minor units, symbol, name)
CURRENCIES: dict[str, tuple[int, str, str]] = {
    "USD": (2, "$", "US dollar"),
    "EUR": (2, "€", "Euro"),
    "GBP": (2, "£", "Pound sterling"),
    "CAD": (2, "CA$", "Canadian dollar"),
    "MXN": (2, "MX$", "Mexican peso"),
    "INR": (2, "₹", "Indian rupee"),
    "JPY": (0, "¥", "Japanese yen"),
    "KWD": (3, "KD ", "Kuwaiti dinar"),
}
CURRENCY_CHOICES = [(code, f"{code} — {name}") for code, (_, _, name) in CURRENCIES.items()]

# No single amount may exceed this many minor units (10 trillion units of a
# 2-decimal currency): keeps every sum far from the 64-bit column limit.
MAX_AMOUNT_MINOR = 10**15


# ASCII digits only: "١٢" (Arabic-Indic) or "৪" (Bengali four, which looks like 8) are refused.
_AMOUNT_TEXT = re.compile(r"(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|\.\d+", re.ASCII)


class InvalidAmount(ValidationFailed):
    code = "invalid_amount"
    default_message = "Enter a valid amount."


class UnknownCurrency(ValidationFailed):
    code = "unknown_currency"
    default_message = "That currency is not supported."


def check_currency(currency: str) -> str:
    if not isinstance(currency, str) or currency.upper() not in CURRENCIES:
        raise UnknownCurrency(f"{currency!r} is not a supported currency.", fields={"currency": ["Not supported."]})
    return currency.upper()


def minor_units(currency: str) -> int:
    return CURRENCIES[check_currency(currency)][0]


def check_amount_minor(amount: object, *, allow_zero: bool = False) -> int:
    """An amount in minor units: a real int (not bool, not float), positive, bounded."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount("The amount must be a whole number of minor units.")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidAmount("The amount must be greater than zero.")
    if amount > MAX_AMOUNT_MINOR:
        raise InvalidAmount("The amount is too large.")
    return amount


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units
    currency: str

    def __post_init__(self):
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InvalidAmount("Money amounts are whole minor units.")
        object.__setattr__(self, "currency", check_currency(self.currency))

    @classmethod
    def parse(cls, text: object, currency: str) -> Money:
        """Parse a user-typed major-unit amount ("12.34", "1,000") into positive Money.

        Refuses more decimals than the currency has, zero, negatives and huge values.
        """
        currency = check_currency(currency)
        places = CURRENCIES[currency][0]
        if isinstance(text, bool) or not isinstance(text, (str, int, Decimal)):
            raise InvalidAmount()
        if isinstance(text, str):
            cleaned = text.strip().removeprefix(CURRENCIES[currency][1].strip()).strip()
            if cleaned.startswith("-"):
                raise InvalidAmount("The amount must be greater than zero.")
            # Commas only as thousands separators: "1,50" is refused, never read as 150.
            if not _AMOUNT_TEXT.fullmatch(cleaned):
                raise InvalidAmount(f"“{text:.20}” is not an amount: use digits and a dot for decimals, like 12.50.")
            cleaned = cleaned.replace(",", "")
        else:
            cleaned = str(text)
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise InvalidAmount() from None
        if not value.is_finite():
            raise InvalidAmount()
        if value <= 0:
            raise InvalidAmount("The amount must be greater than zero.")
        # Before any rounding: a huge value would overflow the decimal context.
        if value > Decimal(MAX_AMOUNT_MINOR).scaleb(-places):
            raise InvalidAmount("The amount is too large.")
        if value != value.quantize(Decimal(1).scaleb(-places)):
            if places == 0:
                raise InvalidAmount(f"{currency} amounts are whole numbers, with no decimals.")
            raise InvalidAmount(f"{currency} amounts have at most {places} decimal places.")
        minor = int(value.scaleb(places).to_integral_value(rounding=ROUND_HALF_EVEN))
        return cls(check_amount_minor(minor), currency)

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-CURRENCIES[self.currency][0])

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-minor_units(currency))


def format_money(amount_minor: int, currency: str, *, signed: bool = False) -> str:
    """'$1,234.50', '-€3.00', '¥500'; with signed=True a '+' for positive amounts."""
    currency = check_currency(currency)
    places, symbol, _ = CURRENCIES[currency]
    value = Decimal(abs(amount_minor)).scaleb(-places)
    body = f"{value:,.{places}f}"
    sign = "-" if amount_minor < 0 else ("+" if signed and amount_minor > 0 else "")
    return f"{sign}{symbol}{body}"

"""The amount of a check in words, as written on the "Dollars" line of a paper check.

``amount_in_words(12345, "USD")`` -> ``"One hundred twenty-three and 45/100"``.

The rules (US check-writing style, for every currency):

- the whole units in English words, first letter capitalised, hyphens in 21–99
  ("twenty-one"), no "and" inside the number ("One hundred one"), scales up to
  trillions (``core.money.MAX_AMOUNT_MINOR`` keeps amounts below 10^13 units);
- then " and " and the minor units as a fraction of the currency's unit, with as
  many digits as the currency has decimals: "45/100" (USD, EUR...), "250/1000"
  (KWD, three decimals);
- a currency without minor units (JPY) has no fraction: "One thousand exactly".
- zero whole units are written "Zero": "Zero and 01/100".
"""

from __future__ import annotations

from core.money import check_amount_minor, minor_units

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand")]


def _below_thousand(n: int) -> str:
    parts = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        parts.append(f"{_ONES[hundreds]} hundred")
    if rest:
        if rest < 20:
            parts.append(_ONES[rest])
        else:
            tens, ones = divmod(rest, 10)
            parts.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    return " ".join(parts)


def number_in_words(n: int) -> str:
    """A non-negative integer below 10^15 in lower-case English words ("twelve thousand one")."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0 or n >= 10**15:
        raise ValueError("number_in_words takes an integer from 0 to 10^15 - 1.")
    if n == 0:
        return "zero"
    parts = []
    for size, name in _SCALES:
        count, n = divmod(n, size)
        if count:
            parts.append(f"{_below_thousand(count)} {name}")
    if n:
        parts.append(_below_thousand(n))
    return " ".join(parts)


def amount_in_words(amount_minor: int, currency: str) -> str:
    """The amount as written on a check: "One hundred twenty-three and 45/100" (see the module's rules)."""
    amount_minor = check_amount_minor(amount_minor, allow_zero=True)
    places = minor_units(currency)
    whole, fraction = divmod(amount_minor, 10**places)
    words = number_in_words(whole)
    words = words[0].upper() + words[1:]
    if places == 0:
        return f"{words} exactly"
    return f"{words} and {fraction:0{places}d}/{10**places}"

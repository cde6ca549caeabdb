"""The amount of a check in words: a hand-written reference table and properties (hypothesis)."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ValidationFailed
from payments.checks_words import amount_in_words, number_in_words

REFERENCE = [
    (1, "Zero and 01/100"),
    (99, "Zero and 99/100"),
    (100, "One and 00/100"),
    (1100, "Eleven and 00/100"),
    (1234, "Twelve and 34/100"),
    (1900, "Nineteen and 00/100"),
    (2000, "Twenty and 00/100"),
    (2100, "Twenty-one and 00/100"),
    (4550, "Forty-five and 50/100"),
    (9999, "Ninety-nine and 99/100"),
    (10000, "One hundred and 00/100"),
    (10100, "One hundred one and 00/100"),
    (11000, "One hundred ten and 00/100"),
    (11500, "One hundred fifteen and 00/100"),
    (12345, "One hundred twenty-three and 45/100"),
    (99900, "Nine hundred ninety-nine and 00/100"),
    (100000, "One thousand and 00/100"),
    (100100, "One thousand one and 00/100"),
    (101000, "One thousand ten and 00/100"),
    (110000, "One thousand one hundred and 00/100"),
    (2021300, "Twenty thousand two hundred thirteen and 00/100"),
    (10000000, "One hundred thousand and 00/100"),
    (10000001, "One hundred thousand and 01/100"),
    (70007000, "Seven hundred thousand seventy and 00/100"),
    (100000000, "One million and 00/100"),
    (100100100, "One million one thousand one and 00/100"),
    (1234567890, "Twelve million three hundred forty-five thousand six hundred seventy-eight and 90/100"),
    (100000000000, "One billion and 00/100"),
    (
        99999999999999,
        "Nine hundred ninety-nine billion nine hundred ninety-nine million nine hundred ninety-nine thousand "
        "nine hundred ninety-nine and 99/100",
    ),
    (100000000000000, "One trillion and 00/100"),
    (0, "Zero and 00/100"),
]


@pytest.mark.parametrize(("minor", "words"), REFERENCE)
def test_reference_table_in_dollars(minor, words):
    assert amount_in_words(minor, "USD") == words


def test_other_currencies_use_their_own_minor_units():
    assert amount_in_words(1000, "JPY") == "One thousand exactly"
    assert amount_in_words(1, "JPY") == "One exactly"
    assert amount_in_words(1250, "KWD") == "One and 250/1000"
    assert amount_in_words(5, "KWD") == "Zero and 005/1000"
    assert amount_in_words(12345, "EUR") == "One hundred twenty-three and 45/100"


@pytest.mark.parametrize("bad", [-1, 1.5, True, "100", None, 10**16])
def test_refuses_what_is_not_an_amount(bad):
    with pytest.raises(ValidationFailed):
        amount_in_words(bad, "USD")


def test_refuses_an_unknown_currency():
    with pytest.raises(ValidationFailed):
        amount_in_words(100, "XXX")


# --- Properties --------------------------------------------------------------------------------

_WORD_VALUES = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}


def _parse_words(text: str) -> int:
    """An independent reader of the words back into a number (the inverse the property checks)."""
    total = current = 0
    for word in text.lower().replace("-", " ").split():
        if word in _WORD_VALUES:
            current += _WORD_VALUES[word]
        elif word == "hundred":
            current *= 100
        elif word in _SCALES:
            total += current * _SCALES[word]
            current = 0
        else:
            raise AssertionError(f"unexpected word {word!r}")
    return total + current


@given(st.integers(min_value=0, max_value=10**15 - 1))
def test_words_read_back_to_the_same_amount(minor):
    text = amount_in_words(minor, "USD")
    match = re.fullmatch(r"([A-Z][a-z -]*) and (\d{2})/100", text)
    assert match, text
    assert _parse_words(match.group(1)) * 100 + int(match.group(2)) == minor


@given(st.integers(min_value=0, max_value=10**15 - 1))
def test_number_words_shape(n):
    text = number_in_words(n)
    assert text == text.strip() and "  " not in text and " and " not in text
    assert text == text.lower()
    assert _parse_words(text) == n


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["USD", "EUR", "JPY", "KWD", "INR"]))
def test_every_currency_has_one_shape(minor, currency):
    text = amount_in_words(minor, currency)
    assert text[0].isupper()
    if currency == "JPY":
        assert text.endswith(" exactly") and _parse_words(text.removesuffix(" exactly")) == minor
    else:
        whole, _, fraction = text.rpartition(" and ")
        digits, _, denominator = fraction.partition("/")
        assert _parse_words(whole) * int(denominator) + int(digits) == minor

from decimal import Decimal

import pytest

from core.money import MAX_AMOUNT_MINOR, InvalidAmount, Money, UnknownCurrency, format_money, to_decimal


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.34", "USD", 1234),
        ("12.3", "USD", 1230),
        ("1,000", "USD", 100000),
        ("$5", "USD", 500),
        (" 0.01 ", "usd", 1),
        ("500", "JPY", 500),
        ("1.234", "KWD", 1234),
        ("12.340", "EUR", 1234),
        (Decimal("7.5"), "GBP", 750),
        (3, "USD", 300),
    ],
)
def test_parse(text, currency, minor):
    assert Money.parse(text, currency) == Money(minor, currency.upper())


@pytest.mark.parametrize(
    "text", ["", "abc", "0", "-1", "1.001", "NaN", "Infinity", "1e400", None, 1.5, True, "10000000000000.01"]
)
def test_parse_refuses(text):
    with pytest.raises(InvalidAmount):
        Money.parse(text, "USD")


def test_unknown_currency():
    with pytest.raises(UnknownCurrency):
        Money.parse("1", "XYZ")
    with pytest.raises(UnknownCurrency):
        Money(1, "XYZ")


def test_float_never_becomes_money():
    with pytest.raises(InvalidAmount):
        Money(1.0, "USD")


def test_format():
    assert format_money(123456, "USD") == "$1,234.56"
    assert format_money(-300, "EUR") == "-€3.00"
    assert format_money(500, "JPY") == "¥500"
    assert format_money(5, "USD", signed=True) == "+$0.05"
    assert str(Money(1234, "KWD")) == "KD 1.234"
    assert to_decimal(1234, "USD") == Decimal("12.34")


def test_largest_amount_parses():
    assert Money.parse("10000000000000", "USD").amount == MAX_AMOUNT_MINOR


@pytest.mark.parametrize("text", ["1,50", "12,5", "1,0000", "CA5", "--5", "1.2.3", "1234567890123456789012345678.123"])
def test_ambiguous_or_absurd_text_is_refused_not_misread(text):
    with pytest.raises(InvalidAmount):
        Money.parse(text, "CAD" if text == "CA5" else "EUR")


def test_symbol_prefix_is_stripped_whole():
    assert Money.parse("CA$5", "CAD") == Money(500, "CAD")

"""FX: the rate table, mid rates (direct, inverse, cross via USD), quotes with the spread, CSV loading."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import base as management_base
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from core.errors import ValidationFailed
from core.money import Money
from payments.models import FxRate
from payments.services.fx import (
    AmountTooSmallToConvert,
    FxUnavailable,
    fx_mid_rate,
    fx_quote,
    fx_rate_set,
    fx_rates_load_csv,
    usd_equivalent,
)

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "fx_rates.csv"


# --- Mid rates ---------------------------------------------------------------------------------


def test_direct_inverse_and_cross_rates(fx_rates):
    assert fx_mid_rate("USD", "EUR")[0] == Decimal("0.9")
    assert fx_mid_rate("usd", "jpy")[0] == Decimal("150")
    # Inverse of the newest USD->EUR row.
    assert fx_mid_rate("EUR", "USD")[0] == Decimal(1) / Decimal("0.9")
    # Cross through USD: EUR -> USD -> GBP.
    rate, as_of = fx_mid_rate("EUR", "GBP")
    assert rate == (Decimal(1) / Decimal("0.9")) * Decimal("0.8")
    assert as_of is not None
    assert fx_mid_rate("GBP", "GBP") == (Decimal(1), None)


def test_the_newest_rate_wins_and_rows_are_never_edited(fx_rates):
    old = FxRate.objects.get(base="USD", quote="EUR")
    fx_rate_set(base="USD", quote="EUR", rate="0.95", as_of=datetime(2020, 1, 1, tzinfo=UTC), source="stale")
    assert fx_mid_rate("USD", "EUR")[0] == Decimal("0.9")  # published earlier: not in force
    fx_rate_set(base="USD", quote="EUR", rate="0.91", source="fresh")
    assert fx_mid_rate("USD", "EUR")[0] == Decimal("0.91")
    old.refresh_from_db()
    assert old.rate == Decimal("0.9")
    assert FxRate.objects.filter(base="USD", quote="EUR").count() == 3


def test_a_direct_row_beats_the_inverse_of_the_reverse_pair(fx_rates):
    fx_rate_set(base="EUR", quote="USD", rate="1.2")
    assert fx_mid_rate("EUR", "USD")[0] == Decimal("1.2")


def test_missing_rate_is_fx_unavailable(db):
    with pytest.raises(FxUnavailable) as err:
        fx_mid_rate("USD", "EUR")
    assert err.value.status == 422
    assert "USD to EUR" in err.value.message
    with pytest.raises(FxUnavailable):
        fx_quote(send=Money.parse("10.00", "USD"), to_currency="EUR")
    # One leg of the cross is missing: still unavailable.
    fx_rate_set(base="USD", quote="EUR", rate="0.9")
    with pytest.raises(FxUnavailable):
        fx_mid_rate("EUR", "GBP")


# --- Quotes ----------------------------------------------------------------------------------------


def test_quote_applies_the_spread_and_rounds_down(fx_rates):
    quote = fx_quote(send=Money.parse("10.00", "USD"), to_currency="EUR")
    # 10 * 0.9 * (1 - 0.005) = 8.955 -> 8.95: never pays out more than the disclosed rate.
    assert quote.receive == Money(895, "EUR")
    assert quote.mid_rate == Decimal("0.9")
    assert quote.spread == Decimal("0.005")
    assert quote.rate == Decimal("0.8955")
    assert quote.is_conversion
    data = quote.as_dict()
    assert data["receive"] == {"amount": "8.95", "currency": "EUR"}
    assert data["rate"] == "0.8955"


def test_same_currency_quote_has_no_spread(fx_rates):
    quote = fx_quote(send=Money.parse("10.00", "USD"), to_currency="USD")
    assert quote.receive == quote.send
    assert quote.spread == 0
    assert not quote.is_conversion


def test_zero_decimal_jpy(fx_rates):
    # 1.00 USD -> 150 * 0.995 = 149.25 JPY -> 149 (no minor unit)
    assert fx_quote(send=Money.parse("1.00", "USD"), to_currency="JPY").receive == Money(149, "JPY")
    # 100 JPY -> 100 / 150 * 0.995 = 0.6633 USD -> 0.66
    assert fx_quote(send=Money.parse("100", "JPY"), to_currency="USD").receive == Money(66, "USD")
    with pytest.raises(ValidationFailed):
        Money.parse("1.5", "JPY")


def test_three_decimal_kwd(fx_rates):
    # 10.00 USD -> 10 * 0.3 * 0.995 = 2.985 KWD
    assert fx_quote(send=Money.parse("10.00", "USD"), to_currency="KWD").receive == Money(2985, "KWD")


def test_too_small_to_convert(fx_rates):
    with pytest.raises(AmountTooSmallToConvert) as err:
        fx_quote(send=Money.parse("1", "JPY"), to_currency="USD")  # 0.0066 USD rounds down to nothing
    assert err.value.status == 422
    assert err.value.fields == {"amount": ["Too small to convert."]}


@override_settings(FX_SPREAD=Decimal("0"))
def test_rate_is_never_in_exponent_form(fx_rates):
    quote = fx_quote(send=Money.parse("2.00", "USD"), to_currency="JPY")
    assert quote.receive == Money(300, "JPY")
    assert quote.as_dict()["rate"] == "150"


def test_usd_equivalent_uses_the_mid_rate_half_up(fx_rates):
    assert usd_equivalent(1234, "USD") == 1234
    assert usd_equivalent(1000, "JPY") == 667  # 1000 / 150 = 6.6667 -> 6.67
    assert usd_equivalent(900, "EUR") == 1000


# --- Setting rates ----------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", ["0", "-1", "NaN", "Infinity", "abc", "", "1e10", "0.0000000000001"])
def test_fx_rate_set_refuses_nonsense(db, rate):
    with pytest.raises(ValidationFailed):
        fx_rate_set(base="USD", quote="EUR", rate=rate)
    assert not FxRate.objects.exists()


def test_fx_rate_set_refuses_one_currency_or_an_unknown_one(db):
    with pytest.raises(ValidationFailed):
        fx_rate_set(base="USD", quote="usd", rate="1")
    with pytest.raises(ValidationFailed):
        fx_rate_set(base="USD", quote="XYZ", rate="1")


def test_fx_rate_set_keeps_twelve_decimal_places(db):
    row = fx_rate_set(base="USD", quote="EUR", rate="0.12345678901249")
    row.refresh_from_db()
    assert row.rate == Decimal("0.123456789012")


# --- CSV ----------------------------------------------------------------------------------------------


def test_csv_load_records_every_row(db, django_user_model):
    text = (
        "base,quote,rate,as_of\nUSD,EUR,0.92,2026-01-02T00:00:00Z\nusd,jpy,150.5,2026-01-02T00:00:00\nUSD,GBP,0.79,\n"
    )
    staff = django_user_model.objects.create_user("staffer", "staff@example.com", "x", is_staff=True)
    assert fx_rates_load_csv(text, source="ecb", user=staff) == 3
    jpy = FxRate.objects.get(quote="JPY")
    assert jpy.rate == Decimal("150.5")
    assert jpy.as_of == datetime(2026, 1, 2, tzinfo=UTC)  # naive: read as UTC
    assert jpy.source == "ecb" and jpy.created_by == staff
    assert FxRate.objects.get(quote="GBP").as_of is not None  # empty as_of: now


def test_csv_load_is_all_or_none_and_names_the_line(fx_rates):
    before = FxRate.objects.count()
    text = "base,quote,rate\nUSD,EUR,0.93\nUSD,GBP,-1\nUSD,MXN,18\n"
    with pytest.raises(ValidationFailed) as err:
        fx_rates_load_csv(text)
    assert err.value.message.startswith("Line 3:")
    assert err.value.code == "invalid_csv"
    assert FxRate.objects.count() == before
    assert fx_mid_rate("USD", "EUR")[0] == Decimal("0.9")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("base,quote,rate\nUSD,XYZ,1\n", 2, "not a supported currency"),
        ("base,quote,rate\nUSD,USD,1\n", 2, "two different currencies"),
        ("base,quote,rate,as_of\nUSD,EUR,0.9,yesterday\n", 2, "not an ISO date-time"),
        ("base,quote,rate,as_of\nUSD,EUR,0.9,2026-02-30T00:00:00Z\n", 2, "not an ISO date-time"),
        ("base,quote,rate\nUSD,EUR,0.9,surplus\n", 2, "more cells than the header"),
        ("base,quote,rate\nUSD,EUR,0.9\n\n\nUSD,GBP,zero\n", 5, "not a rate"),
        ('base,quote,rate\nUSD,EUR,"0.9\nmore"\n', 3, "not a rate"),
        ("base,quote,rate\nUSD,EUR\n", 2, ""),
    ],
)
def test_csv_errors_name_the_physical_line(db, text, line, words):
    with pytest.raises(ValidationFailed) as err:
        fx_rates_load_csv(text)
    assert err.value.message.startswith(f"Line {line}:"), err.value.message
    assert words in err.value.message
    assert not FxRate.objects.exists()


@pytest.mark.parametrize("text", ["", "USD,EUR,0.9\n", "from,to,value\nUSD,EUR,1\n"])
def test_csv_needs_its_header(db, text):
    with pytest.raises(ValidationFailed) as err:
        fx_rates_load_csv(text)
    assert "header" in err.value.message


def test_csv_with_a_nul_byte_is_refused_not_crashed(db):
    with pytest.raises(ValidationFailed):
        fx_rates_load_csv("base,quote,rate\nUSD,EUR,0.9\x00\n")
    assert not FxRate.objects.exists()


# --- The management command ---------------------------------------------------------------------


def test_fx_rates_load_command_loads_the_default_fixture(db, capsys):
    call_command("fx_rates_load", str(FIXTURE))
    assert "recorded 7 rates from fx_rates.csv" in capsys.readouterr().out
    pairs = set(FxRate.objects.values_list("base", "quote"))
    assert pairs == {("USD", q) for q in ["EUR", "GBP", "CAD", "MXN", "INR", "JPY", "KWD"]}
    assert set(FxRate.objects.values_list("source", flat=True)) == {"csv:fx_rates.csv"}
    assert set(FxRate.objects.values_list("as_of", flat=True)) == {datetime(2026, 1, 2, tzinfo=UTC)}
    # Every wallet currency converts to every other one (directly, inversely or through USD).
    for base in ["USD", "EUR", "GBP", "CAD", "MXN", "INR", "JPY", "KWD"]:
        for quote in ["USD", "EUR", "JPY", "KWD"]:
            assert fx_mid_rate(base, quote)[0] > 0


def test_fx_rates_load_command_source_option(db, tmp_path, capsys):
    path = tmp_path / "rates.csv"
    path.write_text("\ufeffbase,quote,rate\nUSD,EUR,0.9\n", encoding="utf-8")  # a spreadsheet's BOM
    call_command("fx_rates_load", str(path), source="ecb-daily")
    assert "recorded 1 rate from rates.csv" in capsys.readouterr().out
    assert FxRate.objects.get().source == "ecb-daily"


def test_fx_rates_load_command_fails_naming_the_line_and_loads_nothing(db, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("base,quote,rate\nUSD,EUR,0.9\nUSD,GBP,lots\n", encoding="utf-8")
    with pytest.raises(CommandError, match="Line 3:"):
        call_command("fx_rates_load", str(path))
    assert not FxRate.objects.exists()


@pytest.mark.parametrize("content", [None, b"\xff\xfe\x00bad"])
def test_fx_rates_load_command_exits_non_zero(db, tmp_path, capsys, content):
    from payments.management.commands.fx_rates_load import Command

    path = tmp_path / "rates.csv"
    if content is not None:
        path.write_bytes(content)
    # run_from_argv closes the database connections when done: keep the test's open.
    with mock.patch.object(management_base.connections, "close_all"), pytest.raises(SystemExit) as exit_info:
        Command().run_from_argv(["manage.py", "fx_rates_load", str(path)])
    assert exit_info.value.code == 1
    assert "rates.csv" in capsys.readouterr().err
    assert not FxRate.objects.exists()

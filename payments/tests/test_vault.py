"""The card vault: checks, encryption at rest, fingerprints, key rotation, and that the number leaks nowhere."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from core.money import Money
from payments import processor
from payments.models import FundingCard
from payments.services.funding import (
    CardAlreadyLinked,
    card_link,
    card_remove,
    cashout_create,
    cashouts_settle_due,
    topup_create,
)
from payments.vault import (
    CardDetails,
    CardInvalid,
    VaultError,
    card_brand,
    card_check,
    card_fingerprint,
    card_number_normalise,
    cvc_check,
    expiry_check,
    luhn_valid,
    vault_decrypt,
    vault_encrypt,
    vault_rotate,
)

NUMBER = "4242424242424242"
EXP_YEAR = timezone.now().year + 3


@pytest.fixture(autouse=True)
def _fresh_processor():
    processor.reset()
    yield
    processor.reset()


def runs_of(number: str, shortest: int = 5) -> set[str]:
    """Every substring of ``number`` at least ``shortest`` digits long."""
    return {number[i:j] for i in range(len(number)) for j in range(i + shortest, len(number) + 1)}


def link(user, number: str = NUMBER, **overrides):
    fields = {"number": number, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "123"}
    fields.update(overrides)
    return card_link(user, **fields)


# --- Checks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "digits"),
    [("4242 4242 4242 4242", NUMBER), ("4242-4242-4242-4242", NUMBER), (" 4242424242424242 ", NUMBER)],
)
def test_normalise_strips_spaces_and_dashes(typed, digits):
    assert card_number_normalise(typed) == digits


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "4242", "42424242424", "4" * 20, "4242 4242 4242 424x", "４２４２４２４２４２４２４２４２", None, 4242],
)
def test_normalise_refuses_what_is_not_12_to_19_digits(typed):
    with pytest.raises(CardInvalid) as caught:
        card_number_normalise(typed)
    assert "number" in caught.value.fields


def test_luhn():
    assert luhn_valid(NUMBER)
    assert luhn_valid("378282246310005")
    assert not luhn_valid("4242424242424241")
    assert not luhn_valid("")


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("371449635398431", "amex"),
        ("6011111111111117", "discover"),
        ("6500000000000002", "discover"),
        ("3056930009020004", "other"),
    ],
)
def test_brand_from_the_iin(number, brand):
    assert card_brand(number) == brand


def test_expiry_rules():
    today = date(2026, 5, 14)
    assert expiry_check(5, 2026, today=today) == (5, 2026)  # valid through the end of its month
    assert expiry_check("7", "29", today=today) == (7, 2029)  # two-digit year
    with pytest.raises(CardInvalid, match=r"This card has expired\."):
        expiry_check(4, 2026, today=today)
    with pytest.raises(CardInvalid, match="too far in the future"):
        expiry_check(1, 2047, today=today)
    for month in (0, 13, "x", None, True, 1.5):
        with pytest.raises(CardInvalid) as caught:
            expiry_check(month, 2030, today=today)
        assert "exp_month" in caught.value.fields
    with pytest.raises(CardInvalid) as caught:
        expiry_check(1, "twenty", today=today)
    assert "exp_year" in caught.value.fields


def test_cvc_is_3_digits_or_4_for_amex():
    assert cvc_check("123", brand="visa") == "123"
    assert cvc_check("1234", brand="amex") == "1234"
    for bad, brand in (("12", "visa"), ("1234", "visa"), ("123", "amex"), ("abc", "visa"), (123, "visa"), ("", "visa")):
        with pytest.raises(CardInvalid) as caught:
            cvc_check(bad, brand=brand)
        assert "cvc" in caught.value.fields


def test_card_check_reports_every_problem_at_once():
    with pytest.raises(CardInvalid) as caught:
        card_check(number="4242424242424241", exp_month=13, exp_year=2020, cvc="1")
    assert set(caught.value.fields) == {"number", "exp_month", "cvc"}
    assert caught.value.fields["number"] == ["That card number is not valid: check the digits."]


def test_card_details_never_show_the_number_or_cvc():
    details = card_check(number=NUMBER, exp_month=12, exp_year=EXP_YEAR, cvc="987")
    assert isinstance(details, CardDetails)
    for text in (repr(details), str(details), f"{details}", f"{details!r}"):
        assert NUMBER not in text and "987" not in text
        assert "•••• 4242" in text


# --- Linking: what is stored ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("number", "cvc"), [(NUMBER, "123"), ("378282246310005", "7391")])
def test_the_database_row_holds_no_run_of_the_card_number(alice, monkeypatch, number, cvc):
    # A fixed clock: the row's timestamp then holds no random digits that could match by chance.
    fixed = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: fixed)
    card = link(alice, number=" ".join([number[:4], number[4:10], number[10:]]), cvc=cvc)
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == (card_brand(number), number[-4:], 12, EXP_YEAR)
    assert len(card.fingerprint) == 64 and card.fingerprint == card_fingerprint(number)
    assert vault_decrypt(card.number_encrypted) == number  # the token holds the number, and only the number

    stored = FundingCard.objects.values().get(pk=card.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM payments_fundingcard WHERE id = %s", [card.pk])
        raw = cursor.fetchone()
        columns = [column[0].lower() for column in cursor.description]
    texts = [str(value) for value in (*stored.values(), *raw)]
    whole_row = "|".join(texts)
    for run in runs_of(number):
        assert run not in whole_row, f"a {len(run)}-digit run of the card number is stored in clear"
    assert number not in whole_row
    # No column for the CVC exists, and the security code is in no stored value of the row.
    assert not any(name in column for column in columns for name in ("cvc", "cvv", "csc"))
    assert not any(name in field.name for field in FundingCard._meta.get_fields() for name in ("cvc", "cvv", "csc"))
    if len(cvc) == 4:
        assert all(cvc not in text for text in texts if text != card.number_encrypted)


@pytest.mark.django_db
def test_the_cvc_goes_to_the_processor_once_and_is_kept_nowhere(alice, monkeypatch):
    seen = []
    real_charge = processor.charge

    def spy(card_number, amount, currency, cvc=None, **kwargs):
        seen.append(cvc)
        return real_charge(card_number, amount, currency, cvc, **kwargs)

    monkeypatch.setattr(processor, "charge", spy)
    card = link(alice, cvc="318")
    assert seen == ["318"]  # one $0 verification with the CVC
    topup_create(alice, card=card, amount=Money.parse("5.00", "USD"), idempotency_key="cvc-topup")
    assert seen == ["318", None]  # later charges never have it: it was not kept
    assert all("cvc" not in entry for entry in processor.history)


@pytest.mark.django_db
def test_no_log_record_carries_the_number(alice, caplog, client):
    """The whole flow — link (service and page), top-up, standard and instant cash-out, settlement — logs
    nothing that contains the card number or any run of 5+ of its digits; nor does any SQL statement."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    try:
        card = link(alice)
        topup_create(alice, card=card, amount=Money.parse("50.00", "USD"), idempotency_key="log-topup")
        cashout_create(
            alice, card=card, amount=Money.parse("20.00", "USD"), speed="standard", idempotency_key="log-std"
        )
        cashout_create(
            alice, card=card, amount=Money.parse("30.00", "USD"), speed="instant", idempotency_key="log-inst"
        )
        cashouts_settle_due(now=timezone.now() + timedelta(days=6))
        card_remove(alice, card=card)
        client.force_login(alice)
        response = client.post(
            "/wallet/cards/",
            {"number": "4242 4242 4242 4242", "exp_month": "12", "exp_year": str(EXP_YEAR), "cvc": "123"},
        )
        assert response.status_code == 302
        response = client.post(  # a refused card too: errors must not echo it either
            "/wallet/cards/",
            {"number": "4242 4242 4242 4241", "exp_month": "12", "exp_year": str(EXP_YEAR), "cvc": "123"},
        )
        assert response.status_code == 400
        assert b"4242424242424241" not in response.content and b"4242 4242 4242 4241" not in response.content
    finally:
        connection.force_debug_cursor = False

    assert caplog.records, "the flow should log something (SQL at least)"
    sql_records = [r for r in caplog.records if r.name.startswith("django.db.backends")]
    app_records = [r for r in caplog.records if not r.name.startswith("django.db.backends")]
    assert sql_records and any("simulated charge" in r.getMessage() for r in app_records)
    for record in caplog.records:
        text = " ".join(
            [record.getMessage(), repr(record.args), record.exc_text or "", str(getattr(record, "params", ""))]
        )
        for form in (NUMBER, "4242 4242 4242 4242", "4242-4242-4242-4242", "4242424242424241"):
            assert form not in text, f"{record.name} logged the card number"
        # App records: no run of 5+ digits of the number at all. SQL records also carry random
        # timestamps and hashes, so for them look for runs of 8+ (a chance match is ~1e-9).
        for run in runs_of(NUMBER, shortest=5 if record in app_records else 8):
            assert run not in text, f"{record.name} logged a {len(run)}-digit run of the card number: {text[:200]}"


# --- Duplicates ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_card_linked_twice_is_recognised(alice, bob):
    first = link(alice)
    with pytest.raises(CardAlreadyLinked, match="This card is already linked"):
        link(alice, number="4242-4242-4242-4242", exp_month=1, exp_year=EXP_YEAR + 1, cvc="555")
    assert FundingCard.objects.filter(user=alice).count() == 1
    # Someone else may link the same card; and after removing it, so may its owner again.
    assert link(bob).fingerprint == first.fingerprint
    card_remove(alice, card=first)
    again = link(alice)
    assert again.pk != first.pk and again.fingerprint == first.fingerprint


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"number": "4242424242424241"}, "number", "That card number is not valid: check the digits."),
        ({"number": "4242"}, "number", "A card number is 12 to 19 digits."),
        ({"exp_month": 13}, "exp_month", "Enter the expiry month, 1 to 12."),
        ({"exp_month": 1, "exp_year": 2020}, "exp_year", "This card has expired."),
        ({"cvc": "12"}, "cvc", "Enter the 3-digit security code on the back of the card."),
        (
            {"number": "378282246310005", "cvc": "123"},
            "cvc",
            "Enter the 4-digit security code on the front of the card.",
        ),
    ],
)
def test_invalid_cards_are_refused_before_the_processor_and_nothing_is_stored(alice, fields, field, message):
    with pytest.raises(CardInvalid) as caught:
        link(alice, **fields)
    assert caught.value.fields[field] == [message]
    assert caught.value.status == 400
    assert not FundingCard.objects.exists()
    assert not processor.history


# --- Encryption and rotation --------------------------------------------------------------------


def test_the_dev_key_is_used_under_the_tests():
    assert settings.VAULT_KEYS and settings.VAULT_FINGERPRINT_KEY
    token = vault_encrypt(NUMBER)
    assert NUMBER not in token and vault_decrypt(token) == NUMBER
    assert vault_encrypt(NUMBER) != token  # a fresh IV every time: equal numbers do not give equal tokens


@pytest.mark.django_db
def test_key_rotation(alice):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(VAULT_KEYS=[old]):
        card = link(alice)
        token = card.number_encrypted
        assert Fernet(old.encode()).decrypt(token.encode()).decode() == NUMBER
    fingerprint = card.fingerprint

    with override_settings(VAULT_KEYS=[new, old]):  # the new key first; the old one still decrypts
        assert vault_decrypt(token) == NUMBER
        assert card_fingerprint(NUMBER) == fingerprint  # fingerprints do not depend on the vault keys
        assert vault_rotate() == 1
        card.refresh_from_db()
        assert card.number_encrypted != token
        assert Fernet(new.encode()).decrypt(card.number_encrypted.encode()).decode() == NUMBER
        with pytest.raises(InvalidToken):
            Fernet(old.encode()).decrypt(card.number_encrypted.encode())
        out = StringIO()
        call_command("vault_rotate", stdout=out)  # the command does the same; safe to repeat
        assert "Re-encrypted 0 secret(s)" in out.getvalue() and NUMBER not in out.getvalue()  # nothing left to do

    with override_settings(VAULT_KEYS=[new]):  # the old key dropped: everything still works
        card.refresh_from_db()
        assert vault_decrypt(card.number_encrypted) == NUMBER
        topup = topup_create(alice, card=card, amount=Money.parse("1.00", "USD"), idempotency_key="after-rotation")
        assert topup.status == "completed"
        with pytest.raises(CardAlreadyLinked):
            link(alice)  # still recognised after rotation

    with override_settings(VAULT_KEYS=[old]), pytest.raises(VaultError):
        vault_decrypt(card.number_encrypted)  # a token made with a key no longer configured


@pytest.mark.django_db
def test_rotation_names_a_row_no_key_opens(alice):
    link(alice)
    with override_settings(VAULT_KEYS=[Fernet.generate_key().decode()]), pytest.raises(VaultError, match="#"):
        vault_rotate()
    out = StringIO()
    with override_settings(VAULT_KEYS=[Fernet.generate_key().decode()]), pytest.raises(Exception, match="no key"):
        call_command("vault_rotate", stdout=out)


# --- Settings -----------------------------------------------------------------------------------


def _import_settings(**env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "DEBUG"))}
    environment.update({"SECRET_KEY": "x" * 50, "DEBUG": "0", **env})
    return subprocess.run(
        [sys.executable, "-c", "import everything.settings as s; print(len(s.VAULT_KEYS))"],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_vault_keys():
    missing = _import_settings(VAULT_FINGERPRINT_KEY="f" * 40)
    assert missing.returncode != 0 and "VAULT_KEYS must be set" in missing.stderr
    bad = _import_settings(VAULT_KEYS="not-a-key", VAULT_FINGERPRINT_KEY="f" * 40)
    assert bad.returncode != 0 and "VAULT_KEYS entry 1 is not a Fernet key" in bad.stderr
    no_fingerprint_key = _import_settings(VAULT_KEYS=Fernet.generate_key().decode())
    assert no_fingerprint_key.returncode != 0 and "VAULT_FINGERPRINT_KEY must be set" in no_fingerprint_key.stderr
    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    good = _import_settings(VAULT_KEYS=keys, VAULT_FINGERPRINT_KEY="f" * 40)
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "2"
    dev = _import_settings(DEBUG="1")
    assert dev.returncode == 0 and dev.stdout.strip() == "1", dev.stderr

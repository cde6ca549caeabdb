"""Vault key rotation (issue 10, point 7): ``manage.py vault_rotate`` re-encrypts every stored secret
under the first key of VAULT_KEYS; interrupted it resumes, it never clobbers a concurrent write,
it stops cleanly on a token no key opens, and ``--check`` says when the old key can go."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test.utils import override_settings

from cards.tests.factories import card_for
from payments import vault
from payments.models import FundingCard
from payments.services.funding import card_link
from payments.vault import vault_decrypt, vault_encrypt, vault_rotate, vault_rotation_check

pytestmark = pytest.mark.django_db

NUMBERS = ["4242424242424242", "5555555555554444", "4000056655665556"]
EXP_YEAR = 2040


@pytest.fixture
def keys():
    """(new key, the keys the rows were made with): rotating means VAULT_KEYS = [new, *old]."""
    return Fernet.generate_key().decode(), list(settings.VAULT_KEYS)


@pytest.fixture
def linked(alice):
    return [card_link(alice, number=n, exp_month=12, exp_year=EXP_YEAR, cvc="123") for n in NUMBERS]


def stored_tokens() -> dict[tuple[str, str, int], str]:
    """Every non-empty vault token in the database, by (model, column, pk)."""
    tokens = {}
    for model_label, column, _label in vault._VAULT_FIELDS:
        for pk, token in apps.get_model(model_label).objects.values_list("pk", column):
            if token:
                tokens[(model_label, column, pk)] = token
    return tokens


def plain(tokens: dict, keys: list[str]) -> dict:
    with override_settings(VAULT_KEYS=keys):
        return {where: vault_decrypt(token) for where, token in tokens.items()}


def under_first_key(token: str, key: str) -> bool:
    try:
        Fernet(key.encode()).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def test_rotation_puts_every_secret_under_the_first_key_and_a_rerun_is_harmless(linked, keys):
    new, old = keys
    card_for(linked[0].user)  # an issued card: its number and CVV are vault tokens too
    before = stored_tokens()
    assert len(before) == 5 and {where[0] for where in before} == {"payments.FundingCard", "cards.Card"}
    secrets = plain(before, old)

    with override_settings(VAULT_KEYS=[new, *old]):
        assert vault_rotate() == 5
        after = stored_tokens()
        assert vault_rotate() == 0  # a repeated run rewrites nothing
        assert stored_tokens() == after
        assert all(status.pending == 0 for status in vault_rotation_check())
    assert all(under_first_key(token, new) for token in after.values())
    assert plain(after, [new]) == secrets  # the new key alone opens everything, same secrets
    with override_settings(VAULT_KEYS=[new]):
        assert vault_decrypt(FundingCard.objects.get(pk=linked[0].pk).number_encrypted) == NUMBERS[0]


def test_an_interrupted_rotation_loses_nothing_and_a_rerun_finishes(linked, keys, monkeypatch):
    new, old = keys
    before = stored_tokens()
    assert len(before) == 3
    secrets = plain(before, old)
    real = vault._reencrypt
    calls = []

    def crash_on_the_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C, or the process killed, between two rows
        return real(*args, **kwargs)

    monkeypatch.setattr(vault, "_reencrypt", crash_on_the_third)
    with override_settings(VAULT_KEYS=[new, *old]), pytest.raises(KeyboardInterrupt):
        vault_rotate()
    halfway = stored_tokens()
    assert sum(under_first_key(token, new) for token in halfway.values()) == 2
    assert plain(halfway, [new, *old]) == secrets  # nothing lost or corrupted: every row still opens
    with override_settings(VAULT_KEYS=[new, *old]):
        assert [status.pending for status in vault_rotation_check() if status.total] == [1]

    monkeypatch.setattr(vault, "_reencrypt", real)
    with override_settings(VAULT_KEYS=[new, *old]):
        assert vault_rotate() == 1  # goes on where it stopped
    done = stored_tokens()
    assert all(under_first_key(token, new) for token in done.values())
    assert plain(done, [new]) == secrets


def test_a_row_written_during_the_rotation_is_not_clobbered(linked, keys, monkeypatch):
    new, old = keys
    target = linked[1]
    real = vault._reencrypt
    statuses = []

    def app_writes_meanwhile(fernet, token, *, where):
        fresh = real(fernet, token, where=where)
        if f"#{target.pk} " in where:  # the application re-saves this row between our read and our write
            FundingCard.objects.filter(pk=target.pk).update(number_encrypted=vault_encrypt("4111111111111111"))
        return fresh

    monkeypatch.setattr(vault, "_reencrypt", app_writes_meanwhile)
    with override_settings(VAULT_KEYS=[new, *old]):
        assert vault_rotate(progress=statuses.append) == 2
        assert vault_decrypt(FundingCard.objects.get(pk=target.pk).number_encrypted) == "4111111111111111"
        assert all(status.pending == 0 for status in vault_rotation_check())
    funding = [s for s in statuses if s.model_label == "payments.FundingCard"][-1]
    assert (funding.total, funding.rewritten, funding.changed) == (3, 2, 1)


def test_a_token_no_key_opens_stops_with_an_error_naming_the_row(linked, keys):
    new, old = keys
    first, broken, last = linked
    stranger = Fernet(Fernet.generate_key()).encrypt(b"4242424242424242").decode()
    FundingCard.objects.filter(pk=broken.pk).update(number_encrypted=stranger)
    untouched = FundingCard.objects.get(pk=last.pk).number_encrypted

    with override_settings(VAULT_KEYS=[new, *old]), pytest.raises(CommandError) as error:
        call_command("vault_rotate", stdout=StringIO())
    assert f"Funding card #{broken.pk}" in str(error.value) and "no key" in str(error.value)
    rows = {card.pk: card.number_encrypted for card in FundingCard.objects.all()}
    assert under_first_key(rows[first.pk], new)  # before it: fully rotated
    assert rows[broken.pk] == stranger  # it: as it was
    assert rows[last.pk] == untouched  # after it: not touched at all
    assert plain({"last": rows[last.pk]}, old) == {"last": NUMBERS[2]}


def test_check_counts_per_field_and_fails_until_everything_is_rotated(linked, keys):
    new, old = keys
    with override_settings(VAULT_KEYS=[new, *old]):
        out = StringIO()
        with pytest.raises(CommandError) as error:
            call_command("vault_rotate", "--check", stdout=out)
        assert error.value.returncode == 1 and "3 secret(s)" in str(error.value)
        assert "Funding card (payments.FundingCard.number_encrypted): 3 of 3 not under the first key" in out.getvalue()
        assert "Check (payments.Check.deposit_code_encrypted): 0 of 0" in out.getvalue()
        assert FundingCard.objects.filter(number_encrypted__in=[c.number_encrypted for c in linked]).count() == 3

        out = StringIO()
        call_command("vault_rotate", stdout=out)
        text = out.getvalue()
        assert "Funding card (payments.FundingCard.number_encrypted): 3 seen, 3 re-encrypted" in text
        assert "Re-encrypted 3 secret(s)" in text and NUMBERS[0] not in text

        out = StringIO()
        call_command("vault_rotate", "--check", stdout=out)  # no error: exit status 0
        assert "0 of 3 not under the first key" in out.getvalue() and "can be dropped" in out.getvalue()

"""The vault (issue 7, point 2): no plaintext card number or CVV in any table or any log line;
the full details only after a recent re-authentication, and every reveal audited."""

from __future__ import annotations

import logging
import time

import pytest
from django.apps import apps
from django.db import connection, models

from cards.models import CardStatus
from cards.network import card_capture, card_refund, card_reverse
from cards.services import (
    REVEAL_SECONDS,
    CardNotFound,
    CardNotUsable,
    ReauthenticationRequired,
    RevealedCard,
    card_replace,
    card_reveal,
)
from compliance.models import AuditEntry
from payments.tests.factories import fund, sender_user

from .factories import authorize, card_for, merchant, with_details

pytestmark = pytest.mark.django_db

TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


def _grouped(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def _strings(value) -> list[str]:
    """Every string inside a column value (JSON nested values included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    if value is None or isinstance(value, bool | int | float):
        return [str(value)] if isinstance(value, int | float) and not isinstance(value, bool) else []
    return [str(value)]


def _database_leaks(number: str, cvv: str) -> list[str]:
    """Every (table.column) of every model of every app holding the number, or a value equal to the CVV."""
    leaks = []
    scanned = 0
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        columns = [f.attname for f in model._meta.concrete_fields if isinstance(f, TEXT_FIELDS)]
        if not columns:
            continue
        scanned += 1
        for row in model._base_manager.values_list(*columns):
            for column, value in zip(columns, row, strict=True):
                for text in _strings(value):
                    if number in text or _grouped(number) in text or number[6:] in text or text.strip() == cvv:
                        leaks.append(f"{model._meta.db_table}.{column}")
    assert scanned > 40, "the scan must cover every app's tables"
    return leaks


def _raw_table_leaks(number: str) -> list[str]:
    """The same for the number over every table the database has (tables without a model too)."""
    leaks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                if any(number in str(value) for value in row if value is not None):
                    leaks.append(table)
    return leaks


def _log_leaks(records, number: str, cvv: str) -> list[str]:
    leaks = []
    for record in records:
        texts = [record.getMessage(), str(record.args), record.exc_text or ""]
        for text in texts:
            if number in text or _grouped(number) in text or f"cvv={cvv}" in text or f"'{cvv}'" in text:
                leaks.append(f"{record.name}: {record.getMessage()[:200]}")
    return leaks


@pytest.fixture
def everything_logged(caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    old = connection.force_debug_cursor
    connection.force_debug_cursor = True  # log every SQL statement with its parameters too
    yield caplog
    connection.force_debug_cursor = old


def test_no_plaintext_number_or_cvv_in_the_database_or_the_logs(everything_logged, django_capture_on_commit_callbacks):
    user = sender_user("secretive")
    with django_capture_on_commit_callbacks(execute=True):
        fund(user, "250.00")  # crosses the threshold: the card is issued automatically
    card = with_details(user.cards.get())
    number, cvv = card.plain_number, card.plain_cvv
    shop = merchant("Leaky Shop")
    with django_capture_on_commit_callbacks(execute=True):
        approved = authorize(shop, card, 1500, ntid="v1")
        authorize(shop, card, 700, ntid="v2", cvv="000" if cvv != "000" else "001")  # a declined try
        authorize(shop, card, 100, ntid="v3", number=_grouped(number))
        card_capture(shop, authorization_id=approved["authorization_id"], amount=1000, network_transaction_id="v4")
        card_reverse(shop, authorization_id=approved["authorization_id"], network_transaction_id="v5")
        card_refund(shop, authorization_id=approved["authorization_id"], amount=500, network_transaction_id="v6")
    revealed = card_reveal(user, card=card, authenticated_at=time.time())
    assert revealed.number == number and revealed.cvv == cvv
    logging.getLogger("cards.test").debug("revealed %r / %s", revealed, revealed)

    assert any("SELECT" in r.getMessage() for r in everything_logged.records), "SQL logging was on"
    assert _log_leaks(everything_logged.records, number, cvv) == []
    assert _database_leaks(number, cvv) == []
    assert _raw_table_leaks(number) == []


def test_the_scan_would_find_a_leak():
    """The detector works: a number written in clear somewhere is found."""
    user = sender_user("leaker")
    card = card_for(user)
    user.display_name = f"card {card.plain_number}"
    user.save(update_fields=["display_name"])
    assert _database_leaks(card.plain_number, card.plain_cvv)
    assert _raw_table_leaks(card.plain_number)


def test_revealed_card_repr_hides_the_details():
    revealed = RevealedCard(number="4895370000000000", cvv="987", exp_month=11, exp_year=2029, visible_until=None)  # type: ignore[arg-type]
    for text in (repr(revealed), str(revealed), f"{revealed}"):
        assert "4895370000000000" not in text and "987" not in text and "0000" in text
    assert revealed.number_grouped == "4895 3700 0000 0000"


# --- Reveal ----------------------------------------------------------------------------------


def test_reveal_refused_without_recent_authentication():
    user = sender_user("forgetful")
    card = card_for(user)
    now = time.time()
    for authenticated_at in (None, now - REVEAL_SECONDS - 1, now - 3600, now + 600, "yesterday", True):
        with pytest.raises(ReauthenticationRequired) as excinfo:
            card_reveal(user, card=card, authenticated_at=authenticated_at, now=now)
        assert excinfo.value.status == 403 and excinfo.value.code == "reauthentication_required"
    assert not AuditEntry.objects.filter(action="card.reveal").exists()


def test_reveal_allowed_just_after_authentication_and_audited():
    user = sender_user("careful")
    card = card_for(user)
    now = time.time()
    revealed = card_reveal(user, card=card.pk, authenticated_at=now - REVEAL_SECONDS + 1, now=now)
    assert (revealed.number, revealed.cvv) == (card.plain_number, card.plain_cvv)
    assert (revealed.exp_month, revealed.exp_year) == (card.exp_month, card.exp_year)
    assert abs(revealed.visible_until.timestamp() - (now + REVEAL_SECONDS)) < 1
    entry = AuditEntry.objects.get(action="card.reveal")
    assert entry.actor == user and entry.target_type == "cards.card" and entry.target_id == str(card.pk)
    assert card.plain_number not in str(entry.data) and card.plain_number not in entry.target_repr
    card_reveal(user, card=card, authenticated_at=now, now=now + 30)
    assert AuditEntry.objects.filter(action="card.reveal").count() == 2


def test_reveal_only_the_holders_open_card():
    user, other = sender_user("holder"), sender_user("snoop")
    card = card_for(user)
    with pytest.raises(CardNotFound):
        card_reveal(other, card=card, authenticated_at=time.time())
    card_replace(user, card=card)
    card.refresh_from_db()
    assert card.status == CardStatus.CANCELLED
    with pytest.raises(CardNotUsable):
        card_reveal(user, card=card, authenticated_at=time.time())
    assert not AuditEntry.objects.filter(action="card.reveal").exists()


def test_vault_rotation_re_encrypts_card_numbers_and_cvvs(settings):
    from cryptography.fernet import Fernet

    from payments.vault import vault_decrypt, vault_rotate

    card = card_for(sender_user("rotator"))
    new_key = Fernet.generate_key().decode()
    settings.VAULT_KEYS = [new_key, *settings.VAULT_KEYS]
    assert vault_rotate() >= 2
    card.refresh_from_db()
    settings.VAULT_KEYS = [new_key]  # only the new key: the rotated tokens still open
    assert vault_decrypt(card.number_encrypted) == card.plain_number
    assert vault_decrypt(card.cvv_encrypted) == card.plain_cvv

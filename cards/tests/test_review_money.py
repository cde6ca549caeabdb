"""Money-correctness review of the card network: bad input never 500s, races keep the
Authorization counters equal to the ledger hold's resolutions, and nothing moves twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db.models import Sum
from django.utils import timezone

from cards.models import Authorization, AuthorizationStatus, Card, CardEvent
from cards.network import (
    AuthorizationExpired,
    authorizations_expire_due,
    card_capture,
    card_refund,
    card_reverse,
    merchant_create,
)
from core.errors import DomainError, ValidationFailed
from core.testing import run_threads, skip_unless_postgres
from ledger.models import Transfer, TransferState
from ledger.selectors import ledger_verify
from ledger.services import hold_remaining, holds_expire_due
from payments.tests.factories import available, balance, fund, sender_user

from .factories import authorize, card_for, merchant


def assert_counters_match_ledger(auth: Authorization) -> None:
    """captured / released on the Authorization are exactly what the ledger resolved of its hold."""
    auth.refresh_from_db()
    hold = Transfer.objects.get(pk=auth.hold_id)
    resolutions = Transfer.objects.filter(pending=hold)
    posted = resolutions.filter(state=TransferState.POSTED).aggregate(s=Sum("amount"))["s"] or 0
    released = (
        resolutions.filter(state__in=[TransferState.VOIDED, TransferState.EXPIRED]).aggregate(s=Sum("amount"))["s"] or 0
    )
    assert posted == auth.captured_amount
    assert released == auth.released_amount
    assert hold_remaining(hold) == auth.held_amount
    assert auth.captured_amount + auth.released_amount + auth.held_amount == auth.amount


# --- Bad input is a 400, never a 500, and records nothing --------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "override",
    [
        {"category_code": "1234\n"},  # `$` matched before a trailing newline: 5 chars into varchar(4)
        {"network_transaction_id": "ntx-1\n"},
        {"network_transaction_id": "n" * 64 + "\n"},  # 65 chars into varchar(64)
        {"merchant_name": "Bean\x00There"},  # PostgreSQL text refuses NUL
    ],
)
def test_malformed_authorise_input_is_refused_and_records_nothing(override):
    user = sender_user("badinput")
    fund(user, "200.00")
    Card.objects.filter(user=user).delete()
    card = card_for(user)
    shop = merchant()
    with pytest.raises(ValidationFailed):
        authorize(shop, card, 500, **override)
    assert not Authorization.objects.exists() and not CardEvent.objects.exists()
    assert available(user) == 20000


@pytest.mark.django_db
@pytest.mark.parametrize("call", ["capture", "reverse", "refund"])
def test_network_id_with_trailing_newline_is_refused_on_every_call(call):
    user = sender_user("nlcalls")
    fund(user, "200.00")
    Card.objects.filter(user=user).delete()
    card = card_for(user)
    shop = merchant()
    auth_id = authorize(shop, card, 500)["authorization_id"]
    kwargs = {"authorization_id": auth_id, "network_transaction_id": "x-1\n"}
    with pytest.raises(ValidationFailed):
        if call == "capture":
            card_capture(shop, amount=None, **kwargs)
        elif call == "reverse":
            card_reverse(shop, **kwargs)
        else:
            card_refund(shop, amount=1, **kwargs)
    assert CardEvent.objects.count() == 1  # only the authorisation


@pytest.mark.django_db
def test_merchant_category_code_with_trailing_newline_is_refused():
    with pytest.raises(ValidationFailed):
        merchant_create(name="Newline Shop", category_code="5411\n")


# --- Sequential resolution paths keep counters == ledger ----------------------------------------


@pytest.mark.django_db
def test_ledger_expiry_first_then_card_expiry_and_reverse_agree_with_the_ledger():
    user = sender_user("expiry")
    fund(user, "200.00")
    Card.objects.filter(user=user).delete()
    card = card_for(user)
    shop = merchant()
    first = authorize(shop, card, 3000)["authorization_id"]
    second = authorize(shop, card, 2000)["authorization_id"]
    card_capture(shop, authorization_id=first, amount=1000, network_transaction_id="cap-part")
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert holds_expire_due() == 2  # the ledger's own task releases both holds first
        with pytest.raises(AuthorizationExpired):
            card_capture(shop, authorization_id=first, amount=500, network_transaction_id="cap-late")
        card_reverse(shop, authorization_id=second, network_transaction_id="rev-late")
        assert authorizations_expire_due() == 1  # only the first is still open on the card's side
        assert authorizations_expire_due() == 0
    for pk in (first, second):
        assert_counters_match_ledger(Authorization.objects.get(pk=pk))
    assert Authorization.objects.get(pk=first).status == AuthorizationStatus.CAPTURED
    assert Authorization.objects.get(pk=second).status == AuthorizationStatus.EXPIRED
    assert balance(user) == available(user) == 20000 - 1000
    assert ledger_verify().ok


# --- Races on PostgreSQL ----------------------------------------------------------------------


def _setup_race(handle: str, amount: int):
    user = sender_user(handle)
    fund(user, "500.00")
    Card.objects.filter(user=user).delete()
    card = card_for(user)
    shop = merchant()
    auth_id = authorize(shop, card, amount)["authorization_id"]
    return user, shop, auth_id


@pytest.mark.django_db(transaction=True)
def test_concurrent_full_captures_capture_once():
    skip_unless_postgres()
    user, shop, auth_id = _setup_race("capcap", 4000)

    results, errors = run_threads(
        6, lambda i: card_capture(shop, authorization_id=auth_id, amount=4000, network_transaction_id=f"cc-{i}")
    )
    assert len(results) == 1 and len(errors) == 5 and all(isinstance(e, DomainError) for e in errors)
    assert_counters_match_ledger(Authorization.objects.get(pk=auth_id))
    assert balance(user) == available(user) == 50000 - 4000
    assert ledger_verify().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_partial_captures_never_exceed_the_hold():
    skip_unless_postgres()
    user, shop, auth_id = _setup_race("parts", 5000)

    results, errors = run_threads(
        8, lambda i: card_capture(shop, authorization_id=auth_id, amount=1500, network_transaction_id=f"pc-{i}")
    )
    assert len(results) == 3 and all(isinstance(e, DomainError) for e in errors)
    auth = Authorization.objects.get(pk=auth_id)
    assert_counters_match_ledger(auth)
    assert auth.captured_amount == 4500 and auth.held_amount == 500
    assert balance(user) == 50000 - 4500 and available(user) == 50000 - 5000
    assert ledger_verify().ok


@pytest.mark.django_db(transaction=True)
def test_capture_racing_reverse_resolves_the_hold_once():
    skip_unless_postgres()
    for round_ in range(4):
        user, shop, auth_id = _setup_race(f"caprev{round_}", 3000)

        def worker(i, shop=shop, auth_id=auth_id, round_=round_):
            if i % 2:
                return card_reverse(shop, authorization_id=auth_id, network_transaction_id=f"r{round_}-{i}")
            return card_capture(shop, authorization_id=auth_id, amount=None, network_transaction_id=f"c{round_}-{i}")

        _results, errors = run_threads(4, worker)
        assert all(isinstance(e, DomainError) for e in errors)
        auth = Authorization.objects.get(pk=auth_id)
        assert_counters_match_ledger(auth)
        assert auth.held_amount == 0
        assert balance(user) == available(user) == 50000 - auth.captured_amount
    assert ledger_verify().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_never_refund_more_than_captured():
    skip_unless_postgres()
    user, shop, auth_id = _setup_race("refunds", 1000)
    card_capture(shop, authorization_id=auth_id, amount=None, network_transaction_id="cap-all")

    results, errors = run_threads(
        6, lambda i: card_refund(shop, authorization_id=auth_id, amount=400, network_transaction_id=f"rf-{i}")
    )
    assert len(results) == 2 and len(errors) == 4 and all(isinstance(e, DomainError) for e in errors)
    auth = Authorization.objects.get(pk=auth_id)
    assert auth.refunded_amount == 800
    assert balance(user) == 50000 - 1000 + 800
    assert ledger_verify().ok


@pytest.mark.django_db(transaction=True)
def test_the_same_capture_id_racing_captures_once():
    skip_unless_postgres()
    user, shop, auth_id = _setup_race("samecap", 2000)

    results, errors = run_threads(
        6, lambda i: card_capture(shop, authorization_id=auth_id, amount=700, network_transaction_id="same-cap")
    )
    assert errors == [] and len({r["captured_amount"] for r in results}) == 1
    assert CardEvent.objects.filter(network_transaction_id="same-cap").count() == 1
    assert_counters_match_ledger(Authorization.objects.get(pk=auth_id))
    assert balance(user) == 50000 - 700


def _first_locks(queries) -> list[int]:
    """Account ids in the order a transaction first locked them (SELECT ... FOR NO KEY UPDATE)."""
    import re

    seen: list[int] = []
    for query in queries:
        sql = query["sql"]
        if '"ledger_account"' not in sql or "FOR NO KEY UPDATE" not in sql:
            continue
        found = re.search(r'"ledger_account"\."id" IN \(([0-9, ]+)\)', sql)
        for pk in sorted(int(x) for x in found.group(1).split(",")) if found else []:
            if pk not in seen:
                seen.append(pk)
    return seen


@pytest.mark.django_db(transaction=True)
def test_capture_with_a_roundup_locks_accounts_in_ascending_order():
    """DESIGN §3: ascending ids. A USD savings account opened before the USD wallet has the lower
    id; the capture locked wallet + settlement, then savings (lower) for the round-up: the
    opposite order of a savings deposit (savings, then wallet) — a deadlock pair."""
    skip_unless_postgres()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ledger.models import Account, AccountKind
    from savings.services import savings_account_open, savings_roundups_set

    user = sender_user("order")
    Account.objects.filter(owner=user, kind=AccountKind.WALLET, currency="USD").delete()  # none yet: opened below
    savings_account_open(user, currency="USD")
    savings_roundups_set(user, currency="USD", enabled=True)
    fund(user, "200.00")  # the USD wallet is opened now, after the savings account
    savings = Account.objects.get(owner=user, kind=AccountKind.SAVINGS, currency="USD")
    wallet = Account.objects.get(owner=user, kind=AccountKind.WALLET, currency="USD")
    assert savings.pk < wallet.pk
    Card.objects.filter(user=user).delete()
    card = card_for(user)
    shop = merchant()
    auth_id = authorize(shop, card, 1230)["authorization_id"]

    with CaptureQueriesContext(connection) as captured:
        card_capture(shop, authorization_id=auth_id, amount=None, network_transaction_id="ordered")
    order = _first_locks(captured.captured_queries)
    assert savings.pk in order and wallet.pk in order
    assert order == sorted(order)
    savings.refresh_from_db()
    assert savings.balance == 70 and balance(user) == 20000 - 1230 - 70


@pytest.mark.django_db
def test_one_failing_expiry_does_not_keep_the_other_holds(monkeypatch):
    """The beat task releases every due authorisation even when one of them fails (retried next run)."""
    import cards.network

    user = sender_user("expiryfail")
    fund(user, "200.00")
    Card.objects.filter(user=user).delete()
    card = card_for(user)
    shop = merchant()
    first = authorize(shop, card, 1000)["authorization_id"]
    second = authorize(shop, card, 2000)["authorization_id"]
    real = cards.network.hold_expire
    broken = Authorization.objects.get(pk=first).hold_id

    def flaky(*, hold, now=None):
        if hold == broken:
            raise RuntimeError("boom")
        return real(hold=hold, now=now)

    monkeypatch.setattr(cards.network, "hold_expire", flaky)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert authorizations_expire_due() == 1
        assert Authorization.objects.get(pk=second).status == AuthorizationStatus.EXPIRED
        assert Authorization.objects.get(pk=first).status == AuthorizationStatus.PENDING  # rolled back
        monkeypatch.setattr(cards.network, "hold_expire", real)
        assert authorizations_expire_due() == 1
    for pk in (first, second):
        assert_counters_match_ledger(Authorization.objects.get(pk=pk))
    assert available(user) == 20000

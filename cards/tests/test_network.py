"""The card network simulator (issue 7, point 3): authorise, capture, reverse, expire, refund, replays."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from cards.models import Authorization, AuthorizationStatus, CardEvent, CardStatus, DeclineReason, Merchant
from cards.network import (
    AuthorizationClosed,
    AuthorizationDeclined,
    AuthorizationExpired,
    AuthorizationNotFound,
    CaptureExceedsHold,
    RefundExceedsCapture,
    authorizations_expire_due,
    card_capture,
    card_refund,
    card_reverse,
    demo_merchant,
    merchant_authenticate,
    merchant_create,
)
from cards.numbers import card_number_generate
from cards.tasks import expire_due_authorizations
from compliance.services import freeze_account
from compliance.tests.factories import staff_user
from core.errors import IdempotencyKeyReused, ValidationFailed
from ledger.models import Account, AccountKind, Transfer, TransferState
from ledger.services import holds_expire_due, system_account
from notifications.models import Notification
from payments.tests.factories import available, balance, fund, sender_user
from savings.services import savings_account_open, savings_roundups_set

from .factories import authorize, card_for, merchant, network_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def holder():
    user = sender_user("holder")
    fund(user, "200.00")
    return user


@pytest.fixture
def card(holder):
    return card_for(holder)


@pytest.fixture
def shop():
    return merchant("Test Shop")


def settlement() -> int:
    account = system_account(AccountKind.CARD_SETTLEMENT, "USD")
    account.refresh_from_db()
    return account.credits_posted - account.debits_posted


def other_cvv(card) -> str:
    return "123" if card.plain_cvv != "123" else "124"


# --- Merchants -------------------------------------------------------------------------------


def test_merchant_key_shown_once_and_authenticates():
    made, key = merchant_create(name="  Key   Shop ", category_code="5411")
    assert made.name == "Key Shop" and key.startswith("mk_") and len(key) > 30
    assert made.api_key_prefix == key[:12] and key not in made.api_key_hash
    assert merchant_authenticate(key) == made
    for bad in (None, "", "mk_wrong", key + "x", 123, "x" * 500):
        assert merchant_authenticate(bad) is None
    Merchant.objects.filter(pk=made.pk).update(is_active=False)
    assert merchant_authenticate(key) is None
    with pytest.raises(ValidationFailed):
        merchant_create(name="Bad MCC", category_code="12a4")
    with pytest.raises(ValidationFailed):
        merchant_create(name="   ")


def test_demo_merchant_is_made_once():
    first = demo_merchant()
    assert first.is_demo and first.name == "Everything Coffee Co."
    assert demo_merchant() == first
    assert Merchant.objects.filter(is_demo=True).count() == 1


# --- Authorise -------------------------------------------------------------------------------


def test_approval_holds_the_money(holder, card, shop, django_capture_on_commit_callbacks, monkeypatch):
    pushed = []
    monkeypatch.setattr("notifications.services._send_now", lambda uid, event: pushed.append((uid, event)))
    with django_capture_on_commit_callbacks(execute=True):
        answer = authorize(shop, card, 1234, ntid="a-1", merchant_name="Bean There")
    assert answer["approved"] is True and answer["status"] == "pending" and answer["decline_reason"] == ""
    assert answer["amount"] == answer["held_amount"] == 1234 and answer["currency"] == "USD"
    assert answer["network_transaction_id"] == "a-1"
    auth = Authorization.objects.get(pk=answer["authorization_id"])
    assert auth.card == card and auth.merchant_name == "Bean There" and auth.category_code == "5999"
    assert auth.hold.state == TransferState.PENDING and auth.hold.amount == 1234
    assert auth.expires_at == auth.hold.timeout_at
    assert timedelta(days=6, hours=23) < auth.expires_at - timezone.now() <= timedelta(days=7)
    assert balance(holder) == 20000 and available(holder) == 20000 - 1234
    types = [e["type"] for uid, e in pushed if uid == holder.pk]
    assert "card.authorization" in types and "balance.changed" in types
    live = next(e for uid, e in pushed if e["type"] == "card.authorization")
    assert live["data"] == {
        "authorization_id": auth.pk,
        "status": "pending",
        "merchant_name": "Bean There",
        "amount": 1234,
        "currency": "USD",
    }


def test_number_with_spaces_and_two_digit_year_are_accepted(card, shop):
    spaced = " ".join(card.plain_number[i : i + 4] for i in range(0, 16, 4))
    answer = authorize(shop, card, 100, number=spaced, exp_year=card.exp_year % 100, exp_month=str(card.exp_month))
    assert answer["approved"] is True


def _decline(shop, card, amount=500, **overrides):
    before = (balance(card.user), available(card.user))
    answer = authorize(shop, card, amount, **overrides)
    assert answer["approved"] is False and answer["status"] == "declined"
    assert (balance(card.user), available(card.user)) == before  # nothing moved
    auth = Authorization.objects.get(pk=answer["authorization_id"])
    assert auth.status == AuthorizationStatus.DECLINED and auth.hold is None
    event = CardEvent.objects.get(authorization=auth)
    assert event.approved is False and event.decline_reason == answer["decline_reason"]
    return answer["decline_reason"]


def test_decline_card_not_found(card, shop):
    unknown = card_number_generate()
    assert _decline(shop, card, number=unknown) == DeclineReason.CARD_NOT_FOUND
    assert Authorization.objects.get(network_transaction_id__startswith="auth").card is None


def test_decline_frozen(holder, shop):
    assert _decline(shop, card_for(holder, status=CardStatus.FROZEN)) == DeclineReason.FROZEN


def test_decline_cancelled(holder, shop):
    assert _decline(shop, card_for(holder, status=CardStatus.CANCELLED)) == DeclineReason.CANCELLED


def test_decline_expired(card, shop):
    card.exp_month, card.exp_year = 1, 2024
    card.save(update_fields=["exp_month", "exp_year"])
    assert _decline(shop, card) == DeclineReason.EXPIRED


def test_decline_wrong_expiry(card, shop):
    assert _decline(shop, card, exp_year=card.exp_year + 1) == DeclineReason.WRONG_EXPIRY
    assert _decline(shop, card, exp_month=card.exp_month % 12 + 1) == DeclineReason.WRONG_EXPIRY


def test_decline_wrong_cvv_and_the_holder_is_told(holder, card, shop):
    assert _decline(shop, card, cvv=other_cvv(card), merchant_name="Sneaky") == DeclineReason.WRONG_CVV
    note = Notification.objects.get(recipient=holder, kind="card.declined")
    assert note.title == "Your card was declined at Sneaky: Wrong CVV"


def test_decline_over_purchase_limit(holder, shop):
    card = card_for(holder, per_purchase=1000)
    assert _decline(shop, card, amount=1001) == DeclineReason.OVER_PURCHASE_LIMIT
    assert authorize(shop, card, 1000)["approved"] is True


def test_decline_over_daily_limit_and_released_money_counts_again(holder, shop):
    card = card_for(holder, daily=3000)
    first = authorize(shop, card, 2000)
    assert first["approved"]
    assert _decline(shop, card, amount=1001) == DeclineReason.OVER_DAILY_LIMIT
    assert authorize(shop, card, 1000)["approved"] is True  # exactly the limit
    card_reverse(shop, authorization_id=first["authorization_id"], network_transaction_id=network_id("rev"))
    assert authorize(shop, card, 2000)["approved"] is True  # the reversed 20.00 no longer counts


def test_daily_limit_follows_the_holders_calendar_day(shop):
    user = sender_user("tokyo", time_zone="Asia/Tokyo")
    fund(user, "200.00")
    card = card_for(user, daily=1000)
    with time_machine.travel("2026-03-10 14:30:00+00:00", tick=False):  # 23:30 in Tokyo
        assert authorize(shop, card, 1000)["approved"]
        assert _decline(shop, card, amount=1) == DeclineReason.OVER_DAILY_LIMIT
    with time_machine.travel("2026-03-10 15:30:00+00:00", tick=False):  # 00:30 the next day in Tokyo
        assert authorize(shop, card, 1000)["approved"]


def test_decline_insufficient_funds(holder, card, shop):
    assert _decline(shop, card, amount=20001) == DeclineReason.INSUFFICIENT_FUNDS
    held = authorize(shop, card, 15000)
    assert held["approved"]
    assert _decline(shop, card, amount=5001) == DeclineReason.INSUFFICIENT_FUNDS  # the hold counts


def test_decline_currency_not_supported(card, shop):
    assert _decline(shop, card, currency="EUR") == DeclineReason.CURRENCY_NOT_SUPPORTED


def test_decline_account_frozen(holder, card, shop):
    freeze_account(staff_user("staffer"), user=holder, reason="Checking activity")
    assert _decline(shop, card) == DeclineReason.ACCOUNT_FROZEN


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount": 0},
        {"amount": -5},
        {"amount": 10**16},
        {"amount": "12.34"},
        {"amount": 12.5},
        {"amount": True},
        {"currency": "XXX"},
        {"currency": None},
        {"number": "abcd"},
        {"number": 4111111111111111},
        {"number": "1234"},
        {"exp_month": 13},
        {"exp_month": "x"},
        {"exp_year": None},
        {"cvv": "12"},
        {"cvv": 123},
        {"merchant_name": ""},
        {"merchant_name": "x" * 101},
        {"category_code": "12"},
        {"network_transaction_id": ""},
        {"network_transaction_id": "has space"},
        {"network_transaction_id": "x" * 65},
        {"network_transaction_id": 7},
    ],
)
def test_malformed_input_is_refused_and_records_nothing(holder, card, shop, overrides):
    fields = {"amount": 500, **overrides}
    with pytest.raises(ValidationFailed):
        authorize(shop, card, **fields)
    assert not Authorization.objects.exists() and not CardEvent.objects.exists()
    assert available(holder) == 20000


# --- Replays ---------------------------------------------------------------------------------


def test_authorise_replay_returns_the_same_answer_and_moves_nothing(holder, card, shop):
    first = authorize(shop, card, 700, ntid="same")
    again = authorize(shop, card, 700, ntid="same")
    assert again == first
    assert Authorization.objects.count() == 1 and CardEvent.objects.count() == 1
    assert available(holder) == 20000 - 700
    with pytest.raises(IdempotencyKeyReused):
        authorize(shop, card, 701, ntid="same")
    with pytest.raises(IdempotencyKeyReused):
        authorize(shop, card, 700, ntid="same", cvv=other_cvv(card))
    # Another merchant may use the same id for its own purchase.
    assert authorize(merchant("Other Shop"), card, 700, ntid="same")["approved"]
    assert available(holder) == 20000 - 1400


def test_a_declined_replay_stays_declined(holder, card, shop):
    first = authorize(shop, card, 500, ntid="d", cvv=other_cvv(card))
    assert authorize(shop, card, 500, ntid="d", cvv=other_cvv(card)) == first
    assert Authorization.objects.count() == 1


def test_capture_replay_and_reuse(holder, card, shop):
    auth = authorize(shop, card, 3000)["authorization_id"]
    first = card_capture(shop, authorization_id=auth, amount=1000, network_transaction_id="cap-1")
    assert card_capture(shop, authorization_id=auth, amount=1000, network_transaction_id="cap-1") == first
    assert balance(holder) == 20000 - 1000
    assert Authorization.objects.get(pk=auth).captured_amount == 1000
    with pytest.raises(IdempotencyKeyReused):
        card_capture(shop, authorization_id=auth, amount=1500, network_transaction_id="cap-1")
    with pytest.raises(IdempotencyKeyReused):  # an id is one call of one kind
        card_reverse(shop, authorization_id=auth, network_transaction_id="cap-1")


# --- Capture ---------------------------------------------------------------------------------


def test_full_capture_posts(holder, card, shop):
    auth_id = authorize(shop, card, 2500)["authorization_id"]
    answer = card_capture(shop, authorization_id=auth_id, amount=None, network_transaction_id="c")
    assert answer["status"] == "captured" and answer["captured_amount"] == 2500 and answer["held_amount"] == 0
    assert balance(holder) == available(holder) == 17500
    assert settlement() == 2500
    with pytest.raises(AuthorizationClosed):
        card_capture(shop, authorization_id=auth_id, amount=None, network_transaction_id="c2")


def test_partial_and_multiple_captures(holder, card, shop):
    auth_id = authorize(shop, card, 5000)["authorization_id"]
    one = card_capture(shop, authorization_id=auth_id, amount=1000, network_transaction_id="p1")
    assert one["status"] == "partially_captured" and one["held_amount"] == 4000
    assert balance(holder) == 19000 and available(holder) == 15000
    two = card_capture(shop, authorization_id=auth_id, amount=1500, network_transaction_id="p2")
    assert two["captured_amount"] == 2500 and two["held_amount"] == 2500
    with pytest.raises(CaptureExceedsHold):
        card_capture(shop, authorization_id=auth_id, amount=2501, network_transaction_id="p3")
    last = card_capture(shop, authorization_id=auth_id, amount=500, network_transaction_id="p4", final=True)
    assert last["status"] == "captured" and last["captured_amount"] == 3000 and last["released_amount"] == 2000
    assert balance(holder) == available(holder) == 17000
    assert settlement() == 3000


def test_capturing_everything_left_in_parts_closes_it(holder, card, shop):
    auth_id = authorize(shop, card, 1000)["authorization_id"]
    card_capture(shop, authorization_id=auth_id, amount=400, network_transaction_id="q1")
    done = card_capture(shop, authorization_id=auth_id, amount=600, network_transaction_id="q2")
    assert done["status"] == "captured" and done["held_amount"] == 0
    assert balance(holder) == available(holder) == 19000


def test_someone_elses_authorisation_is_not_found(card, shop):
    auth_id = authorize(shop, card, 1000)["authorization_id"]
    intruder = merchant("Intruder")
    for call in (
        lambda: card_capture(intruder, authorization_id=auth_id, amount=None, network_transaction_id="x1"),
        lambda: card_reverse(intruder, authorization_id=auth_id, network_transaction_id="x2"),
        lambda: card_refund(intruder, authorization_id=auth_id, amount=1, network_transaction_id="x3"),
        lambda: card_capture(shop, authorization_id=999999, amount=None, network_transaction_id="x4"),
        lambda: card_capture(shop, authorization_id="1", amount=None, network_transaction_id="x5"),
    ):
        with pytest.raises(AuthorizationNotFound):
            call()
    assert Authorization.objects.get(pk=auth_id).status == AuthorizationStatus.PENDING


def test_declined_authorisation_cannot_be_captured(card, shop):
    auth_id = authorize(shop, card, 500, cvv=other_cvv(card))["authorization_id"]
    with pytest.raises(AuthorizationDeclined):
        card_capture(shop, authorization_id=auth_id, amount=None, network_transaction_id="dc")
    with pytest.raises(AuthorizationDeclined):
        card_refund(shop, authorization_id=auth_id, amount=1, network_transaction_id="dr")


def test_roundup_on_capture(holder, card, shop):
    savings_account_open(holder, currency="USD")
    savings_roundups_set(holder, currency="USD", enabled=True)
    auth_id = authorize(shop, card, 1230)["authorization_id"]
    card_capture(shop, authorization_id=auth_id, amount=None, network_transaction_id="ru")
    savings = Account.objects.get(owner=holder, kind=AccountKind.SAVINGS, currency="USD")
    assert savings.balance == 70
    assert balance(holder) == 20000 - 1230 - 70
    leg = Transfer.objects.get(kind="roundup", credit_account=savings)
    event = CardEvent.objects.get(network_transaction_id="ru")
    assert leg.metadata["card_capture"] == event.pk


def test_roundup_is_skipped_not_the_capture_when_money_is_short(shop):
    user = sender_user("tight")
    fund(user, "12.30")
    card = card_for(user)
    savings_account_open(user, currency="USD")
    savings_roundups_set(user, currency="USD", enabled=True)
    auth_id = authorize(shop, card, 1230)["authorization_id"]
    answer = card_capture(shop, authorization_id=auth_id, amount=None, network_transaction_id="tight")
    assert answer["status"] == "captured"
    assert balance(user) == 0
    assert not Transfer.objects.filter(kind="roundup").exists()


# --- Reverse ---------------------------------------------------------------------------------


def test_reverse_releases_the_hold(holder, card, shop):
    auth_id = authorize(shop, card, 4000)["authorization_id"]
    answer = card_reverse(shop, authorization_id=auth_id, network_transaction_id="r")
    assert answer["status"] == "reversed" and answer["released_amount"] == 4000 and answer["held_amount"] == 0
    assert balance(holder) == available(holder) == 20000
    assert card_reverse(shop, authorization_id=auth_id, network_transaction_id="r") == answer  # replay
    with pytest.raises(AuthorizationClosed):
        card_reverse(shop, authorization_id=auth_id, network_transaction_id="r2")
    with pytest.raises(AuthorizationClosed):
        card_capture(shop, authorization_id=auth_id, amount=None, network_transaction_id="r3")


def test_reversal_after_a_partial_capture_keeps_the_captured_part(holder, card, shop):
    auth_id = authorize(shop, card, 4000)["authorization_id"]
    card_capture(shop, authorization_id=auth_id, amount=1500, network_transaction_id="pc")
    answer = card_reverse(shop, authorization_id=auth_id, network_transaction_id="pr")
    assert answer["status"] == "captured"
    assert (answer["captured_amount"], answer["released_amount"], answer["held_amount"]) == (1500, 2500, 0)
    assert balance(holder) == available(holder) == 18500
    assert settlement() == 1500


# --- Expiry ----------------------------------------------------------------------------------


def test_expiry_task_returns_the_funds(holder, card, shop):
    auth_id = authorize(shop, card, 6000)["authorization_id"]
    assert available(holder) == 14000
    assert authorizations_expire_due() == 0  # not yet
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        with pytest.raises(AuthorizationExpired):  # the deadline passed, even before the task ran
            card_capture(shop, authorization_id=auth_id, amount=None, network_transaction_id="late")
        assert expire_due_authorizations.delay().get() == 1
        assert expire_due_authorizations.delay().get() == 0  # once
        with pytest.raises(AuthorizationExpired):
            card_capture(shop, authorization_id=auth_id, amount=None, network_transaction_id="late2")
    auth = Authorization.objects.get(pk=auth_id)
    assert auth.status == AuthorizationStatus.EXPIRED and auth.released_amount == 6000
    assert balance(holder) == available(holder) == 20000
    assert Transfer.objects.filter(pending=auth.hold, state=TransferState.EXPIRED, amount=6000).exists()
    assert CardEvent.objects.filter(authorization=auth, kind="expire").count() == 1


def test_expiry_after_a_partial_capture(holder, card, shop):
    auth_id = authorize(shop, card, 6000)["authorization_id"]
    card_capture(shop, authorization_id=auth_id, amount=2000, network_transaction_id="half")
    assert authorizations_expire_due(now=timezone.now() + timedelta(days=8)) == 1
    auth = Authorization.objects.get(pk=auth_id)
    assert auth.status == AuthorizationStatus.CAPTURED and auth.released_amount == 4000
    assert balance(holder) == available(holder) == 18000


def test_expiry_when_the_ledger_released_the_hold_first(holder, card, shop):
    auth_id = authorize(shop, card, 6000)["authorization_id"]
    later = timezone.now() + timedelta(days=8)
    assert holds_expire_due(now=later) == 1
    assert available(holder) == 20000
    assert authorizations_expire_due(now=later) == 1  # recorded, nothing moved twice
    auth = Authorization.objects.get(pk=auth_id)
    assert auth.status == AuthorizationStatus.EXPIRED and auth.released_amount == 6000
    assert balance(holder) == available(holder) == 20000


# --- Refund ----------------------------------------------------------------------------------


def test_refund_credits_the_wallet_and_over_refund_is_refused(holder, card, shop):
    auth_id = authorize(shop, card, 3000)["authorization_id"]
    with pytest.raises(RefundExceedsCapture):  # nothing captured yet
        card_refund(shop, authorization_id=auth_id, amount=1, network_transaction_id="rf0")
    card_capture(shop, authorization_id=auth_id, amount=None, network_transaction_id="cap")
    answer = card_refund(shop, authorization_id=auth_id, amount=1000, network_transaction_id="rf1")
    assert answer["refunded_amount"] == 1000
    assert balance(holder) == 20000 - 3000 + 1000
    assert settlement() == 2000
    assert card_refund(shop, authorization_id=auth_id, amount=1000, network_transaction_id="rf1") == answer
    assert balance(holder) == 18000  # the replay moved nothing
    with pytest.raises(RefundExceedsCapture):
        card_refund(shop, authorization_id=auth_id, amount=2001, network_transaction_id="rf2")
    card_refund(shop, authorization_id=auth_id, amount=2000, network_transaction_id="rf3")
    assert balance(holder) == 20000
    note = Notification.objects.filter(recipient=holder, kind="card.refund").first()
    assert note.title == "Test Shop refunded $20.00 to your card"
    with pytest.raises(ValidationFailed):
        card_refund(shop, authorization_id=auth_id, amount=0, network_transaction_id="rf4")


def test_refund_reaches_the_wallet_after_the_card_is_replaced(holder, card, shop):
    from cards.services import card_replace

    auth_id = authorize(shop, card, 3000)["authorization_id"]
    card_capture(shop, authorization_id=auth_id, amount=None, network_transaction_id="c")
    card_replace(holder, card=card)
    card_refund(shop, authorization_id=auth_id, amount=3000, network_transaction_id="rf")
    assert balance(holder) == 20000

"""The rules of paying someone, at the service level (payments.services.send and .fx).

The root conftest checks the ledger's invariants (every currency balances, counters
match transfers, nothing negative) after each of these tests.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import IdempotencyKeyReused, NotFound, ValidationFailed
from core.money import InvalidAmount, Money
from ledger.models import AccountKind, Transfer, TransferState
from ledger.services import InsufficientFunds, system_account
from notifications.models import Notification
from payments.models import Payment, PaymentEvent, PaymentKind, PaymentStatus, SafetyDelay
from payments.services.fx import AmountTooSmallToConvert, FxUnavailable, fx_quote
from payments.services.send import (
    PaymentNotCancellable,
    PaymentNotReturnable,
    RecipientInvalid,
    payment_cancel,
    payment_for_user,
    payment_quote,
    payment_release,
    payment_return,
    payment_review_decide,
    payment_send,
    payments_release_due,
    wallet_settings_update,
)

from .factories import available, balance, fund, sender_user

pytestmark = pytest.mark.django_db


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def pool(currency: str):
    account = system_account(AccountKind.FX_POOL, currency)
    account.refresh_from_db()
    return account


class Pushed(list):
    """Live events pushed to sockets, as (user_id, type) pairs; ``with pushed.commit():`` runs the on-commit pushes."""

    def __init__(self, capture):
        super().__init__()
        self.commit = lambda: capture(execute=True)


@pytest.fixture
def pushed(monkeypatch, django_capture_on_commit_callbacks):
    events = Pushed(django_capture_on_commit_callbacks)
    monkeypatch.setattr(
        "notifications.services._send_now", lambda user_id, event: events.append((user_id, event["type"]))
    )
    return events


@pytest.fixture
def eve(db):
    return sender_user("eve", currency="EUR", display_name="Eve Euro")


# --- Instant, same currency ----------------------------------------------------------------


def test_instant_same_currency_payment(alice, bob):
    payment = payment_send(alice, to="@bob", amount=usd("12.34"), note="  lunch 🍜  ")
    assert payment.status == PaymentStatus.COMPLETED and payment.completed_at
    assert payment.note == "lunch 🍜"  # trimmed
    assert (payment.amount, payment.currency, payment.received_amount, payment.received_currency) == (
        1234,
        "USD",
        1234,
        "USD",
    )
    assert payment.fx_rate is None and not payment.is_fx
    assert payment.debit_transfer_id == payment.credit_transfer_id  # one ledger transfer
    transfer = Transfer.objects.get(pk=payment.debit_transfer_id)
    assert transfer.state == TransferState.POSTED and transfer.amount == 1234
    assert balance(alice) == 100000 - 1234 and balance(bob) == 100000 + 1234
    assert list(payment.events.values_list("status", flat=True)) == ["completed"]
    assert payment.first_to_recipient is True


def test_the_recipient_is_notified_live(alice, bob, pushed):
    with pushed.commit():
        payment = payment_send(alice, to="@bob", amount=usd("5.00"), note="hi")
    assert (bob.pk, "payment.received") in pushed
    assert (bob.pk, "balance.changed") in pushed and (alice.pk, "balance.changed") in pushed
    assert (alice.pk, "payment.received") not in pushed
    note = Notification.objects.get(recipient=bob, kind="payment.received")
    assert note.data["payment_id"] == payment.pk and note.data["amount"] == "$5.00" and note.data["note"] == "hi"


def test_the_second_payment_to_someone_is_not_first(alice, bob):
    first = payment_send(alice, to="@bob", amount=usd("1.00"))
    second = payment_send(alice, to="@bob", amount=usd("1.00"))
    assert first.first_to_recipient and not second.first_to_recipient
    assert payment_quote(alice, to="@bob", amount=usd("1.00")).first_to_recipient is False
    assert payment_quote(bob, to="@alice", amount=usd("1.00")).first_to_recipient is True


def test_recipient_may_be_a_user_or_a_handle_in_any_case(alice, bob):
    assert payment_send(alice, to=bob, amount=usd("1.00")).recipient == bob
    assert payment_send(alice, to=" @BOB ", amount=usd("1.00")).recipient == bob
    assert payment_send(alice, to="bob", amount=usd("1.00")).recipient == bob


# --- Who can be paid ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "message"),
    [
        ("@nobody", "There is no one called @nobody."),
        ("", "Choose someone to pay."),
        (" @ ", "Choose someone to pay."),
        (None, "That person cannot receive money."),
        (42, "That person cannot receive money."),
        ("@alice", "You cannot pay yourself."),
    ],
)
def test_recipient_must_be_someone_else_who_exists(alice, bob, to, message):
    with pytest.raises(RecipientInvalid) as caught:
        payment_send(alice, to=to, amount=usd("1.00"))
    assert caught.value.message == message
    assert caught.value.status == 400
    assert not Payment.objects.exists() and balance(alice) == 100000


def test_paying_yourself_as_a_user_object_is_refused(alice):
    with pytest.raises(RecipientInvalid, match=re.escape("You cannot pay yourself.")):
        payment_send(alice, to=alice, amount=usd("1.00"))


def test_an_inactive_recipient_is_refused(alice, bob):
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    with pytest.raises(RecipientInvalid, match=re.escape("That person cannot receive money.")):
        payment_send(alice, to="@bob", amount=usd("1.00"))
    with pytest.raises(RecipientInvalid):
        payment_send(alice, to=bob, amount=usd("1.00"))


# --- Amounts and notes --------------------------------------------------------------------------


def test_amount_must_be_money(alice, bob):
    for amount in ("5.00", 500, None):
        with pytest.raises(ValidationFailed, match=re.escape("Enter an amount.")):
            payment_send(alice, to="@bob", amount=amount)
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("text", "currency"),
    [("1e5", "USD"), ("-1", "USD"), ("0", "USD"), ("1.234", "USD"), ("abc", "USD"), ("1.5", "JPY"), ("1.0001", "KWD")],
)
def test_bad_amounts_never_become_money(text, currency):
    with pytest.raises(InvalidAmount):
        Money.parse(text, currency)


def test_note_limits(alice, bob):
    assert payment_send(alice, to="@bob", amount=usd("1.00"), note="x" * 280).note == "x" * 280
    assert payment_send(alice, to="@bob", amount=usd("1.00"), note="🎉" * 280).note == "🎉" * 280
    assert payment_send(alice, to="@bob", amount=usd("1.00"), note=None).note == ""
    with pytest.raises(ValidationFailed, match=re.escape("The note is 281 characters; the limit is 280.")) as caught:
        payment_send(alice, to="@bob", amount=usd("1.00"), note="x" * 281)
    assert caught.value.fields == {"note": ["At most 280 characters."]}
    with pytest.raises(ValidationFailed, match=re.escape("The note must be text.")):
        payment_send(alice, to="@bob", amount=usd("1.00"), note=["not", "text"])
    assert Payment.objects.count() == 3


# --- Funds ----------------------------------------------------------------------------------


def test_insufficient_funds_says_what_is_available(carol, bob):
    fund(carol, "3.20")
    with pytest.raises(InsufficientFunds) as caught:
        payment_send(carol, to="@bob", amount=usd("5.00"))
    assert caught.value.message == "You have $3.20 available in USD; $5.00 is more than that. Add money first."
    assert caught.value.status == 422 and caught.value.fields == {"amount": ["Not enough money."]}
    assert not Payment.objects.exists() and balance(carol) == 320 and balance(bob) == 100000


def test_insufficient_funds_counts_holds(alice, bob, carol):
    fund(carol, "10.00")
    wallet_settings_update(carol, safety_delay_seconds=SafetyDelay.ONE_DAY)
    payment_send(carol, to="@bob", amount=usd("8.00"))  # on hold: $2.00 left to spend
    with pytest.raises(InsufficientFunds, match=re.escape("You have $2.00 available")):
        payment_send(carol, to="@alice", amount=usd("3.00"))


def test_exactly_everything_can_be_sent(carol, bob):
    fund(carol, "7.77")
    payment_send(carol, to="@bob", amount=usd("7.77"))
    assert balance(carol) == 0


# --- Idempotency ---------------------------------------------------------------------------------


def test_idempotent_replay_returns_the_first_payment(alice, bob, pushed):
    with pushed.commit():
        first = payment_send(alice, to="@bob", amount=usd("5.00"), note="once", idempotency_key="k-1")
    events_after_first = list(pushed)
    assert events_after_first
    with pushed.commit():
        again = payment_send(alice, to="@bob", amount=usd("5.00"), note="once", idempotency_key="k-1")
    assert again.pk == first.pk
    assert Payment.objects.count() == 1 and balance(alice) == 99500 and balance(bob) == 100500
    assert pushed == events_after_first  # nothing announced twice
    assert Notification.objects.filter(recipient=bob).count() == 1


@pytest.mark.parametrize(
    "changes",
    [{"amount": usd("6.00")}, {"note": "other"}, {"to": "@carol"}, {"kind": PaymentKind.TIP}],
)
def test_key_reused_for_another_request_is_refused(alice, bob, carol, changes):
    request = {"to": "@bob", "amount": usd("5.00"), "note": "once", "kind": PaymentKind.PAYMENT}
    payment_send(alice, idempotency_key="k-2", **request)
    with pytest.raises(IdempotencyKeyReused) as caught:
        payment_send(alice, idempotency_key="k-2", **{**request, **changes})
    assert caught.value.status == 422 and caught.value.code == "idempotency_key_reused"
    assert Payment.objects.count() == 1 and balance(alice) == 99500


def test_keys_belong_to_their_sender(alice, bob):
    a = payment_send(alice, to="@bob", amount=usd("1.00"), idempotency_key="shared")
    b = payment_send(bob, to="@alice", amount=usd("1.00"), idempotency_key="shared")
    assert a.pk != b.pk and Payment.objects.count() == 2


def test_a_refused_payment_leaves_its_key_free(carol, bob):
    with pytest.raises(InsufficientFunds):
        payment_send(carol, to="@bob", amount=usd("5.00"), idempotency_key="k-3")
    fund(carol, "5.00")
    assert payment_send(carol, to="@bob", amount=usd("5.00"), idempotency_key="k-3").status == PaymentStatus.COMPLETED


# --- FX -------------------------------------------------------------------------------------------


def test_fx_payment_goes_through_the_pools_and_each_currency_balances(alice, eve, fx_rates):
    payment = payment_send(alice, to="@eve", amount=usd("10.00"))
    assert payment.is_fx and payment.received_currency == "EUR"
    assert payment.received_amount == 895  # 10 × 0.9 × (1 − 0.005) = 8.955, rounded down
    assert str(payment.fx_rate.normalize()) == "0.8955"
    assert balance(alice) == 99000 and balance(eve, "EUR") == 895
    usd_pool, eur_pool = pool("USD"), pool("EUR")
    assert usd_pool.credits_posted - usd_pool.debits_posted == 1000  # the dollars stay with us
    assert eur_pool.debits_posted - eur_pool.credits_posted == 895  # the euros we paid out
    out_leg = Transfer.objects.get(pk=payment.debit_transfer_id)
    in_leg = Transfer.objects.get(pk=payment.credit_transfer_id)
    assert (out_leg.currency, out_leg.amount, out_leg.batch_id) == ("USD", 1000, in_leg.batch_id)
    assert (in_leg.currency, in_leg.amount) == ("EUR", 895)


def test_fx_into_a_zero_decimal_currency_rounds_down(alice, fx_rates):
    yuki = sender_user("yuki", currency="JPY")
    payment = payment_send(alice, to=yuki, amount=usd("0.99"))
    assert payment.received_amount == 147  # 0.99 × 150 × 0.995 = 147.76…
    assert balance(yuki, "JPY") == 147


def test_fx_out_of_a_zero_decimal_currency(eve, fx_rates):
    yuki = sender_user("yuki", currency="JPY")
    fund(yuki, "1000", "JPY")
    payment = payment_send(yuki, to=eve, amount=Money.parse("1000", "JPY"))
    # JPY→EUR crosses through USD: 1000 / 150 × 0.9 × 0.995 = 5.97
    assert payment.received_amount == 597 and balance(eve, "EUR") == 597 and balance(yuki, "JPY") == 0


def test_a_conversion_too_small_to_arrive_is_refused(fx_rates, eve):
    yuki = sender_user("yuki", currency="JPY")
    fund(yuki, "5", "JPY")
    with pytest.raises(AmountTooSmallToConvert):
        payment_send(yuki, to=eve, amount=Money.parse("1", "JPY"))
    assert not Payment.objects.exists() and balance(yuki, "JPY") == 5


def test_no_rate_no_payment(alice, eve):
    with pytest.raises(FxUnavailable, match=re.escape("We have no exchange rate from USD to EUR yet.")):
        payment_send(alice, to=eve, amount=usd("1.00"))
    assert balance(alice) == 100000 and not Payment.objects.exists()


def test_quote_matches_what_is_sent(alice, eve, fx_rates):
    quote = payment_quote(alice, to="@eve", amount=usd("12.34"))
    payment = payment_send(alice, to="@eve", amount=usd("12.34"))
    assert quote.receive == Money(payment.received_amount, payment.received_currency)
    assert quote.fee == Money(0, "USD") and quote.recipient == eve
    assert quote.fx.rate == payment.fx_rate.normalize()


def test_same_currency_quote_has_no_spread():
    quote = fx_quote(send=usd("3.00"), to_currency="USD")
    assert not quote.is_conversion and quote.receive == usd("3.00") and quote.spread == 0


# --- Return ------------------------------------------------------------------------------------


def test_return_reverses_the_payment(alice, bob, pushed):
    payment = payment_send(alice, to="@bob", amount=usd("5.00"))
    with pushed.commit():
        returned = payment_return(bob, payment=payment)
    assert returned.status == PaymentStatus.RETURNED and returned.returned_at
    assert balance(alice) == 100000 and balance(bob) == 100000
    reversal = Transfer.objects.get(reverses_id=payment.credit_transfer_id)
    assert reversal.amount == 500 and reversal.kind == "return"
    assert list(returned.events.values_list("status", flat=True)) == ["completed", "returned"]
    assert (alice.pk, "payment.returned") in pushed and (bob.pk, "payment.updated") in pushed
    assert Notification.objects.filter(recipient=alice, kind="payment.returned").exists()


def test_a_returned_payment_cannot_be_returned_again(alice, bob):
    payment = payment_send(alice, to="@bob", amount=usd("5.00"))
    payment_return(bob, payment=payment)
    with pytest.raises(PaymentNotReturnable) as caught:
        payment_return(bob, payment=payment.pk)
    assert caught.value.status == 409
    assert balance(alice) == 100000 and balance(bob) == 100000
    assert Transfer.objects.filter(reverses__isnull=False).count() == 1


def test_return_reverses_both_fx_legs(alice, eve, fx_rates):
    payment = payment_send(alice, to="@eve", amount=usd("10.00"))
    payment_return(eve, payment=payment)
    assert balance(alice) == 100000  # exactly what left comes back
    assert balance(eve, "EUR") == 0
    for currency in ("USD", "EUR"):
        p = pool(currency)
        assert p.credits_posted == p.debits_posted  # the pools are back where they started
    assert Transfer.objects.filter(reverses_id__in=[payment.debit_transfer_id, payment.credit_transfer_id]).count() == 2


def test_only_the_recipient_may_return(alice, bob, carol):
    payment = payment_send(alice, to="@bob", amount=usd("5.00"))
    for who in (alice, carol):
        with pytest.raises(NotFound):
            payment_return(who, payment=payment)
    assert Payment.objects.get().status == PaymentStatus.COMPLETED and balance(bob) == 100500


def test_an_arriving_payment_cannot_be_returned(alice, bob):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.ONE_HOUR)
    payment = payment_send(alice, to="@bob", amount=usd("5.00"))
    with pytest.raises(PaymentNotReturnable):
        payment_return(bob, payment=payment)


def test_return_needs_the_money_back(alice, bob, carol):
    payment = payment_send(alice, to="@bob", amount=usd("5.00"))
    from compliance.tests.factories import make_verified

    make_verified(bob, tier=2)
    payment_send(bob, to="@carol", amount=usd("1005.00"))
    with pytest.raises(
        InsufficientFunds, match=re.escape("You need $5.00 available in your wallet to return this payment.")
    ):
        payment_return(bob, payment=payment)
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.COMPLETED


def test_a_released_delayed_payment_can_be_returned(alice, bob):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.TEN_MINUTES)
    payment = payment_send(alice, to="@bob", amount=usd("5.00"))
    payments_release_due(now=timezone.now() + timedelta(minutes=11))
    payment_return(bob, payment=payment.pk)
    assert balance(alice) == 100000 and balance(bob) == 100000


def test_a_released_delayed_fx_payment_can_be_returned(alice, eve, fx_rates):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.TEN_MINUTES)
    payment = payment_send(alice, to="@eve", amount=usd("10.00"))
    assert payment.status == PaymentStatus.ARRIVING and balance(eve, "EUR") == 0
    assert payments_release_due(now=timezone.now() + timedelta(minutes=11)) == 1
    assert balance(eve, "EUR") == 895 and balance(alice) == 99000
    payment_return(eve, payment=payment.pk)
    assert balance(eve, "EUR") == 0 and balance(alice) == 100000


# --- Safety delay ---------------------------------------------------------------------------------


def test_safety_delay_is_off_by_default(alice, bob):
    assert payment_send(alice, to="@bob", amount=usd("1.00")).status == PaymentStatus.COMPLETED


@pytest.mark.parametrize("delay", [SafetyDelay.TEN_MINUTES, SafetyDelay.ONE_HOUR, SafetyDelay.ONE_DAY])
def test_delayed_payment_is_a_hold_until_released(alice, bob, delay, pushed):
    wallet_settings_update(alice, safety_delay_seconds=delay)
    with pushed.commit():
        payment = payment_send(alice, to="@bob", amount=usd("5.00"))
    assert payment.status == PaymentStatus.ARRIVING
    assert abs((payment.release_at - payment.created_at).total_seconds() - delay) < 5
    assert Transfer.objects.get(pk=payment.hold_id).state == TransferState.PENDING
    assert balance(alice) == 100000 and available(alice) == 99500  # reserved, not moved
    assert balance(bob) == 100000
    assert (bob.pk, "payment.arriving") in pushed and (bob.pk, "payment.received") not in pushed

    just_before = payment.release_at - timedelta(seconds=1)
    assert payment_release(payment, now=just_before) is None
    assert payments_release_due(now=just_before) == 0
    with pushed.commit():
        assert payments_release_due(now=payment.release_at + timedelta(seconds=1)) == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED and payment.completed_at
    assert balance(alice) == 99500 and balance(bob) == 100500
    assert (bob.pk, "payment.received") in pushed
    assert list(payment.events.values_list("status", flat=True)) == ["arriving", "completed"]
    # Releasing again does nothing.
    assert payments_release_due(now=payment.release_at + timedelta(days=3)) == 0
    assert payment_release(payment.pk, now=payment.release_at + timedelta(days=3)) is None


def test_safety_delay_only_for_people_never_paid(alice, bob):
    payment_send(alice, to="@bob", amount=usd("1.00"))
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.ONE_HOUR)
    assert payment_send(alice, to="@bob", amount=usd("1.00")).status == PaymentStatus.COMPLETED
    assert payment_quote(alice, to="@bob", amount=usd("1.00")).arrives_after is None


def test_quote_announces_the_delay(alice, bob):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.ONE_HOUR)
    assert payment_quote(alice, to="@bob", amount=usd("1.00")).arrives_after == timedelta(hours=1)


def test_cancel_during_the_delay_voids_the_hold(alice, bob, pushed):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.ONE_HOUR)
    payment = payment_send(alice, to="@bob", amount=usd("5.00"))
    with pushed.commit():
        cancelled = payment_cancel(alice, payment=payment)
    assert cancelled.status == PaymentStatus.CANCELLED
    assert available(alice) == 100000 and balance(bob) == 100000
    assert Transfer.objects.filter(pending_id=payment.hold_id, state=TransferState.VOIDED).exists()
    assert (bob.pk, "payment.updated") in pushed and (alice.pk, "payment.updated") in pushed
    assert payments_release_due(now=timezone.now() + timedelta(days=2)) == 0
    assert balance(bob) == 100000
    with pytest.raises(PaymentNotCancellable):
        payment_cancel(alice, payment=payment)


def test_cancel_gives_back_the_limit(alice, bob):
    from compliance.selectors import used_in_window

    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.ONE_HOUR)
    payment = payment_send(alice, to="@bob", amount=usd("400.00"))
    assert used_in_window(alice.pk) == 40000
    payment_cancel(alice, payment=payment)
    assert used_in_window(alice.pk) == 0


def test_only_the_sender_may_cancel_and_only_while_arriving(alice, bob, carol):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.ONE_HOUR)
    arriving = payment_send(alice, to="@bob", amount=usd("5.00"))
    for who in (bob, carol):
        with pytest.raises(NotFound):
            payment_cancel(who, payment=arriving)
    instant = payment_send(bob, to="@alice", amount=usd("1.00"))
    with pytest.raises(PaymentNotCancellable):
        payment_cancel(bob, payment=instant)
    with pytest.raises(NotFound):
        payment_cancel(alice, payment=999999)
    with pytest.raises(NotFound):
        payment_cancel(alice, payment=True)


def test_cancelled_fx_payment_moves_nothing(alice, eve, fx_rates):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.TEN_MINUTES)
    payment = payment_send(alice, to="@eve", amount=usd("10.00"))
    payment_cancel(alice, payment=payment)
    assert available(alice) == 100000 and balance(eve, "EUR") == 0
    for currency in ("USD", "EUR"):
        p = pool(currency)
        assert p.credits_posted == p.debits_posted


def test_wallet_settings_refuse_other_delays(alice):
    for value in (5, -1, 7200, "600", None):
        with pytest.raises(ValidationFailed, match=re.escape("Choose off, 10 minutes, 1 hour or 24 hours.")):
            wallet_settings_update(alice, safety_delay_seconds=value)


# --- Review holds (the compliance side decides; payments moves the money) -----------------------


@pytest.fixture
def held(monkeypatch):
    from compliance import services as compliance

    monkeypatch.setattr(compliance, "risk_assess", lambda *a, **k: "large_amount")


def test_held_payment_waits_for_review_and_is_released_on_approval(alice, bob, held):
    payment = payment_send(alice, to="@bob", amount=usd("5.00"))
    assert payment.status == PaymentStatus.IN_REVIEW and payment.review_reason == "large_amount"
    assert payment.review_deadline - payment.created_at >= timedelta(hours=47)
    assert available(alice) == 99500 and balance(bob) == 100000
    assert payment_release(payment, now=timezone.now() + timedelta(days=5)) is None  # not a delay
    payment_review_decide(subject=f"payment:{payment.pk}", approved=True)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED and balance(bob) == 100500 and balance(alice) == 99500


def test_held_fx_payment_rejected_gives_the_money_back(alice, eve, fx_rates, held):
    payment = payment_send(alice, to="@eve", amount=usd("10.00"))
    payment_review_decide(subject=f"payment:{payment.pk}", approved=False)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REJECTED
    assert available(alice) == 100000 and balance(eve, "EUR") == 0
    assert payment_review_decide(subject=f"payment:{payment.pk}", approved=True) is None  # decided already


def test_review_decide_ignores_other_subjects(alice):
    assert payment_review_decide(subject="card:1", approved=True) is None
    assert payment_review_decide(subject="payment:abc", approved=True) is None


# --- Who sees what ------------------------------------------------------------------------------


def test_payment_for_user_is_only_for_the_parties(alice, bob, carol):
    payment = payment_send(alice, to="@bob", amount=usd("1.00"))
    assert payment_for_user(alice, payment.pk) == payment
    assert payment_for_user(bob, str(payment.pk)) == payment
    for who, pk in ((carol, payment.pk), (alice, 0), (alice, -1), (alice, "x"), (alice, None), (alice, 2**70)):
        with pytest.raises(NotFound):
            payment_for_user(who, pk)


def test_every_change_is_in_the_history(alice, bob):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.TEN_MINUTES)
    payment = payment_send(alice, to="@bob", amount=usd("5.00"))
    payments_release_due(now=timezone.now() + timedelta(minutes=11))
    payment_return(bob, payment=payment)
    events = list(PaymentEvent.objects.filter(payment=payment).order_by("id"))
    assert [e.status for e in events] == ["arriving", "completed", "returned"]
    assert events[0].actor == alice and events[1].actor is None and events[2].actor == bob

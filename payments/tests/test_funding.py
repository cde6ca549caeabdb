"""Linked cards, add money and cash out: the simulated processor, the services, the pages and the admin."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from compliance.services import AccountFrozen, RegionNotLicensed, VerificationRequired, freeze_account
from compliance.tests.factories import staff_user
from core.errors import IdempotencyKeyReused
from core.idempotency import new_key
from core.money import Money
from core.testing import run_threads
from ledger.models import AccountKind, Transfer, TransferState
from ledger.services import InsufficientFunds, system_account
from notifications.models import Notification
from payments import processor
from payments.models import CashOut, FundingCard, MovementStatus, TopUp
from payments.services.funding import (
    CardDeclined,
    CardNetworkTimeout,
    CardNotFound,
    CardRefused,
    CashOutFailed,
    TooManyCards,
    TopUpLimitExceeded,
    card_link,
    card_remove,
    cashout_create,
    cashout_fee,
    cashout_quote,
    cashout_settle,
    cashout_settle_after,
    cashouts_settle_due,
    topup_create,
)

from .factories import available, balance, fund, sender_user

EXP_YEAR = timezone.now().year + 3
USD = "USD"


@pytest.fixture(autouse=True)
def _fresh_processor():
    processor.reset()
    yield
    processor.reset()


def link(user, number: str = processor.APPROVE, **overrides) -> FundingCard:
    fields = {"number": number, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "123"}
    fields.update(overrides)
    return card_link(user, **fields)


def usd(text: str) -> Money:
    return Money.parse(text, USD)


def system(kind: str, currency: str = USD):
    account = system_account(kind, currency)
    account.refresh_from_db()
    return account


def charges(operation: str = "charge") -> list[dict]:
    return [h for h in processor.history if h["operation"] == operation and h["amount"] > 0]


def kinds(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("id").values_list("kind", flat=True))


# --- The simulated processor -------------------------------------------------------------------


def test_each_test_number_answers_as_documented():
    assert processor.charge(processor.APPROVE, 1000, USD).approved
    declined = processor.charge(processor.DECLINE_INSUFFICIENT_FUNDS, 1000, USD)
    assert not declined.approved and declined.decline_code == "insufficient_funds" and declined.reference
    stolen = processor.charge(processor.DECLINE_STOLEN, 1000, USD)
    assert not stolen.approved and stolen.decline_code == "stolen_card"
    with pytest.raises(processor.ProcessorTimeout):
        processor.charge(processor.TIMEOUT, 1000, USD)
    assert not processor.payout(processor.PAYOUT_DECLINED, 1000, USD).approved
    assert processor.charge(processor.PAYOUT_DECLINED, 1000, USD).approved
    assert processor.payout(processor.DECLINE_INSUFFICIENT_FUNDS, 1000, USD).approved
    with pytest.raises(processor.ProcessorTimeout):
        processor.payout(processor.TIMEOUT, 1000, USD)
    # Any other Luhn-valid number is approved; the $0 verification only refuses a stolen card.
    assert processor.charge("5555555555554444", 1000, USD).approved
    assert not processor.verify(processor.DECLINE_STOLEN, currency=USD, cvc="123").approved
    for number in (processor.DECLINE_INSUFFICIENT_FUNDS, processor.TIMEOUT, processor.PAYOUT_DECLINED):
        assert processor.verify(number, currency=USD, cvc="123").approved
    assert processor.charge("4242424242424241", 1000, USD).decline_code == "invalid_number"
    # The history names cards by their last 4 only.
    assert all(entry["card"].startswith("•••• ") and len(entry["card"]) == 9 for entry in processor.history)


def test_a_processor_idempotency_key_charges_once():
    first = processor.charge(processor.APPROVE, 500, USD, idempotency_key="k")
    again = processor.charge(processor.APPROVE, 500, USD, idempotency_key="k")
    assert first == again and len(charges()) == 1
    assert processor.payout(processor.APPROVE, 500, USD, idempotency_key="k") != first  # keys are per operation


# --- Linking and removing cards ------------------------------------------------------------------


@pytest.mark.django_db
def test_link_a_card(alice):
    card = link(alice, number="5555 5555 5555 4444", exp_month=3, cvc="321")
    assert (card.user, card.brand, card.last4, card.exp_month, card.exp_year) == (
        alice,
        "mastercard",
        "4444",
        3,
        EXP_YEAR,
    )
    assert str(card) == "mastercard •••• 4444"
    assert [h["amount"] for h in processor.history] == [0]  # one $0 verification, nothing charged


@pytest.mark.django_db
def test_a_stolen_card_is_refused_and_nothing_is_stored(alice):
    with pytest.raises(CardRefused) as caught:
        link(alice, number=processor.DECLINE_STOLEN)
    assert caught.value.message == "This card can't be used."
    assert caught.value.status == 422
    assert not FundingCard.objects.exists()


@pytest.mark.django_db
def test_at_most_five_cards(alice):
    for number in ("4242424242424242", "5555555555554444", "6011111111111117", "4000000000009995", "4000000000000119"):
        link(alice, number=number)
    with pytest.raises(TooManyCards, match="up to 5 cards"):
        link(alice, number="4000000000000077")
    card_remove(alice, card=FundingCard.objects.filter(user=alice).first())
    link(alice, number="4000000000000077")  # room again


@pytest.mark.django_db
def test_remove_is_soft_and_only_for_the_owner(alice, bob):
    card = link(alice)
    with pytest.raises(CardNotFound):
        card_remove(bob, card=card)
    with pytest.raises(CardNotFound):
        card_remove(bob, card=card.pk)
    removed = card_remove(alice, card=card.pk)
    assert removed.removed_at is not None and FundingCard.objects.filter(pk=card.pk).exists()
    with pytest.raises(CardNotFound):
        card_remove(alice, card=card)  # already removed
    with pytest.raises(CardNotFound):
        topup_create(alice, card=card, amount=usd("5.00"), idempotency_key="removed")


# --- Add money ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_top_up_credits_the_wallet_at_once(alice):
    card = link(alice)
    funding_before = system(AccountKind.FUNDING).debits_posted
    topup = topup_create(alice, card=card, amount=usd("50.00"), idempotency_key="t1")
    assert topup.status == MovementStatus.COMPLETED and topup.completed_at and topup.processor_reference
    assert balance(alice) == 100_000 + 5_000
    assert system(AccountKind.FUNDING).debits_posted == funding_before + 5_000
    assert topup.transfer.kind == "top_up" and topup.transfer.amount == 5_000
    assert topup.transfer.metadata["processor_reference"] == topup.processor_reference
    assert [c["amount"] for c in charges()] == [5_000]
    assert "topup.completed" in kinds(alice)
    note = Notification.objects.get(recipient=alice, kind="topup.completed")
    assert note.title == "$50.00 was added to your wallet from your Visa •••• 4242"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "error", "message", "status", "code"),
    [
        (
            processor.DECLINE_INSUFFICIENT_FUNDS,
            CardDeclined,
            "Your bank declined this charge: insufficient funds.",
            MovementStatus.DECLINED,
            "insufficient_funds",
        ),
        (
            processor.TIMEOUT,
            CardNetworkTimeout,
            "The card network did not answer; nothing was charged. Try again.",
            MovementStatus.FAILED,
            "timeout",
        ),
    ],
)
def test_a_declined_or_timed_out_charge_moves_nothing(alice, number, error, message, status, code):
    card = link(alice, number=number)
    funding_before = system(AccountKind.FUNDING).debits_posted
    with pytest.raises(error) as caught:
        topup_create(alice, card=card, amount=usd("25.00"), idempotency_key="declined")
    assert caught.value.message == message and caught.value.status == 422
    topup = TopUp.objects.get(user=alice)
    assert (topup.status, topup.decline_code, topup.transfer) == (status, code, None)
    assert balance(alice) == 100_000 and available(alice) == 100_000
    assert system(AccountKind.FUNDING).debits_posted == funding_before
    assert "topup.completed" not in kinds(alice)
    # A replay of the same request answers the same error and charges nothing more.
    attempts = len(processor.history)
    with pytest.raises(error, match=re.escape(message)):
        topup_create(alice, card=card, amount=usd("25.00"), idempotency_key="declined")
    assert len(processor.history) == attempts


@pytest.mark.django_db
def test_top_up_idempotency(alice):
    card = link(alice)
    first = topup_create(alice, card=card, amount=usd("10.00"), idempotency_key="same")
    again = topup_create(alice, card=card, amount=usd("10.00"), idempotency_key="same")
    assert again.pk == first.pk
    assert len(charges()) == 1 and TopUp.objects.count() == 1
    assert Transfer.objects.filter(kind="top_up").count() == 1
    assert balance(alice) == 101_000
    with pytest.raises(IdempotencyKeyReused) as caught:
        topup_create(alice, card=card, amount=usd("11.00"), idempotency_key="same")
    assert caught.value.status == 422
    assert balance(alice) == 101_000 and len(charges()) == 1


@pytest.mark.django_db
def test_an_interrupted_top_up_is_finished_by_its_replay_without_charging_twice(alice, monkeypatch):
    card = link(alice)
    from payments.services import funding

    def crash(*args, **kwargs):
        raise RuntimeError("the process died after the charge")

    monkeypatch.setattr(funding, "_topup_complete", crash)
    with pytest.raises(RuntimeError):
        topup_create(alice, card=card, amount=usd("10.00"), idempotency_key="crash")
    monkeypatch.undo()
    assert TopUp.objects.get().status == MovementStatus.PENDING and balance(alice) == 100_000
    topup = topup_create(alice, card=card, amount=usd("10.00"), idempotency_key="crash")
    assert topup.status == MovementStatus.COMPLETED and balance(alice) == 101_000
    assert len(charges()) == 1  # the processor key made the second call a replay


@pytest.mark.django_db
def test_top_up_limit_is_2500_usd_equivalent(alice, fx_rates):
    card = link(alice)
    with pytest.raises(TopUpLimitExceeded, match=r"at most \$2,500\.00"):
        topup_create(alice, card=card, amount=usd("2500.01"), idempotency_key="over")
    assert not charges() and not TopUp.objects.exists()
    assert topup_create(alice, card=card, amount=usd("2500.00"), idempotency_key="max").status == "completed"
    # In another currency the limit is its USD equivalent (1 USD = 0.9 EUR in the test rates).
    with pytest.raises(TopUpLimitExceeded):
        topup_create(alice, card=card, amount=Money.parse("2300.00", "EUR"), idempotency_key="eur-over")
    eur = topup_create(alice, card=card, amount=Money.parse("2200.00", "EUR"), idempotency_key="eur")
    assert eur.status == "completed" and balance(alice, "EUR") == 220_000


@pytest.mark.django_db
def test_frozen_unverified_and_unlicensed_people_cannot_add_money_or_cash_out(alice):
    dave = sender_user("dave", tier=0)
    erin = sender_user("erin", country="BR")
    fund(dave, "100.00")
    fund(erin, "100.00")
    freeze_account(staff_user("staffer"), user=alice, reason="We are checking a payment")
    for user, error in ((alice, AccountFrozen), (dave, VerificationRequired), (erin, RegionNotLicensed)):
        before = balance(user)
        card = link(user)
        with pytest.raises(error):
            topup_create(user, card=card, amount=usd("5.00"), idempotency_key="t")
        with pytest.raises(error):
            cashout_create(user, card=card, amount=usd("5.00"), speed="instant", idempotency_key="c")
        assert balance(user) == before and available(user) == before
    assert not charges() and not charges("payout")
    assert not TopUp.objects.exists() and not CashOut.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_processor_is_never_called_inside_a_transaction(alice, monkeypatch):
    seen = []
    real_charge, real_payout = processor.charge, processor.payout

    def charge(*args, **kwargs):
        seen.append(("charge", connection.in_atomic_block))
        return real_charge(*args, **kwargs)

    def payout(*args, **kwargs):
        seen.append(("payout", connection.in_atomic_block))
        return real_payout(*args, **kwargs)

    monkeypatch.setattr(processor, "charge", charge)
    monkeypatch.setattr(processor, "payout", payout)
    card = link(alice)
    topup_create(alice, card=card, amount=usd("10.00"), idempotency_key="tx-topup")
    cashout_create(alice, card=card, amount=usd("10.00"), speed="instant", idempotency_key="tx-instant")
    standard = cashout_create(alice, card=card, amount=usd("10.00"), speed="standard", idempotency_key="tx-std")
    cashouts_settle_due(now=standard.settle_after)
    assert [op for op, _ in seen] == ["charge", "charge", "payout", "payout"]
    assert not any(inside for _, inside in seen)


# --- Cash out: fees and dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "fee"),
    [
        ("10.00", "USD", "0.25"),  # 0.15 -> the minimum
        ("16.67", "USD", "0.25"),  # 0.25005 -> 0.25
        ("20.00", "USD", "0.30"),
        ("33.33", "USD", "0.50"),  # 0.49995 -> half-up
        ("100.00", "USD", "1.50"),
        ("999.99", "USD", "15.00"),  # 14.99985 -> 15.00
        ("2000.00", "USD", "15.00"),  # 30.00 -> the maximum
        ("0.01", "EUR", "0.25"),
        ("100", "JPY", "2"),  # 1.5 -> 2 (half-up)
        ("10", "JPY", "1"),  # 0.15 -> the minimum, 0.25 rounded up to a whole yen
        ("100000", "JPY", "15"),  # the maximum, 15 yen
        ("10.000", "KWD", "0.250"),
    ],
)
def test_instant_fee(amount, currency, fee):
    assert cashout_fee(Money.parse(amount, currency), "instant") == Money.parse(fee, currency)
    assert cashout_fee(Money.parse(amount, currency), "standard").amount == 0


@pytest.mark.django_db
def test_quote(alice):
    quote = cashout_quote(alice, amount=usd("100.00"), speed="instant")
    assert quote == (usd("100.00"), usd("1.50"), usd("101.50"))
    _amount, fee, total = cashout_quote(alice, amount=usd("100.00"), speed="standard")
    assert (fee.amount, total) == (0, usd("100.00"))


@pytest.mark.parametrize(
    ("created", "settles"),
    [
        ("2026-11-16 10:00", "2026-11-17"),  # Monday before 17:00 -> Tuesday
        ("2026-11-16 16:59", "2026-11-17"),
        ("2026-11-16 17:00", "2026-11-18"),  # Monday at the cut-off -> Wednesday
        ("2026-11-19 23:30", "2026-11-23"),  # Thursday evening -> Monday
        ("2026-11-20 09:00", "2026-11-23"),  # Friday morning -> Monday
        ("2026-11-20 17:30", "2026-11-24"),  # Friday evening -> Tuesday
        ("2026-11-21 12:00", "2026-11-24"),  # Saturday -> Tuesday
        ("2026-11-22 12:00", "2026-11-24"),  # Sunday -> Tuesday
    ],
)
def test_standard_cash_outs_settle_on_a_business_day(created, settles):
    moment = datetime.strptime(created, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    expected = datetime.strptime(settles, "%Y-%m-%d").replace(hour=9, tzinfo=UTC)
    assert cashout_settle_after(moment) == expected


# --- Cash out: standard ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_standard_cash_out_is_held_then_settled_by_the_task(alice):
    card = link(alice)
    funding_before = system(AccountKind.FUNDING).credits_posted
    cashout = cashout_create(alice, card=card, amount=usd("200.00"), speed="standard", idempotency_key="s1")
    assert (cashout.status, cashout.fee, cashout.speed) == (MovementStatus.PENDING, 0, "standard")
    assert cashout.settle_after == cashout_settle_after(cashout.created_at)
    assert cashout.hold.state == TransferState.PENDING and cashout.hold.amount == 20_000
    assert balance(alice) == 100_000 and available(alice) == 80_000  # held: not available to spend
    with pytest.raises(InsufficientFunds):  # the held money cannot be cashed out again
        cashout_create(alice, card=card, amount=usd("800.01"), speed="standard", idempotency_key="s2")

    # Before its date: nothing happens.
    assert cashouts_settle_due(now=cashout.settle_after - timedelta(seconds=1)) == 0
    cashout.refresh_from_db()
    assert cashout.status == MovementStatus.PENDING and not charges("payout")

    assert cashouts_settle_due(now=cashout.settle_after) == 1
    cashout.refresh_from_db()
    assert cashout.status == MovementStatus.COMPLETED and cashout.completed_at and cashout.transfer
    assert balance(alice) == 80_000 and available(alice) == 80_000
    assert system(AccountKind.FUNDING).credits_posted == funding_before + 20_000
    assert [p["amount"] for p in charges("payout")] == [20_000]
    assert "cashout.completed" in kinds(alice)
    assert cashouts_settle_due(now=cashout.settle_after + timedelta(days=1)) == 0  # once only


@pytest.mark.django_db
def test_the_celery_task_settles_due_cash_outs(alice, monkeypatch):
    from payments import tasks

    card = link(alice)
    cashout = cashout_create(alice, card=card, amount=usd("5.00"), speed="standard", idempotency_key="task")
    later = cashout.settle_after + timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert tasks.settle_due_cash_outs.delay().get() == 1
    cashout.refresh_from_db()
    assert cashout.status == MovementStatus.COMPLETED


@pytest.mark.django_db
def test_a_claimed_cash_out_is_not_paid_twice(alice):
    card = link(alice)
    cashout = cashout_create(alice, card=card, amount=usd("5.00"), speed="standard", idempotency_key="claim")
    assert cashout_settle(cashout.pk, now=cashout.settle_after) is not None
    assert cashout_settle(cashout.pk, now=cashout.settle_after + timedelta(hours=1)) is None
    assert len(charges("payout")) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "code"), [(processor.PAYOUT_DECLINED, "payouts_not_supported"), (processor.TIMEOUT, "timeout")]
)
def test_a_failed_payout_voids_the_hold(alice, number, code):
    card = link(alice, number=number)
    cashout = cashout_create(alice, card=card, amount=usd("40.00"), speed="standard", idempotency_key="fail")
    assert available(alice) == 96_000
    assert cashouts_settle_due(now=cashout.settle_after) == 1
    cashout.refresh_from_db()
    assert (cashout.status, cashout.decline_code) == (MovementStatus.FAILED, code)
    assert Transfer.objects.filter(pending=cashout.hold, state=TransferState.VOIDED).exists()
    assert balance(alice) == 100_000 and available(alice) == 100_000
    assert "cashout.failed" in kinds(alice)


@pytest.mark.django_db
def test_a_hold_about_to_expire_is_voided_not_paid(alice):
    card = link(alice)
    cashout = cashout_create(alice, card=card, amount=usd("5.00"), speed="standard", idempotency_key="late")
    result = cashout_settle(cashout.pk, now=cashout.hold.timeout_at)
    assert result.status == MovementStatus.FAILED and result.decline_code == "hold_expired"
    assert not charges("payout") and available(alice) == 100_000


# --- Cash out: instant -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_instant_cash_out_pays_now_and_the_fee_lands_in_the_fees_account(alice):
    card = link(alice)
    fees_before = system(AccountKind.FEES).credits_posted
    funding_before = system(AccountKind.FUNDING).credits_posted
    cashout = cashout_create(alice, card=card, amount=usd("100.00"), speed="instant", idempotency_key="i1")
    assert (cashout.status, cashout.fee) == (MovementStatus.COMPLETED, 150)
    assert balance(alice) == 100_000 - 10_150 and available(alice) == 100_000 - 10_150
    assert system(AccountKind.FEES).credits_posted == fees_before + 150
    assert system(AccountKind.FUNDING).credits_posted == funding_before + 10_000
    posted = Transfer.objects.filter(state=TransferState.POSTED, pending__isnull=False).order_by("id")
    assert [(t.kind, t.amount) for t in posted] == [("cash_out", 10_000), ("cash_out_fee", 150)]
    assert [p["amount"] for p in charges("payout")] == [10_000]
    # The same key again: the same cash-out, nothing more moves.
    again = cashout_create(alice, card=card, amount=usd("100.00"), speed="instant", idempotency_key="i1")
    assert again.pk == cashout.pk and len(charges("payout")) == 1 and balance(alice) == 89_850
    with pytest.raises(IdempotencyKeyReused):
        cashout_create(alice, card=card, amount=usd("100.00"), speed="standard", idempotency_key="i1")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "code", "message"),
    [
        (
            processor.PAYOUT_DECLINED,
            "card_declined",
            "Your bank declined this payout: this card can't receive payouts. Nothing was sent; "
            "the money is back in your wallet.",
        ),
        (
            processor.TIMEOUT,
            "card_network_timeout",
            "The card network did not answer; nothing was sent and the money is back in your wallet. Try again.",
        ),
    ],
)
def test_a_failed_instant_payout_voids_both_holds_and_keeps_no_fee(alice, number, code, message):
    card = link(alice, number=number)
    fees_before = system(AccountKind.FEES).credits_posted
    with pytest.raises(CashOutFailed) as caught:
        cashout_create(alice, card=card, amount=usd("100.00"), speed="instant", idempotency_key="bad")
    assert (caught.value.code, caught.value.message, caught.value.status) == (code, message, 422)
    cashout = CashOut.objects.get()
    assert cashout.status == MovementStatus.FAILED
    assert balance(alice) == 100_000 and available(alice) == 100_000
    assert system(AccountKind.FEES).credits_posted == fees_before and system(AccountKind.FEES).credits_pending == 0
    assert Transfer.objects.filter(state=TransferState.VOIDED).count() == 2
    with pytest.raises(CashOutFailed):  # a replay answers the same, and pays out nothing more
        cashout_create(alice, card=card, amount=usd("100.00"), speed="instant", idempotency_key="bad")


@pytest.mark.django_db
def test_the_fee_must_be_available_too(alice):
    card = link(alice, number="5555555555554444")
    with pytest.raises(InsufficientFunds) as caught:
        cashout_create(alice, card=card, amount=usd("990.00"), speed="instant", idempotency_key="x")
    assert caught.value.message == (
        "You have $1,000.00 available; this cash-out needs $1,004.85 ($990.00 plus the $14.85 fee)."
    )
    assert caught.value.status == 422
    assert not CashOut.objects.exists() and not Transfer.objects.filter(state=TransferState.PENDING).exists()
    assert balance(alice) == 100_000 and not charges("payout")
    assert cashout_create(alice, card=card, amount=usd("985.22"), speed="instant", idempotency_key="y").fee == 1478
    assert balance(alice) == 0


@pytest.mark.django_db
def test_an_interrupted_instant_cash_out_is_finished_by_the_task(alice, monkeypatch):
    card = link(alice)
    from payments.services import funding

    def crash(*args, **kwargs):
        raise RuntimeError("the process died after the payout")

    monkeypatch.setattr(funding, "_cashout_complete", crash)
    with pytest.raises(RuntimeError):
        cashout_create(alice, card=card, amount=usd("10.00"), speed="instant", idempotency_key="crash")
    monkeypatch.undo()
    cashout = CashOut.objects.get()
    assert cashout.status == MovementStatus.PENDING and available(alice) == 100_000 - 1_025
    assert cashouts_settle_due() == 0  # its lease has not run out yet
    assert cashouts_settle_due(now=timezone.now() + timedelta(minutes=11)) == 1
    cashout.refresh_from_db()
    assert cashout.status == MovementStatus.COMPLETED and balance(alice) == 100_000 - 1_025
    assert len(charges("payout")) == 1  # the processor key made the second payout a replay


@pytest.mark.django_db
def test_other_peoples_cards_are_not_found(alice, bob):
    card = link(bob)
    with pytest.raises(CardNotFound):
        topup_create(alice, card=card.pk, amount=usd("5.00"), idempotency_key="theirs")
    with pytest.raises(CardNotFound):
        cashout_create(alice, card=card, amount=usd("5.00"), speed="standard", idempotency_key="theirs")
    for bad in (0, -1, 2**63, "x", None, True, 1.5):
        with pytest.raises(CardNotFound):
            topup_create(alice, card=bad, amount=usd("5.00"), idempotency_key=f"bad-{bad}")


# --- Pages -------------------------------------------------------------------------------------


def form(client, url: str, data: dict, **kwargs):
    return client.post(url, data, **kwargs)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.mark.django_db
def test_cards_page_empty_state_link_and_remove(alice_client, alice):
    page = alice_client.get("/wallet/cards/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="cards-empty"' in html and "Link a debit card" in html
    for attr in (
        'autocomplete="cc-number"',
        'autocomplete="cc-exp-month"',
        'autocomplete="cc-exp-year"',
        'autocomplete="cc-csc"',
    ):
        assert attr in html
    assert "Test card numbers" not in html  # only with DEBUG

    data = {"number": "4242 4242 4242 4242", "exp_month": "12", "exp_year": str(EXP_YEAR), "cvc": "123"}
    response = alice_client.post("/wallet/cards/", data, follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [("/wallet/cards/", 302)]
    assert "Visa •••• 4242 is linked." in html and "Visa •••• 4242" in html
    assert "4242424242424242" not in html and "4242 4242 4242 4242" not in html

    again = alice_client.post("/wallet/cards/", data)
    assert again.status_code == 409 and "This card is already linked" in again.content.decode()
    assert b"4242 4242 4242 4242" not in again.content and b'value="123"' not in again.content

    card = FundingCard.objects.get(user=alice)
    confirm = alice_client.get(f"/wallet/cards/{card.pk}/remove/")
    assert confirm.status_code == 200 and "Remove this card?" in confirm.content.decode()
    assert FundingCard.objects.get(pk=card.pk).removed_at is None  # GET changes nothing
    removed = alice_client.post(f"/wallet/cards/{card.pk}/remove/", follow=True)
    assert "Visa •••• 4242 was removed." in removed.content.decode()
    assert FundingCard.objects.get(pk=card.pk).removed_at is not None
    assert alice_client.post(f"/wallet/cards/{card.pk}/remove/").status_code == 404


@pytest.mark.django_db
def test_cards_page_errors(alice_client, alice, bob):
    bad = alice_client.post(
        "/wallet/cards/", {"number": "4242 4242 4242 4241", "exp_month": "12", "exp_year": str(EXP_YEAR), "cvc": "123"}
    )
    assert bad.status_code == 400 and "That card number is not valid: check the digits." in bad.content.decode()
    stolen = alice_client.post(
        "/wallet/cards/",
        {"number": processor.DECLINE_STOLEN, "exp_month": "1", "exp_year": str(EXP_YEAR), "cvc": "123"},
    )
    assert stolen.status_code == 422 and "This card can&#x27;t be used." in stolen.content.decode()
    missing = alice_client.post("/wallet/cards/", {})
    assert missing.status_code == 400
    theirs = link(bob)
    assert alice_client.get(f"/wallet/cards/{theirs.pk}/remove/").status_code == 404
    assert alice_client.post(f"/wallet/cards/{theirs.pk}/remove/").status_code == 404
    assert FundingCard.objects.get(pk=theirs.pk).removed_at is None


@pytest.mark.django_db
def test_test_numbers_are_shown_in_debug(alice_client):
    with override_settings(DEBUG=True):
        html = alice_client.get("/wallet/cards/").content.decode()
    assert "Test card numbers" in html and "4000 0000 0000 9995" in html


@pytest.mark.django_db
def test_pages_need_a_login(client):
    for url in ("/wallet/cards/", "/wallet/add/", "/wallet/cash-out/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_add_money_without_cards_says_what_to_do(alice_client):
    html = alice_client.get("/wallet/add/").content.decode()
    assert 'data-testid="no-cards"' in html and "Link a debit card first" in html


@pytest.mark.django_db
def test_add_money_confirm_then_submit_once(alice_client, alice):
    card = link(alice)
    page = alice_client.get("/wallet/add/")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.content.decode()).group(1)
    data = {"card": card.pk, "amount": "25.00", "currency": "USD", "idempotency_key": key}

    confirm = alice_client.post("/wallet/add/confirm/", data)
    html = confirm.content.decode()
    assert confirm.status_code == 200
    assert "Visa •••• 4242" in html and "$25.00" in html and "Arrives instantly" in html
    assert re.search(r'data-testid="confirm-fee">\$0\.00<', html)
    assert f'name="idempotency_key" value="{key}"' in html  # the same key travels on
    assert balance(alice) == 100_000 and not charges()  # nothing moved yet

    first = alice_client.post("/wallet/add/submit/", data)
    second = alice_client.post("/wallet/add/submit/", data)  # a double submit
    topup = TopUp.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/wallet/add/{topup.pk}/"
    assert second["Idempotent-Replayed"] == "true"
    assert len(charges()) == 1 and balance(alice) == 102_500
    done = alice_client.get(first["Location"]).content.decode()
    assert "$25.00 added" in done and re.search(r'data-testid="new-balance"><strong>\$1,025\.00<', done)


@pytest.mark.django_db
def test_add_money_shows_declines_on_the_page(alice_client, alice):
    card = link(alice, number=processor.DECLINE_INSUFFICIENT_FUNDS)
    data = {"card": card.pk, "amount": "25.00", "currency": "USD", "idempotency_key": new_key()}
    response = alice_client.post("/wallet/add/submit/", data)
    html = response.content.decode()
    assert response.status_code == 422
    assert "Your bank declined this charge: insufficient funds." in html
    assert data["idempotency_key"] not in html  # a fresh key for the next try
    assert balance(alice) == 100_000
    timeout_card = link(alice, number=processor.TIMEOUT)
    data = {"card": timeout_card.pk, "amount": "25.00", "currency": "USD", "idempotency_key": new_key()}
    response = alice_client.post("/wallet/add/submit/", data)
    assert response.status_code == 422
    assert "The card network did not answer; nothing was charged. Try again." in response.content.decode()
    assert balance(alice) == 100_000


@pytest.mark.django_db
def test_add_money_refusals_at_the_confirm_step(alice_client, alice, bob):
    card = link(alice)
    theirs = link(bob)
    over = alice_client.post("/wallet/add/confirm/", {"card": card.pk, "amount": "2600", "currency": "USD"})
    assert over.status_code == 422 and "at most $2,500.00" in over.content.decode()
    bad = alice_client.post("/wallet/add/confirm/", {"card": card.pk, "amount": "-5", "currency": "USD"})
    assert bad.status_code == 400
    other = alice_client.post("/wallet/add/confirm/", {"card": theirs.pk, "amount": "5", "currency": "USD"})
    assert other.status_code == 400 and "Choose one of your linked cards." in other.content.decode()
    freeze_account(staff_user("staffer"), user=alice, reason="We are checking a payment")
    frozen = alice_client.post("/wallet/add/confirm/", {"card": card.pk, "amount": "5", "currency": "USD"})
    assert frozen.status_code == 403 and "Your account is frozen" in frozen.content.decode()
    assert not charges()


@pytest.mark.django_db
def test_cash_out_confirm_shows_the_fee_before_money_moves_and_submits_once(alice_client, alice):
    card = link(alice)
    data = {"card": card.pk, "amount": "100.00", "currency": "USD", "speed": "instant", "idempotency_key": new_key()}
    confirm = alice_client.post("/wallet/cash-out/confirm/", data)
    html = confirm.content.decode()
    assert confirm.status_code == 200
    assert re.search(r'data-testid="confirm-fee">\$1\.50<', html)
    assert re.search(r'data-testid="confirm-total"><strong>\$101\.50<', html)
    assert "Instantly, within minutes" in html
    assert balance(alice) == 100_000 and not CashOut.objects.exists()

    first = alice_client.post("/wallet/cash-out/submit/", data)
    second = alice_client.post("/wallet/cash-out/submit/", data)
    cashout = CashOut.objects.get()
    assert first.status_code == second.status_code == 302 and first["Location"] == f"/wallet/cash-out/{cashout.pk}/"
    assert balance(alice) == 100_000 - 10_150 and len(charges("payout")) == 1
    detail = alice_client.get(first["Location"]).content.decode()
    assert "$100.00 sent to your card" in detail


@pytest.mark.django_db
def test_standard_cash_out_page_shows_the_arrival_date_and_the_list(alice_client, alice):
    card = link(alice)
    data = {"card": card.pk, "amount": "30.00", "currency": "USD", "speed": "standard", "idempotency_key": new_key()}
    confirm = alice_client.post("/wallet/cash-out/confirm/", data).content.decode()
    assert re.search(r'data-testid="confirm-fee">\$0\.00<', confirm) and "1–3 business days" in confirm
    arrives = cashout_settle_after(timezone.now())
    assert arrives.strftime("%B") in confirm
    alice_client.post("/wallet/cash-out/submit/", data)
    page = alice_client.get("/wallet/cash-out/").content.decode()
    assert 'data-testid="cash-out-list"' in page and "$30.00" in page and 'data-status="pending"' in page
    assert available(alice) == 97_000


@pytest.mark.django_db
def test_cash_out_refusals_on_the_page(alice_client, alice):
    card = link(alice, number=processor.PAYOUT_DECLINED)
    too_much = {"card": card.pk, "amount": "995.00", "currency": "USD", "speed": "instant"}
    response = alice_client.post("/wallet/cash-out/confirm/", too_much)
    assert response.status_code == 422 and "plus the $14.93 fee" in response.content.decode()
    data = {"card": card.pk, "amount": "10.00", "currency": "USD", "speed": "instant", "idempotency_key": new_key()}
    failed = alice_client.post("/wallet/cash-out/submit/", data)
    assert failed.status_code == 422 and "this card can&#x27;t receive payouts" in failed.content.decode()
    assert balance(alice) == 100_000
    bad_speed = alice_client.post("/wallet/cash-out/confirm/", {**data, "speed": "warp"})
    assert bad_speed.status_code == 400


@pytest.mark.django_db
def test_a_key_reused_for_another_body_is_refused_on_the_page(alice_client, alice):
    card = link(alice)
    key = new_key()
    alice_client.post(
        "/wallet/add/submit/", {"card": card.pk, "amount": "5.00", "currency": "USD", "idempotency_key": key}
    )
    other = alice_client.post(
        "/wallet/add/submit/", {"card": card.pk, "amount": "6.00", "currency": "USD", "idempotency_key": key}
    )
    assert other.status_code == 422 and "already used for a different top-up" in other.content.decode()
    assert balance(alice) == 100_500


@pytest.mark.django_db
def test_other_peoples_movements_are_404(alice_client, bob):
    card = link(bob)
    topup = topup_create(bob, card=card, amount=usd("5.00"), idempotency_key="b")
    cashout = cashout_create(bob, card=card, amount=usd("5.00"), speed="standard", idempotency_key="b")
    assert alice_client.get(f"/wallet/add/{topup.pk}/").status_code == 404
    assert alice_client.get(f"/wallet/cash-out/{cashout.pk}/").status_code == 404


@pytest.mark.django_db
def test_list_pages_have_bounded_queries(alice_client, alice, django_assert_max_num_queries):
    cards = [link(alice, number=n) for n in ("4242424242424242", "5555555555554444", "6011111111111117")]
    for i in range(12):
        card = cards[i % 3]
        topup_create(alice, card=card, amount=usd("1.00"), idempotency_key=f"t{i}")
        cashout_create(alice, card=card, amount=usd("1.00"), speed="standard", idempotency_key=f"c{i}")
    for url in ("/wallet/cards/", "/wallet/add/", "/wallet/cash-out/", "/wallet/cash-out/?page=2"):
        with django_assert_max_num_queries(15):
            assert alice_client.get(url).status_code == 200


# --- Admin -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_shows_cards_masked_and_everything_read_only(client, alice):
    card = link(alice)
    topup = topup_create(alice, card=card, amount=usd("5.00"), idempotency_key="adm")
    cashout = cashout_create(alice, card=card, amount=usd("5.00"), speed="instant", idempotency_key="adm")
    client.force_login(staff_user("admin1"))
    for url in (
        "/admin/payments/fundingcard/",
        f"/admin/payments/fundingcard/{card.pk}/change/",
        "/admin/payments/topup/",
        f"/admin/payments/topup/{topup.pk}/change/",
        "/admin/payments/cashout/",
        f"/admin/payments/cashout/{cashout.pk}/change/",
    ):
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 200, url
        assert "4242424242424242" not in html and card.number_encrypted not in html and card.fingerprint not in html
        assert "Visa •••• 4242" in html
        assert 'name="_save"' not in html  # nothing is editable
    assert client.get("/admin/payments/fundingcard/add/").status_code == 403
    assert client.post(f"/admin/payments/topup/{topup.pk}/delete/", {"post": "yes"}).status_code == 403


# --- Concurrency (PostgreSQL) -----------------------------------------------------------------------


def _run_threads(count, target):
    return run_threads(count, target, timeout=120)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_top_ups_with_one_key_charge_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (real row locks): set DATABASE_URL=postgres://... as .ci/run does")
    zed = sender_user("zed")
    card = link(zed)
    results, errors = _run_threads(
        10, lambda _: topup_create(zed, card=card.pk, amount=usd("30.00"), idempotency_key="one-key").pk
    )
    assert not errors, errors
    assert len(set(results)) == 1 and TopUp.objects.count() == 1
    assert len(charges()) == 1 and Transfer.objects.filter(kind="top_up").count() == 1
    assert balance(zed) == 3_000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_cash_outs_never_overdraw_or_pay_twice():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (real row locks): set DATABASE_URL=postgres://... as .ci/run does")
    zed = sender_user("zed")
    fund(zed, "100.00")
    card = link(zed)
    # Ten different instant cash-outs of 30.00 (+0.45 fee) race for 100.00: at most three fit.
    results, errors = _run_threads(
        10,
        lambda i: cashout_create(zed, card=card, amount=usd("30.00"), speed="instant", idempotency_key=f"k{i}").pk,
    )
    assert len(results) == 3 and all(isinstance(e, InsufficientFunds) for e in errors), errors
    assert balance(zed) == 10_000 - 3 * 3_045 and available(zed) == balance(zed)
    assert len(charges("payout")) == 3
    # And one key from many threads: one cash-out, one payout.
    results, errors = _run_threads(
        6, lambda _: cashout_create(zed, card=card, amount=usd("1.00"), speed="standard", idempotency_key="same").pk
    )
    assert not errors, errors
    assert len(set(results)) == 1 and CashOut.objects.filter(idempotency_key="same").count() == 1
    assert available(zed) == balance(zed) - 100

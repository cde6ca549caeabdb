"""Round-ups (issue 6, point 6): the spare change of an instant payment moves wallet → savings in the
payment's own ledger batch; skipped (never failing the payment) when the wallet cannot cover it."""

from __future__ import annotations

import pytest

from core.money import Money
from ledger.models import Account, Transfer
from ledger.services import InsufficientFunds
from payments.hooks import Spend, extra_transfers_for, register_extra_transfers, unregister_extra_transfers
from payments.models import PaymentStatus
from payments.services.send import payment_return, payment_send, wallet_settings_update
from payments.tests.factories import balance, fund, sender_user
from savings.models import SavingsAccount
from savings.roundups import ROUNDUP_KIND, roundup_amount, roundup_transfers
from savings.services import savings_account_open, savings_roundups_set

pytestmark = pytest.mark.django_db


def _savings_balance(user, currency: str = "USD") -> int:
    account = SavingsAccount.objects.select_related("ledger_account").get(user=user, currency=currency)
    ledger = Account.objects.get(pk=account.ledger_account_id)
    return ledger.balance


def _roundups_on(user, currency: str = "USD") -> SavingsAccount:
    savings_account_open(user, currency=currency)
    return savings_roundups_set(user, currency=currency, enabled=True)


@pytest.mark.parametrize(
    ("amount", "currency", "spare"),
    [
        (1230, "USD", 70),
        (1200, "USD", 0),
        (1, "USD", 99),
        (99, "USD", 1),
        (100, "USD", 0),
        (1250, "KWD", 750),  # 3 decimals: 1.250 -> 0.750
        (1000, "KWD", 0),
        (1234, "JPY", 0),  # no minor units: never any spare change
        (7, "JPY", 0),
    ],
)
def test_roundup_amount(amount, currency, spare):
    assert roundup_amount(amount, currency) == spare


def test_the_hook_is_registered_by_savings_apps_ready():
    from payments import hooks

    assert roundup_transfers in hooks._extra_transfer_hooks


def test_spare_change_moves_to_savings_in_the_same_ledger_batch(alice, bob):
    _roundups_on(alice)
    payment = payment_send(alice, to=bob, amount=Money.parse("12.30", "USD"), idempotency_key="r1")
    assert payment.status == PaymentStatus.COMPLETED
    assert balance(alice) == 100000 - 1230 - 70
    assert balance(bob) == 100000 + 1230
    assert _savings_balance(alice) == 70
    roundup = Transfer.objects.get(kind=ROUNDUP_KIND)
    assert roundup.batch_id == payment.debit_transfer.batch_id  # one ledger operation
    assert roundup.amount == 70 and roundup.metadata["payment"] == payment.pk
    assert roundup.debit_account.owner_id == alice.pk and roundup.credit_account.kind == "savings"


def test_a_replayed_payment_rounds_up_once(alice, bob):
    _roundups_on(alice)
    first = payment_send(alice, to=bob, amount=Money.parse("12.30", "USD"), idempotency_key="same")
    again = payment_send(alice, to=bob, amount=Money.parse("12.30", "USD"), idempotency_key="same")
    assert again.pk == first.pk
    assert _savings_balance(alice) == 70 and balance(alice) == 100000 - 1300
    assert Transfer.objects.filter(kind=ROUNDUP_KIND).count() == 1


def test_a_whole_amount_rounds_up_nothing(alice, bob):
    _roundups_on(alice)
    payment_send(alice, to=bob, amount=Money.parse("12.00", "USD"))
    assert _savings_balance(alice) == 0 and balance(alice) == 100000 - 1200
    assert not Transfer.objects.filter(kind=ROUNDUP_KIND).exists()


def test_nothing_without_the_flag_or_without_a_savings_account(alice, bob, carol):
    savings_account_open(alice, currency="USD")  # flag off
    payment_send(alice, to=bob, amount=Money.parse("1.01", "USD"))
    payment_send(bob, to=carol, amount=Money.parse("1.01", "USD"))  # bob has no savings at all
    assert _savings_balance(alice) == 0
    assert balance(alice) == 100000 - 101 and balance(bob) == 100000 + 101 - 101
    assert not Transfer.objects.filter(kind=ROUNDUP_KIND).exists()


def test_the_recipient_round_ups_do_not_apply_to_money_received(alice, bob):
    _roundups_on(bob)
    payment_send(alice, to=bob, amount=Money.parse("3.33", "USD"))
    assert _savings_balance(bob) == 0 and balance(bob) == 100333


def test_a_savings_account_in_another_currency_does_not_round_up(alice, bob, fx_rates):
    _roundups_on(alice)  # USD savings only
    fund(alice, "50.000", "KWD")
    eve = sender_user("eve", currency="KWD")
    payment_send(alice, to=eve, amount=Money.parse("1.250", "KWD"))  # sent in KWD: no KWD savings
    assert _savings_balance(alice) == 0
    assert not Transfer.objects.filter(kind=ROUNDUP_KIND).exists()


def test_zero_decimal_currency_has_no_round_up(bob, fx_rates):
    ken = sender_user("ken", currency="JPY")
    fund(ken, 10000, "JPY")
    yui = sender_user("yui", currency="JPY")
    account = SavingsAccount.objects.create(
        user=ken,
        currency="JPY",
        ledger_account=Account.objects.create(owner=ken, kind="savings", currency="JPY"),
        roundups_enabled=True,
    )
    payment_send(ken, to=yui, amount=Money(1234, "JPY"))
    assert Account.objects.get(pk=account.ledger_account_id).balance == 0
    assert balance(ken, "JPY") == 10000 - 1234


def test_when_the_wallet_cannot_cover_the_round_up_the_payment_still_goes(bob):
    dora = sender_user("dora")
    fund(dora, "12.30")
    _roundups_on(dora)
    payment = payment_send(dora, to=bob, amount=Money.parse("12.30", "USD"), idempotency_key="tight")
    assert payment.status == PaymentStatus.COMPLETED
    assert balance(dora) == 0 and balance(bob) == 100000 + 1230
    assert _savings_balance(dora) == 0
    assert not Transfer.objects.filter(kind=ROUNDUP_KIND).exists()
    assert payment.debit_transfer.batch.transfers.count() == 1  # the refused attempt left nothing behind


def test_a_payment_the_wallet_cannot_cover_moves_nothing(bob):
    dora = sender_user("dora")
    fund(dora, "5.00")
    _roundups_on(dora)
    with pytest.raises(InsufficientFunds):
        payment_send(dora, to=bob, amount=Money.parse("12.30", "USD"))
    assert balance(dora) == 500 and _savings_balance(dora) == 0 and balance(bob) == 100000


def test_a_converted_payment_rounds_up_in_the_sent_currency(alice, fx_rates):
    _roundups_on(alice)
    eve = sender_user("eve", currency="EUR")
    payment = payment_send(alice, to=eve, amount=Money.parse("10.25", "USD"))
    assert payment.is_fx and payment.status == PaymentStatus.COMPLETED
    assert _savings_balance(alice) == 75 and balance(alice) == 100000 - 1025 - 75
    batch = payment.debit_transfer.batch
    assert sorted(batch.transfers.values_list("kind", flat=True)) == ["fx_in", "fx_out", ROUNDUP_KIND]


def test_a_delayed_payment_is_not_rounded_up(alice, carol):
    _roundups_on(alice)
    wallet_settings_update(alice, safety_delay_seconds=600)
    payment = payment_send(alice, to=carol, amount=Money.parse("4.10", "USD"))
    assert payment.status == PaymentStatus.ARRIVING
    assert _savings_balance(alice) == 0


def test_a_returned_payment_leaves_its_round_up_in_savings(alice, bob):
    """The round-up was the sender's own money moved to their own savings: a return gives back the payment."""
    _roundups_on(alice)
    payment = payment_send(alice, to=bob, amount=Money.parse("0.40", "USD"))
    payment_return(bob, payment=payment)
    assert balance(alice) == 100000 - 60 and _savings_balance(alice) == 60 and balance(bob) == 100000


def test_tips_are_outgoing_payments_too(alice, bob):
    _roundups_on(alice)
    payment_send(alice, to=bob, amount=Money.parse("2.50", "USD"), kind="tip")
    assert _savings_balance(alice) == 50


def test_a_failing_hook_fails_the_payment_atomically(alice, bob):
    def broken(payment):
        raise RuntimeError("bug in a hook")

    register_extra_transfers(broken)
    try:
        with pytest.raises(RuntimeError):
            payment_send(alice, to=bob, amount=Money.parse("1.00", "USD"))
    finally:
        unregister_extra_transfers(broken)
    assert balance(alice) == 100000 and balance(bob) == 100000
    assert broken not in extra_transfers_for.__globals__["_extra_transfer_hooks"]  # the registry is as it was
    from payments.models import Payment

    assert not Payment.objects.exists()


def test_query_count_of_the_hook(alice, bob, django_assert_max_num_queries):
    _roundups_on(alice)
    payment = payment_send(alice, to=bob, amount=Money.parse("1.99", "USD"))
    spend = Spend(user=alice, amount=payment.amount, currency=payment.currency, reference={"payment": payment.pk})
    with django_assert_max_num_queries(2):  # the savings account, the wallet
        legs = roundup_transfers(spend)
    assert [leg.amount for leg in legs] == [1]

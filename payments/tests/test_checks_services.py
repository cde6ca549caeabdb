"""Checks: write, deposit, void, stale — the money, the rules and exactly-once."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.social import BlockedError, block_create
from compliance.errors import VerificationRequired
from compliance.models import LimitUsage
from core.errors import IdempotencyKeyReused
from core.money import Money
from ledger.models import Account, AccountKind
from ledger.services import InsufficientFunds
from notifications.models import Notification
from payments import tasks
from payments.models import Check, CheckStatus
from payments.services.checks import (
    CODE_ALPHABET,
    NO_MATCH_MESSAGE,
    CheckAlreadyDeposited,
    CheckNoMatch,
    CheckNotFound,
    CheckNotOutstanding,
    CheckOwn,
    CheckPayeeOnly,
    CheckStale,
    PayeeInvalid,
    check_deposit,
    check_deposit_code,
    check_for_writer,
    check_void,
    check_write,
    checks_return_stale,
)

from .factories import balance, fund, sender_user

pytestmark = pytest.mark.django_db


def held(currency="USD") -> int:
    """What the checks-outstanding account holds (credits less debits)."""
    account = Account.objects.get(owner=None, kind=AccountKind.CHECKS_OUTSTANDING, currency=currency)
    return account.credits_posted - account.debits_posted


def write(user, payee="Acme Plumbing", amount=1234, **kwargs):
    return check_write(user, payee=payee, amount=Money(amount, "USD"), **kwargs)


def test_write_moves_the_money_to_outstanding_at_once(alice):
    check = write(alice, memo="Rent")
    assert balance(alice) == 100000 - 1234
    assert held() == 1234
    assert check.status == CheckStatus.OUTSTANDING
    assert len(check.number) == 10 and check.number.isdigit() and check.number[0] != "0"
    code = check_deposit_code(check)
    assert len(code) == 12 and set(code) <= set(CODE_ALPHABET)
    assert code not in check.deposit_code_encrypted  # only the vault token is stored
    assert check.write_transfer.amount == 1234
    assert check.payee_name == "Acme Plumbing" and check.payee is None and check.memo == "Rent"
    assert check.stale_at - timezone.now() > timedelta(days=179)
    assert LimitUsage.objects.get(reference=f"check:{check.pk}").usd_minor == 1234


def test_write_to_a_handle_sets_the_payee(alice, bob):
    check = write(alice, payee="@Bob")
    assert check.payee == bob and check.payee_name == bob.name
    assert Notification.objects.filter(recipient=bob, kind="check.received").exists()


@pytest.mark.parametrize("payee", ["", "   ", "@", "@nobody_here", "x" * 101, None, 5])
def test_write_refuses_bad_payees_and_moves_nothing(alice, payee):
    with pytest.raises(Exception) as caught:
        write(alice, payee=payee)
    assert getattr(caught.value, "status", None) == 400
    assert balance(alice) == 100000 and not Check.objects.exists()


def test_write_refuses_oneself_and_blocked_people(alice, bob):
    with pytest.raises(PayeeInvalid):
        write(alice, payee="@alice")
    block_create(bob, blocked=alice)
    with pytest.raises(BlockedError):
        write(alice, payee="@bob")
    assert not Check.objects.exists()


def test_write_refuses_more_than_the_balance(db):
    user = sender_user("dan", tier=2)
    fund(user, "10.00")
    with pytest.raises(InsufficientFunds) as caught:
        write(user, amount=1001)
    assert "$10.00 available" in caught.value.message
    assert balance(user) == 1000 and not Check.objects.exists()
    assert not LimitUsage.objects.exists()


def test_tier_0_cannot_write_checks(db):
    user = sender_user("zed", tier=0)
    fund(user, "10.00")
    with pytest.raises(VerificationRequired):
        write(user, amount=100)
    assert balance(user) == 1000


@pytest.mark.parametrize("amount", [0, -5, 10**16])
def test_write_refuses_bad_amounts(alice, amount):
    with pytest.raises(Exception) as caught:
        check_write(alice, payee="X", amount=amount, currency="USD")
    assert getattr(caught.value, "status", None) == 400
    assert balance(alice) == 100000


def test_replayed_write_key_writes_once_and_a_different_body_is_refused(alice):
    first = write(alice, idempotency_key="k1")
    again = write(alice, idempotency_key="k1")
    assert again.pk == first.pk and Check.objects.count() == 1
    assert balance(alice) == 100000 - 1234
    with pytest.raises(IdempotencyKeyReused):
        write(alice, idempotency_key="k1", amount=999)
    assert Check.objects.count() == 1 and balance(alice) == 100000 - 1234


def test_deposit_moves_the_money_once_and_notifies_the_writer(alice, bob):
    check = write(alice)
    code = check_deposit_code(check)
    deposited = check_deposit(bob, number=check.number, code=code.lower()[:4] + "-" + code[4:])
    assert deposited.status == CheckStatus.DEPOSITED and deposited.deposited_by == bob
    assert balance(bob) == 100000 + 1234 and balance(alice) == 100000 - 1234 and held() == 0
    note = Notification.objects.get(recipient=alice, kind="check.deposited")
    assert note.data["number"] == check.number
    with pytest.raises(CheckAlreadyDeposited):
        check_deposit(bob, number=check.number, code=code)
    assert balance(bob) == 100000 + 1234


def test_deposit_in_the_checks_currency(alice, bob, fx_rates):
    fund(alice, "50.00", "EUR")
    check = check_write(alice, payee="Bob", amount=Money(2000, "EUR"))
    check_deposit(bob, number=check.number, code=check_deposit_code(check))
    assert balance(bob, "EUR") == 2000 and balance(alice, "EUR") == 3000


def test_wrong_code_or_number_gives_one_generic_error(alice, bob):
    check = write(alice)
    code = check_deposit_code(check)
    wrong_code = ("A" if code[0] != "A" else "B") + code[1:]
    other_number = str(int(check.number) + 1) if check.number != "9999999999" else "1000000000"
    for number, typed in [(check.number, wrong_code), (other_number, code), ("12", code), (check.number, "??")]:
        with pytest.raises(CheckNoMatch) as caught:
            check_deposit(bob, number=number, code=typed)
        assert caught.value.message == NO_MATCH_MESSAGE
    assert balance(bob) == 100000 and held() == 1234


def test_the_writer_cannot_deposit_their_own_check(alice):
    check = write(alice)
    with pytest.raises(CheckOwn) as caught:
        check_deposit(alice, number=check.number, code=check_deposit_code(check))
    assert "void it instead" in caught.value.message
    assert held() == 1234


def test_a_check_to_a_handle_is_deposited_only_by_that_person(alice, bob, carol):
    check = write(alice, payee="@carol")
    code = check_deposit_code(check)
    with pytest.raises(CheckPayeeOnly) as caught:
        check_deposit(bob, number=check.number, code=code)
    assert "@carol" in caught.value.message
    assert balance(bob) == 100000
    check_deposit(carol, number=check.number, code=code)
    assert balance(carol) == 1234


def test_void_returns_the_money_and_releases_the_limit(alice, bob):
    check = write(alice)
    voided = check_void(alice, check=check.pk)
    assert voided.status == CheckStatus.VOIDED and voided.settled_at is not None
    assert balance(alice) == 100000 and held() == 0
    assert LimitUsage.objects.get(reference=f"check:{check.pk}").released_at is not None
    with pytest.raises(CheckNotOutstanding):
        check_void(alice, check=check)
    with pytest.raises(CheckNotOutstanding):
        check_deposit(bob, number=check.number, code=check_deposit_code(check))
    assert balance(alice) == 100000 and balance(bob) == 100000


def test_only_the_writer_can_void_and_a_deposited_check_cannot_be(alice, bob):
    check = write(alice)
    with pytest.raises(CheckNotFound):
        check_void(bob, check=check.pk)
    with pytest.raises(CheckNotFound):
        check_for_writer(bob, check.pk)
    for bad in ["abc", -1, 2**70, None, True]:
        with pytest.raises(CheckNotFound):
            check_void(alice, check=bad)
    check_deposit(bob, number=check.number, code=check_deposit_code(check))
    with pytest.raises(CheckAlreadyDeposited):
        check_void(alice, check=check)
    assert balance(alice) == 100000 - 1234


def test_stale_checks_go_back_to_the_writer_through_the_task(alice, bob):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        old = write(alice, amount=500)
    with time_machine.travel(start + timedelta(days=100), tick=False):
        young = write(alice, amount=700)
        deposited = write(alice, amount=300)
        check_deposit(bob, number=deposited.number, code=check_deposit_code(deposited))
    with time_machine.travel(start + timedelta(days=181), tick=False):
        code = check_deposit_code(old)
        with pytest.raises(CheckStale):
            check_deposit(bob, number=old.number, code=code)
        assert tasks.return_stale_checks() == 1
        assert tasks.return_stale_checks() == 0  # each once
    old.refresh_from_db()
    young.refresh_from_db()
    assert old.status == CheckStatus.STALE and young.status == CheckStatus.OUTSTANDING
    assert balance(alice) == 100000 - 700 - 300
    assert held() == 700
    assert Notification.objects.filter(recipient=alice, kind="check.stale").count() == 1
    with pytest.raises(CheckStale):
        check_deposit(bob, number=old.number, code=code)
    with time_machine.travel(start + timedelta(days=281), tick=False):
        assert checks_return_stale() == 1
    assert balance(alice) == 100000 - 300


def test_the_stale_sweep_loops_over_batches(alice):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            write(alice, amount=100)
    assert checks_return_stale(now=start + timedelta(days=181), limit=2) == 5
    assert balance(alice) == 100000

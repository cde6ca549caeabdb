"""Round-ups under concurrency on PostgreSQL (real row locks): never money from nowhere, never twice."""

from __future__ import annotations

import pytest

from core.errors import DomainError
from core.money import Money
from core.testing import run_threads, skip_unless_postgres
from ledger.models import Account, Transfer
from ledger.selectors import ledger_verify
from payments.models import Payment, PaymentStatus
from payments.services.send import payment_send
from payments.tests.factories import available, balance, fund, sender_user
from savings.models import SavingsAccount
from savings.roundups import ROUNDUP_KIND
from savings.services import savings_account_open, savings_roundups_set

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres():
    skip_unless_postgres()


def _saver(handle: str, amount: str):
    user = sender_user(handle)
    fund(user, amount)
    savings_account_open(user, currency="USD")
    savings_roundups_set(user, currency="USD", enabled=True)
    return user


def _savings(user) -> int:
    account = SavingsAccount.objects.get(user=user, currency="USD")
    return Account.objects.get(pk=account.ledger_account_id).balance


def test_concurrent_payments_with_round_ups_never_overdraw():
    alice = _saver("alice", "10.00")
    bob = sender_user("bob")

    def worker(index):
        try:
            return payment_send(alice, to=bob, amount=Money(130, "USD"), idempotency_key=f"k{index}").pk
        except DomainError:
            return None

    results, errors = run_threads(8, worker)
    assert not errors, errors
    sent = [pk for pk in results if pk]
    assert Payment.objects.count() == len(sent) > 0
    completed = Payment.objects.filter(status=PaymentStatus.COMPLETED).count()  # others may be held for review
    roundups = Transfer.objects.filter(kind=ROUNDUP_KIND)
    assert all(t.amount == 70 for t in roundups)
    assert _savings(alice) == 70 * roundups.count()
    assert roundups.count() <= completed
    assert balance(alice) >= 0 and balance(alice) + _savings(alice) + balance(bob) == 1000
    assert available(alice) >= 0 and balance(bob) == 130 * completed
    report = ledger_verify()
    assert report.ok, report.problems


def test_one_key_sent_at_once_rounds_up_once():
    alice = _saver("alice", "100.00")
    bob = sender_user("bob")

    def worker(index):
        return payment_send(alice, to=bob, amount=Money(1230, "USD"), idempotency_key="same").pk

    results, errors = run_threads(6, worker)
    assert not errors, errors
    assert len(set(results)) == 1
    assert Transfer.objects.filter(kind=ROUNDUP_KIND).count() == 1
    assert _savings(alice) == 70 and balance(alice) == 10000 - 1300

"""Real concurrency on PostgreSQL: people paying each other from many threads.

SQLite has no row locks (a writer locks the whole file), so these tests need
PostgreSQL; CI always runs them there (DATABASE_URL set by .ci/run).
"""

import pytest

from core.errors import DomainError
from core.money import Money
from core.testing import run_threads, skip_unless_postgres
from ledger.selectors import ledger_verify
from payments.models import Payment
from payments.services.send import payment_send

from .factories import balance, fund, sender_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres():
    skip_unless_postgres()


def test_two_people_paying_each_other_from_many_threads_never_deadlock_or_go_negative():
    alice = sender_user("alice", tier=2)
    bob = sender_user("bob", tier=2)
    fund(alice, "3.00")
    fund(bob, "3.00")
    people = [alice, bob]

    def worker(index):
        me, other = people[index % 2], people[(index + 1) % 2]
        sent = refused = 0
        for _ in range(40):
            try:
                payment_send(me, to=other, amount=Money(7, "USD"), note=f"loop {index}")
                sent += 1
            except DomainError as error:
                assert error.code == "insufficient_funds", error.code
                refused += 1
        return sent, refused

    results, errors = run_threads(6, worker)
    assert not errors, errors
    assert sum(s for s, _ in results) == Payment.objects.count() > 0
    assert balance(alice) >= 0 and balance(bob) >= 0
    assert balance(alice) + balance(bob) == 600
    report = ledger_verify()
    assert report.ok, report.problems


def test_ten_concurrent_requests_with_one_idempotency_key_move_money_once():
    alice = sender_user("alice")
    bob = sender_user("bob")
    fund(alice, "100.00")

    def worker(index):
        return payment_send(alice, to=bob, amount=Money(2500, "USD"), note="rent", idempotency_key="same-key").pk

    results, errors = run_threads(10, worker)
    assert not errors, errors
    assert len(set(results)) == 1
    assert Payment.objects.count() == 1
    assert balance(alice) == 7500 and balance(bob) == 2500
    assert ledger_verify().ok

"""Real concurrency on PostgreSQL: two people deposit the same check at the same moment."""

import pytest

from core.errors import DomainError
from core.money import Money
from core.testing import run_threads, skip_unless_postgres
from ledger.selectors import ledger_verify
from payments.models import Check, CheckStatus
from payments.services.checks import CheckAlreadyDeposited, check_deposit, check_deposit_code, check_void, check_write

from .factories import balance, fund, sender_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres():
    skip_unless_postgres()


def test_double_deposit_race_exactly_one_wins():
    writer = sender_user("writer")
    fund(writer, "100.00")
    people = [sender_user(f"dep{i}") for i in range(4)]
    check = check_write(writer, payee="Cash", amount=Money(2500, "USD"))
    code = check_deposit_code(check)

    def worker(index):
        return check_deposit(people[index], number=check.number, code=code).deposited_by_id

    results, errors = run_threads(4, worker)
    assert len(results) == 1
    assert len(errors) == 3 and all(isinstance(e, CheckAlreadyDeposited) for e in errors)
    assert all(e.message == "This check has already been deposited; it cannot be deposited again." for e in errors)
    winner = results[0]
    check.refresh_from_db()
    assert check.status == CheckStatus.DEPOSITED and check.deposited_by_id == winner
    assert sorted(balance(p) for p in people) == [0, 0, 0, 2500]
    assert balance(writer) == 10000 - 2500
    assert ledger_verify().ok


def test_void_racing_a_deposit_moves_the_money_once():
    writer = sender_user("writer")
    bob = sender_user("bob")
    fund(writer, "100.00")
    for _ in range(5):
        check = check_write(writer, payee="@bob", amount=Money(1000, "USD"))
        code = check_deposit_code(check)

        def worker(index, check=check, code=code):
            if index == 0:
                return check_void(writer, check=check.pk).status
            return check_deposit(bob, number=check.number, code=code).status

        results, errors = run_threads(2, worker)
        assert len(results) == 1 and len(errors) == 1 and isinstance(errors[0], DomainError)
    statuses = list(Check.objects.values_list("status", flat=True))
    deposited = statuses.count(CheckStatus.DEPOSITED)
    assert deposited + statuses.count(CheckStatus.VOIDED) == 5
    assert balance(bob) == 1000 * deposited
    assert balance(writer) == 10000 - 1000 * deposited

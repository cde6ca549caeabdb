"""Money-correctness review of checks: every outcome exactly once, under concurrency too."""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import LimitUsage
from core.errors import DomainError
from core.money import Money
from core.testing import run_threads, skip_unless_postgres
from ledger.models import Transfer
from ledger.selectors import ledger_verify
from payments.models import Check, CheckStatus
from payments.services.checks import (
    CheckStale,
    check_deposit,
    check_deposit_code,
    check_return_stale,
    check_void,
    check_write,
    checks_return_stale,
)

from .factories import balance, fund, sender_user


@pytest.mark.django_db
def test_void_after_the_stale_date_but_before_the_task_returns_the_money_once():
    writer = sender_user("lateone")
    payee = sender_user("latepayee")
    fund(writer, "100.00")
    check = check_write(writer, payee="@latepayee", amount=Money(3000, "USD"))
    Check.objects.filter(pk=check.pk).update(stale_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(CheckStale):
        check_deposit(payee, number=check.number, code=check_deposit_code(check))
    check_void(writer, check=check.pk)
    assert check_return_stale(check.pk) is None
    assert checks_return_stale() == 0
    assert balance(writer) == 10000 and balance(payee) == 0
    assert Transfer.objects.filter(metadata__check=check.pk).count() == 2  # write + one settle
    assert ledger_verify().ok


@pytest.mark.django_db(transaction=True)
def test_two_stale_runs_and_a_void_at_once_return_each_check_once():
    skip_unless_postgres()
    writer = sender_user("stalerace")
    fund(writer, "100.00")
    checks = [check_write(writer, payee="Cash", amount=Money(1000, "USD")) for _ in range(4)]
    Check.objects.update(stale_at=timezone.now() - timedelta(days=1))

    def worker(index):
        if index == 2:
            return check_void(writer, check=checks[0].pk).status
        return checks_return_stale()

    _results, errors = run_threads(3, worker)
    assert all(isinstance(e, DomainError) for e in errors)
    assert balance(writer) == 10000
    for check in checks:
        assert Transfer.objects.filter(metadata__check=check.pk).count() == 2
    assert set(Check.objects.values_list("status", flat=True)) <= {CheckStatus.STALE, CheckStatus.VOIDED}
    assert ledger_verify().ok


@pytest.mark.django_db(transaction=True)
def test_the_same_idempotency_key_racing_writes_one_check_and_reserves_the_limit_once():
    skip_unless_postgres()
    writer = sender_user("samekey")
    fund(writer, "100.00")

    results, errors = run_threads(
        6, lambda i: check_write(writer, payee="Cash", amount=Money(2500, "USD"), idempotency_key="k-1").pk
    )
    assert errors == [] and len(set(results)) == 1
    assert Check.objects.filter(writer=writer).count() == 1
    assert LimitUsage.objects.filter(user=writer).count() == 1
    assert balance(writer) == 10000 - 2500
    assert ledger_verify().ok

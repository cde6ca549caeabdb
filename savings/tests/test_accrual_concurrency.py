"""Two accrual runs and two payout runs at once on PostgreSQL: each (account, day) and (account, month) once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Count

from core.testing import run_threads, skip_unless_postgres
from ledger.models import Transfer
from savings import accrual
from savings.models import InterestAccrual, InterestPayout

from .test_accrual import deposit, open_savings, travel, usd_product

pytestmark = pytest.mark.django_db(transaction=True)


def _users(count: int):
    from accounts.tests.factories import UserFactory

    return [UserFactory(handle=f"race{i}") for i in range(count)]


def test_concurrent_accrual_and_payout_runs_do_everything_once():
    skip_unless_postgres()
    usd_product()
    accounts_count = 130  # more than one payout chunk of 100
    with travel(2026, 4, 28, 8, 0):
        accounts = [open_savings(user) for user in _users(accounts_count)]
        for i, savings in enumerate(accounts):
            deposit(savings, 100000 + i)

    with travel(2026, 5, 1, 1, 0):
        results, errors = run_threads(2, lambda i: accrual.accruals_catch_up().rows)
        assert not errors, errors
        assert sum(results) == accounts_count * 3  # the 28th, 29th and 30th, each day by one of them
        assert InterestAccrual.objects.count() == accounts_count * 3
        assert not InterestAccrual.objects.values("account", "day").annotate(n=Count("id")).filter(n__gt=1).exists()

        results, errors = run_threads(2, lambda i: accrual.payouts_post_month(dt.date(2026, 4, 1)).payouts)
        assert not errors, errors
        assert sum(results) == accounts_count
        assert InterestPayout.objects.count() == accounts_count
        assert Transfer.objects.filter(kind="savings_interest").count() == accounts_count
        # The task both ways at once again: nothing more.
        results, errors = run_threads(2, lambda i: accrual.payouts_post_due().payouts)
        assert not errors, errors
        assert results == [0, 0]
    assert Transfer.objects.filter(kind="savings_interest").count() == accounts_count
    for payout in InterestPayout.objects.select_related("transfer"):
        assert payout.transfer.amount == payout.amount == 36  # 3 × ~12.06

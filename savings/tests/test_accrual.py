"""The accrual engine against hand-computed figures (issue 6, points 3–4).

Figures (4.50% APY → daily rate (1.045)^(1/365) − 1 = 0.000120601478394943155… → 0.00012060147839494316
at 20 places; 5.00% → 0.00013368061711344035):

    100000 minor × 0.00012060147839494316 = 12.0601478394943160…   → 12.060147839494
     75000 minor × 0.00012060147839494316 =  9.045110879620737      →  9.045110879621
    200000 minor × 0.00012060147839494316 = 24.120295678988632      → 24.120295678989
    100000 minor × 0.00013368061711344035 = 13.368061711344035      → 13.368061711344
    100361 minor × 0.00012060147839494316 = 12.1036849731954…       → 12.103684973195
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from ledger.models import Account, AccountKind, Transfer
from ledger.services import account_open, system_account, transfer_post
from payments.tests.factories import sender_user
from savings import accrual
from savings.models import InterestAccrual, InterestPayout, SavingsAccount, SavingsProduct, SavingsRate
from savings.tasks import accrue_interest, pay_interest

UTC = dt.UTC
R45 = Decimal("0.00012060147839494316")
R50 = Decimal("0.00013368061711344035")
A1000 = Decimal("12.060147839494")


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def travel(*args):
    return time_machine.travel(at(*args), tick=False)


def usd_product(apy: str = "0.045", since: dt.date = dt.date(2026, 1, 1)) -> SavingsProduct:
    product, _ = SavingsProduct.objects.get_or_create(currency="USD")
    SavingsRate.objects.get_or_create(product=product, effective_from=since, defaults={"apy": Decimal(apy)})
    return product


def open_savings(user, currency: str = "USD") -> SavingsAccount:
    ledger = account_open(owner=user, kind=AccountKind.SAVINGS, currency=currency)
    return SavingsAccount.objects.create(user=user, currency=currency, ledger_account=ledger)


def deposit(savings: SavingsAccount, amount: int) -> None:
    transfer_post(
        initiator=None,
        debit=system_account(AccountKind.FUNDING, savings.currency),
        credit=savings.ledger_account,
        amount=amount,
        currency=savings.currency,
        kind="test_funding",
    )


def withdraw(savings: SavingsAccount, amount: int) -> None:
    transfer_post(
        initiator=None,
        debit=savings.ledger_account,
        credit=system_account(AccountKind.FUNDING, savings.currency),
        amount=amount,
        currency=savings.currency,
        kind="test_withdrawal",
    )


def accruals(savings: SavingsAccount) -> list[tuple[dt.date, int, Decimal]]:
    return list(savings.accruals.order_by("day").values_list("day", "balance", "amount"))


@pytest.fixture
def saver(db):
    usd_product()
    return sender_user("saver")


def test_daily_rate_is_the_365th_root_rounded_to_20_places():
    assert accrual.daily_rate(Decimal("0.045")) == R45
    assert accrual.daily_rate(Decimal("0.05")) == R50
    assert accrual.daily_rate(Decimal("0")) == Decimal(0)
    assert accrual.accrual_amount(75000, R45) == Decimal("9.045110879621")  # half-up at the 12th place
    assert accrual.accrual_amount(-5, R45) == Decimal(0)


def test_floor_minor_splits_amount_and_carry():
    assert accrual.floor_minor(Decimal("361.804435184820")) == (361, Decimal("0.804435184820"))
    assert accrual.floor_minor(Decimal("0.999999999999")) == (0, Decimal("0.999999999999"))


def test_last_complete_day_waits_for_the_grace_period():
    assert accrual.last_complete_day(at(2026, 3, 11, 0, 5)) == dt.date(2026, 3, 9)
    assert accrual.last_complete_day(at(2026, 3, 11, 0, 10)) == dt.date(2026, 3, 10)


def test_one_day_against_hand_computed_figure(saver):
    with travel(2026, 3, 10, 10, 0):
        savings = open_savings(saver)
        deposit(savings, 100000)
    with travel(2026, 3, 10, 23, 0):
        assert accrual.accruals_catch_up().rows == 0  # the day is not over
    with travel(2026, 3, 11, 1, 0):
        run = accrual.accruals_catch_up()
    assert run.days == [dt.date(2026, 3, 10)] and run.rows == 1
    assert accruals(savings) == [(dt.date(2026, 3, 10), 100000, A1000)]
    row = InterestAccrual.objects.get()
    assert abs(row.daily_rate - R45) < Decimal("1e-18")  # exact on PostgreSQL; SQLite keeps 15 digits
    savings.refresh_from_db()
    assert savings.accrued_through == dt.date(2026, 3, 10)


def test_only_the_end_of_day_balance_counts(saver):
    with travel(2026, 3, 10, 9, 0):
        savings = open_savings(saver)
        deposit(savings, 100000)
    with travel(2026, 3, 10, 15, 0):
        withdraw(savings, 50000)  # mid-day: 500.00 left
    with travel(2026, 3, 10, 23, 59, 59):
        deposit(savings, 25000)  # just before midnight: counts
    with travel(2026, 3, 11, 0, 0, 0):
        deposit(savings, 99999)  # at midnight: the next day's
    with travel(2026, 3, 11, 0, 30):
        withdraw(savings, 1)
    with travel(2026, 3, 11, 2, 0):
        accrual.accruals_catch_up()
    assert accruals(savings) == [(dt.date(2026, 3, 10), 75000, Decimal("9.045110879621"))]


def test_catch_up_after_missed_days_and_runs_twice(saver):
    with travel(2026, 3, 1, 8, 0):
        savings = open_savings(saver)
        deposit(savings, 100000)
    with travel(2026, 3, 3, 12, 0):
        deposit(savings, 100000)
    with travel(2026, 3, 5, 3, 0):
        assert accrue_interest.delay().get() == 4
        assert accrue_interest.delay().get() == 0
    assert accruals(savings) == [
        (dt.date(2026, 3, 1), 100000, A1000),
        (dt.date(2026, 3, 2), 100000, A1000),
        (dt.date(2026, 3, 3), 200000, Decimal("24.120295678989")),
        (dt.date(2026, 3, 4), 200000, Decimal("24.120295678989")),
    ]


def test_catch_up_is_bounded_per_run(saver):
    with travel(2026, 3, 1, 8, 0):
        savings = open_savings(saver)
        deposit(savings, 100000)
    with travel(2026, 3, 11, 3, 0):
        assert len(accrual.accruals_catch_up(max_days=4).days) == 4
        assert accrual.accruals_catch_up().days == [dt.date(2026, 3, d) for d in range(5, 11)]
    assert savings.accruals.count() == 10


def test_rate_change_mid_month_applies_from_its_date(saver):
    product = usd_product()
    with travel(2026, 3, 13, 8, 0):
        savings = open_savings(saver)
        deposit(savings, 100000)
        SavingsRate.objects.create(product=product, apy=Decimal("0.05"), effective_from=dt.date(2026, 3, 15))
    with travel(2026, 3, 17, 1, 0):
        accrual.accruals_catch_up()
    r50 = Decimal("13.368061711344")
    assert [(day, amount) for day, _, amount in accruals(savings)] == [
        (dt.date(2026, 3, 13), A1000),
        (dt.date(2026, 3, 14), A1000),
        (dt.date(2026, 3, 15), r50),
        (dt.date(2026, 3, 16), r50),
    ]


def test_currency_without_a_rate_accrues_nothing_but_moves_on(saver):
    with travel(2026, 3, 1, 8, 0):
        savings = open_savings(saver, "EUR")
        deposit(savings, 100000)
    with travel(2026, 3, 4, 1, 0):
        assert accrual.accruals_catch_up().rows == 0
    savings.refresh_from_db()
    assert savings.accrued_through == dt.date(2026, 3, 3)


def test_leap_year_february_has_29_accruals_and_pays_on_march_1st(saver):
    with travel(2028, 2, 1, 0, 1):
        savings = open_savings(saver)
        deposit(savings, 100000)
    with travel(2028, 3, 1, 1, 0):
        run = pay_interest.delay().get()
    assert run == 1
    assert savings.accruals.count() == 29
    assert savings.accruals.filter(day=dt.date(2028, 2, 29)).exists()
    payout = InterestPayout.objects.get()
    assert payout.month == dt.date(2028, 2, 1)
    assert payout.accrued == Decimal("349.744287345326")  # 29 × 12.060147839494
    assert (payout.amount, payout.carried) == (349, Decimal("0.744287345326"))


def test_payout_carries_the_remainder_into_next_month(saver):
    with travel(2026, 4, 1, 0, 5):
        savings = open_savings(saver)
        deposit(savings, 100000)
    with travel(2026, 5, 1, 1, 0):
        assert pay_interest.delay().get() == 1
        assert pay_interest.delay().get() == 0  # twice: nothing more
    april = InterestPayout.objects.get(month=dt.date(2026, 4, 1))
    assert april.accrued == Decimal("361.804435184820")  # 30 × 12.060147839494
    assert (april.amount, april.carried) == (361, Decimal("0.804435184820"))
    assert april.transfer.amount == 361 and april.transfer.kind == "savings_interest"
    expense = system_account(AccountKind.INTEREST_EXPENSE, "USD")
    assert (april.transfer.debit_account_id, april.transfer.credit_account_id) == (
        expense.pk,
        savings.ledger_account_id,
    )
    savings.ledger_account.refresh_from_db()
    assert savings.ledger_account.balance == 100361
    # May: the paid interest earns from May 1st (posted that day); April's fraction carries in.
    with travel(2026, 6, 1, 1, 0):
        accrual.payouts_post_due()
    assert set(savings.accruals.filter(day__month=5).values_list("amount", flat=True)) == {Decimal("12.103684973195")}
    may = InterestPayout.objects.get(month=dt.date(2026, 5, 1))
    assert may.accrued == Decimal("376.018669353865")  # 31 × 12.103684973195 + 0.804435184820
    assert (may.amount, may.carried) == (376, Decimal("0.018669353865"))
    assert Transfer.objects.filter(kind="savings_interest").count() == 2
    assert Account.objects.get(pk=expense.pk).balance == -(361 + 376)


def test_payout_refuses_a_month_not_over_and_waits_for_the_last_day(saver):
    with travel(2026, 4, 1, 0, 5):
        savings = open_savings(saver)
        deposit(savings, 100000)
    with travel(2026, 4, 30, 12, 0), pytest.raises(accrual.MonthNotOver):
        accrual.payouts_post_month(dt.date(2026, 4, 1))
    with travel(2026, 5, 1, 0, 2):  # April 30th not accrued yet (grace period)
        assert accrual.payouts_post_due().payouts == 0
    with travel(2026, 5, 2, 0, 30):
        accrual.accruals_catch_up(max_days=29)  # April 1st–29th only
        SavingsAccount.objects.filter(pk=savings.pk).update(accrued_through=dt.date(2026, 4, 29))
        assert accrual.payouts_post_month(dt.date(2026, 4, 1)).payouts == 0  # not accrued through the 30th
        assert accrual.payouts_post_due().payouts == 1
    assert InterestPayout.objects.get().amount == 361


def test_zero_interest_gets_a_row_and_no_transfer(saver):
    with travel(2026, 4, 1, 0, 5):
        savings = open_savings(saver)  # never funded
    with travel(2026, 5, 1, 1, 0):
        run = accrual.payouts_post_due()
    assert (run.payouts, run.transfers) == (1, 0)
    payout = InterestPayout.objects.get(account=savings)
    assert (payout.amount, payout.carried, payout.transfer) == (0, Decimal(0), None)


def test_many_accounts_are_paid_in_chunks_of_one_batch_each(db):
    usd_product()
    with travel(2026, 4, 30, 8, 0):
        accounts = []
        for i in range(5):
            savings = open_savings(sender_user(f"chunk{i}"))
            deposit(savings, 100000 * (i + 1))
            accounts.append(savings)
    with travel(2026, 5, 1, 1, 0):
        accrual.accruals_catch_up()
        run = accrual.payouts_post_month(dt.date(2026, 4, 1), chunk_size=2)
    assert (run.payouts, run.transfers) == (5, 5)
    batches = set(Transfer.objects.filter(kind="savings_interest").values_list("batch_id", flat=True))
    assert len(batches) == 3
    # 1 day × n × 12.060147839494 → floor
    amounts = [InterestPayout.objects.get(account=s).amount for s in accounts]
    assert amounts == [12, 24, 36, 48, 60]
    assert run.paid == {"USD": sum(amounts)}

"""savings.services: products and rates, open, move in/out, round-up flag, goals, projection."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from core.errors import IdempotencyKeyReused
from ledger.services import InsufficientFunds
from payments.tests.factories import balance
from savings import selectors, services
from savings.models import SavingsAccount, SavingsProduct, SavingsRate

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_usd_product_is_seeded_on_first_use():
    assert not SavingsProduct.objects.exists()
    product = services.product_get("USD")
    assert product.currency == "USD"
    (rate,) = product.rates.all()
    assert rate.apy == Decimal("0.045") and rate.effective_from == date(2026, 1, 1)
    assert services.product_get("USD") == product  # once
    assert services.product_get("EUR") is None


def test_open_is_idempotent_and_needs_a_product(alice):
    account, created = services.savings_account_open(alice, currency="USD")
    assert created and account.ledger_account.kind == "savings" and account.ledger_account.must_not_go_negative
    assert account.accrued_through == date(2026, 3, 9)  # interest from the opening day
    again, created = services.savings_account_open(alice, currency="usd")
    assert again.pk == account.pk and not created
    with pytest.raises(services.SavingsProductUnavailable):
        services.savings_account_open(alice, currency="EUR")


def test_move_in_and_out_once_per_key(alice):
    services.savings_account_open(alice, currency="USD")
    account = services.savings_move(alice, currency="USD", amount=20000, direction="in", idempotency_key="k1")
    assert selectors.account_balance(account) == 20000
    assert balance(alice) == 80000
    # A replay moves nothing; the same key for another move is refused.
    services.savings_move(alice, currency="USD", amount=20000, direction="in", idempotency_key="k1")
    assert balance(alice) == 80000
    with pytest.raises(IdempotencyKeyReused):
        services.savings_move(alice, currency="USD", amount=100, direction="in", idempotency_key="k1")
    account = services.savings_move(alice, currency="USD", amount=5000, direction="out", idempotency_key="k2")
    assert selectors.account_balance(account) == 15000 and balance(alice) == 85000


def test_move_refuses_more_than_there_is(alice):
    services.savings_account_open(alice, currency="USD")
    with pytest.raises(InsufficientFunds):
        services.savings_move(alice, currency="USD", amount=1, direction="out")
    with pytest.raises(InsufficientFunds):
        services.savings_move(alice, currency="USD", amount=100001, direction="in")
    assert balance(alice) == 100000


@pytest.mark.parametrize("amount", [0, -5, 1.5, True, "10"])
def test_move_refuses_bad_amounts(alice, amount):
    services.savings_account_open(alice, currency="USD")
    with pytest.raises(services.ValidationFailed):
        services.savings_move(alice, currency="USD", amount=amount, direction="in")


def test_move_needs_an_account_and_a_direction(alice):
    with pytest.raises(services.SavingsAccountNotFound):
        services.savings_move(alice, currency="USD", amount=100, direction="in")
    services.savings_account_open(alice, currency="USD")
    with pytest.raises(services.InvalidDirection):
        services.savings_move(alice, currency="USD", amount=100, direction="sideways")


def test_rates_start_today_or_later_and_never_rewrite(admin_user):
    product = services.product_get("USD")
    rate = services.savings_rate_add(product, apy="0.05", effective_from=date(2026, 3, 10), actor=admin_user)
    assert rate.apy == Decimal("0.050000") and rate.created_by == admin_user
    with pytest.raises(services.RateInPast):
        services.savings_rate_add(product, apy="0.05", effective_from=date(2026, 3, 9))
    with pytest.raises(services.RateExists):
        services.savings_rate_add(product, apy="0.06", effective_from=date(2026, 3, 10))
    for bad in ["1", "-0.01", "0.0000001", "abc", "NaN", 0.05]:
        with pytest.raises(services.InvalidRate):
            services.savings_rate_add(product, apy=bad, effective_from=date(2026, 4, 1))
    services.savings_rate_add(product, apy="0.04", effective_from=date(2026, 4, 1))
    assert selectors.current_apy("USD") == Decimal("0.05")
    assert selectors.current_apy("USD", date(2026, 3, 9)) == Decimal("0.045")
    assert selectors.current_apy("USD", date(2026, 4, 1)) == Decimal("0.04")
    assert selectors.upcoming_rate("USD").effective_from == date(2026, 4, 1)
    assert SavingsRate.objects.count() == 3


def test_roundups_flag(alice):
    services.savings_account_open(alice, currency="USD")
    assert services.savings_roundups_set(alice, currency="USD", enabled=True).roundups_enabled
    assert SavingsAccount.objects.get(user=alice).roundups_enabled
    services.savings_roundups_set(alice, currency="USD", enabled=False)
    assert not SavingsAccount.objects.get(user=alice).roundups_enabled


def test_goals_progress_and_reached(alice, bob):
    services.savings_account_open(alice, currency="USD")
    goal = services.savings_goal_create(
        alice, currency="USD", name="  New   bike ", target=30000, target_date=date(2026, 12, 1)
    )
    assert goal.name == "New bike" and goal.achieved_at is None
    services.savings_move(alice, currency="USD", amount=15000, direction="in")
    (progress,) = selectors.goals_with_progress(SavingsAccount.objects.select_related("ledger_account").get())
    assert (progress.saved, progress.percent, progress.remaining) == (15000, 50, 15000)
    services.savings_move(alice, currency="USD", amount=15000, direction="in")
    goal.refresh_from_db()
    assert goal.achieved_at is not None
    updated = services.savings_goal_update(alice, goal.pk, name="Bike", target_date=None)
    assert updated.name == "Bike" and updated.target_date is None
    with pytest.raises(services.GoalNotFound):
        services.savings_goal_get(bob, goal.pk)
    with pytest.raises(services.InvalidGoal):
        services.savings_goal_create(alice, currency="USD", name="", target=100)
    with pytest.raises(services.InvalidGoal):
        services.savings_goal_create(alice, currency="USD", name="x", target=0)
    with pytest.raises(services.InvalidGoal):
        services.savings_goal_create(alice, currency="USD", name="x", target=100, target_date=date(2026, 1, 1))
    services.savings_goal_delete(alice, goal.pk)
    assert not alice.savings_goals.exists()


def test_projection_hand_computed():
    # No deposits: 1000.00 for 12 months at 4.5% APY is exactly 1045.00 (floored).
    p = services.projection_compute(amount=100000, monthly_deposit=0, months=12, apy=Decimal("0.045"), currency="USD")
    assert p.balance == 104500 and p.interest == 4500
    # 0% APY: just the deposits.
    p = services.projection_compute(amount=100, monthly_deposit=1000, months=6, apy=Decimal(0), currency="USD")
    assert p.balance == 6100 and p.interest == 0
    # One month of 100.00 deposited at the end: no interest on it yet; 1000.00 earns (1.045^(1/12) − 1).
    p = services.projection_compute(
        amount=100000, monthly_deposit=10000, months=1, apy=Decimal("0.045"), currency="USD"
    )
    assert p.balance == 100000 + 367 + 10000  # 1000.00 × 0.0036748… = 3.67 floored
    with pytest.raises(services.ValidationFailed):
        services.projection_compute(amount=1, monthly_deposit=0, months=0, apy=Decimal("0.045"), currency="USD")


def test_summary_and_annual_figures(alice):
    from savings.models import InterestAccrual, InterestPayout

    account, _ = services.savings_account_open(alice, currency="USD")
    services.savings_move(alice, currency="USD", amount=10000, direction="in")
    for day, bal, amount in [
        (date(2026, 2, 27), 10000, "1.2"),
        (date(2026, 2, 28), 20000, "2.4"),
        (date(2026, 3, 1), 10000, "1.25"),
    ]:
        InterestAccrual.objects.create(
            account=account, day=day, balance=bal, daily_rate=Decimal("0.0001"), amount=Decimal(amount)
        )
    InterestPayout.objects.create(
        account=account, month=date(2026, 2, 1), accrued=Decimal("3.6"), amount=3, carried=Decimal("0.6")
    )
    account = SavingsAccount.objects.select_related("ledger_account").get()
    summary = selectors.savings_summary(account)
    assert summary.balance == 10000 and summary.apy == Decimal("0.045")
    assert summary.accrued_this_month == Decimal("1.25") and summary.accrued_this_month_minor == 1
    assert summary.earned_this_year == Decimal("4.85") and summary.paid_this_year == 3
    assert [b.label for b in summary.chart][-2:] == ["Feb", "Mar"]
    assert summary.chart[-2].height > summary.chart[-1].height > 0
    annual = selectors.annual_summary(account, 2026)
    feb = annual.rows[1]
    assert (feb.paid, feb.average_balance, feb.days) == (3, 15000, 2)
    assert annual.rows[2].paid is None and annual.total_paid == 3

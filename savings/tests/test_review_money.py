"""Review of the savings money paths: hostile input, other people's ids, overdrawing, accrual + payout."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from rest_framework.test import APIClient

from core.testing import run_threads, skip_unless_postgres
from ledger.models import AccountKind
from ledger.services import InsufficientFunds, system_account
from payments.tests.factories import balance, fund, sender_user
from savings import accrual, selectors, services
from savings.models import InterestPayout, SavingsGoal

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
MOVE = "/api/v1/savings/accounts/USD/move/"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def api(alice, frozen):
    services.savings_account_open(alice, currency="USD")
    client = APIClient()
    client.force_authenticate(alice)
    return client


def savings_balance(user, currency="USD") -> int:
    return selectors.account_balance(services.savings_account_get(user, currency=currency))


@pytest.mark.parametrize(
    "amount",
    ["-1", "0", "0.00", "1e309", "1e2", "NaN", "inf", "-0.01", "9" * 39, "1.001", "１", "", " ", "0x10", 100, None, []],
)
@pytest.mark.parametrize("direction", ["in", "out"])
def test_api_move_refuses_hostile_amounts(api, alice, amount, direction):
    response = api.post(
        MOVE, {"direction": direction, "amount": amount}, format="json", HTTP_IDEMPOTENCY_KEY=f"{direction}{amount!r}"
    )
    assert 400 <= response.status_code < 500, response.content
    assert balance(alice) == 1000_00 and savings_balance(alice) == 0


def test_api_move_comma_amount_wrong_currency_and_bodies(api, alice):
    ok = api.post(MOVE, {"direction": "in", "amount": "1,000"}, format="json", HTTP_IDEMPOTENCY_KEY="c1")
    assert ok.status_code == 200 and balance(alice) == 0 and savings_balance(alice) == 1000_00
    for url in (
        "/api/v1/savings/accounts/EUR/move/",
        "/api/v1/savings/accounts/XXX/move/",
        "/api/v1/savings/accounts/%00/move/",
    ):
        response = api.post(url, {"direction": "out", "amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="c2")
        assert 400 <= response.status_code < 500, (url, response.content)
    for body in (
        ["in", "1.00"],
        "in",
        {"direction": ["in"], "amount": "1.00"},
        {"direction": "in", "amount": {"a": 1}},
    ):
        response = api.post(MOVE, body, format="json", HTTP_IDEMPOTENCY_KEY=f"c3{body!r}")
        assert 400 <= response.status_code < 500, (body, response.content)
    # More out than there is: refused, nothing moves.
    response = api.post(MOVE, {"direction": "out", "amount": "1000.01"}, format="json", HTTP_IDEMPOTENCY_KEY="c4")
    assert response.status_code == 422
    assert balance(alice) == 0 and savings_balance(alice) == 1000_00


def test_someone_elses_goals_and_savings_are_out_of_reach(api, alice, bob):
    services.savings_account_open(bob, currency="USD")
    services.savings_move(bob, currency="USD", amount=500_00, direction="in", idempotency_key="b1")
    goal = services.savings_goal_create(bob, currency="USD", name="Bike", target=100_00)
    for pk in (goal.pk, 10**25):
        assert api.get(f"/api/v1/savings/goals/{pk}/").status_code == 404
        assert api.patch(f"/api/v1/savings/goals/{pk}/", {"name": "mine"}, format="json").status_code == 404
        assert api.delete(f"/api/v1/savings/goals/{pk}/").status_code == 404
    assert SavingsGoal.objects.get(pk=goal.pk).name == "Bike"
    # alice can only move out of her own (empty) savings: bob's money stays put.
    response = api.post(MOVE, {"direction": "out", "amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="o1")
    assert response.status_code == 422
    assert savings_balance(bob) == 500_00 and balance(alice) == 1000_00
    with pytest.raises(InsufficientFunds):
        services.savings_move(alice, currency="USD", amount=1, direction="out", idempotency_key="o2")


@pytest.mark.parametrize(
    "query",
    [
        "months=0",
        "months=601",
        "months=1e3",
        "months=-1",
        "months=12&amount=1e309",
        "months=12&amount=NaN",
        "months=12&monthly=-1",
        "months=12&amount=" + "9" * 40,
        "months=12&currency=XXX",
        "months=12&currency=EUR",
    ],
)
def test_projection_hostile_input_is_4xx(api, query):
    response = api.get(f"/api/v1/savings/projection/?{query}")
    assert 400 <= response.status_code < 500, response.content


def test_projection_of_the_largest_amounts_does_not_crash(api):
    big = "9" * 13  # the largest amount Money.parse accepts, roughly
    response = api.get(f"/api/v1/savings/projection/?months=600&amount={big}&monthly={big}")
    assert response.status_code in (200, 400, 422), response.content


def test_html_move_refuses_hostile_amounts_and_moves_once(client, alice, frozen):
    services.savings_account_open(alice, currency="USD")
    client.force_login(alice)
    for amount in ("-1", "0", "1e309", "NaN", "9" * 31):
        data = {"direction": "in", "amount": amount, "currency": "USD", "idempotency_key": f"h{amount}"}
        assert 400 <= client.post("/savings/move/submit/", data).status_code < 500
    data = {"direction": "in", "amount": "10.00", "currency": "USD", "idempotency_key": "same"}
    client.post("/savings/move/submit/", data)
    client.post("/savings/move/submit/", data)
    assert savings_balance(alice) == 10_00 and balance(alice) == 990_00


def test_accrual_and_payout_keep_the_ledger_and_pay_once(alice):
    """A month of accruals, payout twice (idempotent): interest expense → savings, floored, carried."""
    with time_machine.travel(datetime(2026, 3, 1, 8, tzinfo=UTC), tick=False):
        services.savings_account_open(alice, currency="USD")
        services.savings_move(alice, currency="USD", amount=1000_00, direction="in", idempotency_key="i")
    with time_machine.travel(datetime(2026, 3, 15, 8, tzinfo=UTC), tick=False):
        services.savings_move(alice, currency="USD", amount=333_33, direction="out", idempotency_key="o")
    now = datetime(2026, 4, 1, 1, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        first = accrual.payouts_post_due(now=now)
        again = accrual.payouts_post_due(now=now)
    (payout,) = InterestPayout.objects.all()
    assert first.transfers == 1 and again.transfers == 0 and payout.month == date(2026, 3, 1)
    assert payout.amount == int(payout.accrued) and 0 <= payout.carried < 1
    # 14 days on 1000.00 and 17 on 666.67 at 4.5% APY: ≈ 1.69 + 1.37 = 3.06
    assert 300 <= payout.amount <= 310
    expense = system_account(AccountKind.INTEREST_EXPENSE, "USD")
    expense.refresh_from_db()
    assert expense.balance == -payout.amount
    assert savings_balance(alice) == 1000_00 - 333_33 + payout.amount


@pytest.mark.django_db(transaction=True)
def test_two_tabs_move_out_at_once_never_overdraw():
    skip_unless_postgres()
    user = sender_user("saver2")
    fund(user, "100.00")
    services.savings_account_open(user, currency="USD")
    services.savings_move(user, currency="USD", amount=100_00, direction="in", idempotency_key="in")

    def run(index):
        from django.db import connection

        try:
            return services.savings_move(
                user, currency="USD", amount=60_00, direction="out", idempotency_key=f"out{index}"
            ).pk
        finally:
            connection.close()

    results, errors = run_threads(2, run)
    assert len(results) == 1 and len(errors) == 1 and isinstance(errors[0], InsufficientFunds)
    assert savings_balance(user) == 40_00 and balance(user) == 60_00


def test_html_pages_with_hostile_ids_are_not_500(client, alice, bob, frozen):
    services.savings_account_open(bob, currency="USD")
    goal = services.savings_goal_create(bob, currency="USD", name="Bike", target=100_00)
    client.force_login(alice)
    for year in (0, 1, 9999, 10000, 10**25):
        assert client.get(f"/savings/interest/{year}/").status_code < 500
    for pk in (goal.pk, 10**25):
        assert client.post(f"/savings/goals/{pk}/delete/").status_code < 500
    assert SavingsGoal.objects.filter(pk=goal.pk).exists()
    for currency in ("XXX", "", "usd", "EUR"):
        assert client.get(f"/savings/?currency={currency}&months=12&amount=1e309").status_code < 500
        assert client.post("/savings/open/", {"currency": currency}).status_code < 500

"""Savings pages: open, move in/out with a confirm step (once per key), goals, round-ups, projection, annual."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from payments.tests.factories import balance
from savings import services
from savings.models import InterestAccrual, InterestPayout, SavingsAccount, SavingsGoal

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_anonymous_is_sent_to_log_in(client):
    assert client.get("/savings/").status_code == 302


def test_empty_state_offers_to_open_with_the_apy(signed_in):
    page = signed_in.get("/savings/").content.decode()
    assert "Open USD savings" in page and "4.50% APY" in page


def test_open_move_in_confirm_and_submit_once(signed_in, alice):
    response = signed_in.post("/savings/open/", {"currency": "USD"})
    assert response.status_code == 302
    confirm = signed_in.post(
        "/savings/move/confirm/", {"direction": "in", "amount": "200.00", "currency": "USD", "idempotency_key": "abc"}
    )
    assert confirm.status_code == 200 and "Check before you move" in confirm.content.decode()
    assert balance(alice) == 100000  # nothing moved yet
    form = {"direction": "in", "amount": "200.00", "currency": "USD", "idempotency_key": "abc"}
    assert signed_in.post("/savings/move/submit/", form).status_code == 302
    assert signed_in.post("/savings/move/submit/", form).status_code == 302  # double submit
    assert balance(alice) == 80000
    page = signed_in.get("/savings/").content.decode()
    assert "$200.00" in page and "4.50%" in page


def test_move_refuses_bad_input_without_moving(signed_in, alice):
    services.savings_account_open(alice, currency="USD")
    for amount, status in [("abc", 400), ("-5", 400), ("5000.00", 422)]:
        response = signed_in.post(
            "/savings/move/confirm/", {"direction": "in", "amount": amount, "currency": "USD", "idempotency_key": "x"}
        )
        assert response.status_code == status
    response = signed_in.post(
        "/savings/move/submit/", {"direction": "out", "amount": "1.00", "currency": "USD", "idempotency_key": "y"}
    )
    assert response.status_code == 422
    assert balance(alice) == 100000


def test_goal_roundups_and_projection(signed_in, alice):
    services.savings_account_open(alice, currency="USD")
    response = signed_in.post("/savings/goals/", {"currency": "USD", "name": "Trip", "target": "500.00"})
    assert response.status_code == 302
    assert SavingsGoal.objects.get().target == 50000
    assert signed_in.post("/savings/goals/", {"currency": "USD", "name": "", "target": "x"}).status_code == 400
    signed_in.post("/savings/roundups/", {"currency": "USD", "enabled": "1"})
    assert SavingsAccount.objects.get().roundups_enabled
    page = signed_in.get("/savings/?currency=USD&amount=1000.00&monthly=0&months=12").content.decode()
    assert "$1,045.00" in page
    assert signed_in.get("/savings/?months=abc").status_code == 200
    goal = SavingsGoal.objects.get()
    assert signed_in.post(f"/savings/goals/{goal.pk}/delete/").status_code == 302
    assert not SavingsGoal.objects.exists()


def test_other_peoples_goals_are_404(client, alice, bob):
    services.savings_account_open(alice, currency="USD")
    goal = services.savings_goal_create(alice, currency="USD", name="Mine", target=100)
    client.force_login(bob)
    assert client.post(f"/savings/goals/{goal.pk}/delete/").status_code == 404


def test_page_and_annual_summary_queries_are_bounded(signed_in, alice, django_assert_max_num_queries):
    account, _ = services.savings_account_open(alice, currency="USD")
    services.savings_move(alice, currency="USD", amount=10000, direction="in")
    for i in range(1, 29):
        InterestAccrual.objects.create(
            account=account, day=date(2026, 2, i), balance=10000, daily_rate=Decimal("0.0001"), amount=Decimal("1.2")
        )
    InterestPayout.objects.create(
        account=account, month=date(2026, 2, 1), accrued=Decimal("33.6"), amount=33, carried=Decimal("0.6")
    )
    for i in range(5):
        services.savings_goal_create(alice, currency="USD", name=f"g{i}", target=1000 * (i + 1))
    with django_assert_max_num_queries(16):
        page = signed_in.get("/savings/")
    assert page.status_code == 200 and "savings-chart" in page.content.decode()
    with django_assert_max_num_queries(10):
        annual = signed_in.get("/savings/interest/2026/")
    text = annual.content.decode()
    assert "February" in text and "$0.33" in text and "$100.00" in text
    assert signed_in.get("/savings/interest/1999/").status_code == 404

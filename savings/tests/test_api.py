"""/api/v1/savings/...: accounts, move (idempotent), rates, goals, accruals/payouts, projection; admin."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from compliance.models import AuditEntry
from payments.tests.factories import balance
from savings import services
from savings.models import InterestAccrual, SavingsRate

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


def test_open_move_and_read(api, alice):
    assert api.get("/api/v1/savings/accounts/").json() == []
    created = api.post("/api/v1/savings/accounts/", {"currency": "USD"}, format="json")
    assert created.status_code == 201 and created.json()["apy"] == "0.045000"
    assert api.post("/api/v1/savings/accounts/", {"currency": "USD"}, format="json").status_code == 200
    assert api.post("/api/v1/savings/accounts/", {"currency": "EUR"}, format="json").status_code == 422
    url = "/api/v1/savings/accounts/USD/move/"
    body = {"direction": "in", "amount": "200.00"}
    assert api.post(url, body, format="json").status_code == 400  # no Idempotency-Key
    first = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="m1")
    assert first.status_code == 200 and first.json()["balance"] == "200.00"
    again = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="m1")
    assert again.json()["balance"] == "200.00"
    other = api.post(url, {"direction": "in", "amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="m1")
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert balance(alice) == 80000
    for bad in [{"direction": "in", "amount": 5.5}, {"direction": "up", "amount": "1"}, {"amount": "1"}]:
        assert (
            api.post(url, bad, format="json", HTTP_IDEMPOTENCY_KEY=f"b{len(bad)}{bad.get('direction')}").status_code
            == 400
        )
    short = api.post(url, {"direction": "out", "amount": "500.00"}, format="json", HTTP_IDEMPOTENCY_KEY="m2")
    assert short.status_code == 422 and short.json()["error"]["code"] == "insufficient_funds"
    assert api.get("/api/v1/savings/accounts/EUR/").status_code == 404
    assert api.get("/api/v1/savings/accounts/XXX/").status_code == 400
    patched = api.patch("/api/v1/savings/accounts/USD/", {"roundups_enabled": True}, format="json")
    assert patched.json()["roundups_enabled"] is True
    assert api.patch("/api/v1/savings/accounts/USD/", {"roundups_enabled": "yes"}, format="json").status_code == 400


def test_rates_goals_and_projection(api, alice, bob):
    rates = api.get("/api/v1/savings/rates/?currency=USD").json()
    assert rates == [{"currency": "USD", "apy": "0.045000", "effective_from": "2026-01-01"}]
    assert (
        api.post(
            "/api/v1/savings/goals/", {"currency": "USD", "name": "Trip", "target": "10.00"}, format="json"
        ).status_code
        == 404
    )
    services.savings_account_open(alice, currency="USD")
    goal = api.post("/api/v1/savings/goals/", {"currency": "USD", "name": "Trip", "target": "10.00"}, format="json")
    assert goal.status_code == 201 and goal.json()["percent"] == 0
    pk = goal.json()["id"]
    assert api.patch(f"/api/v1/savings/goals/{pk}/", {"target": "20.00"}, format="json").json()["target"] == "20.00"
    assert api.get("/api/v1/savings/goals/").json()[0]["id"] == pk
    bob_client = APIClient()
    bob_client.force_authenticate(bob)
    assert bob_client.get(f"/api/v1/savings/goals/{pk}/").status_code == 404
    assert api.delete(f"/api/v1/savings/goals/{pk}/").status_code == 204
    p = api.get("/api/v1/savings/projection/?amount=1000.00&months=12").json()
    assert p["balance"] == "1045.00" and p["interest"] == "45.00"
    assert api.get("/api/v1/savings/projection/?months=0").status_code == 400
    assert api.get("/api/v1/savings/projection/?months=x").status_code == 400


def test_accruals_and_payouts_lists(api, alice, django_assert_max_num_queries):
    account, _ = services.savings_account_open(alice, currency="USD")
    for i in range(1, 11):
        InterestAccrual.objects.create(
            account=account, day=date(2026, 2, i), balance=10000, daily_rate=Decimal("0.0001"), amount=Decimal("1.2")
        )
    with django_assert_max_num_queries(6):
        page = api.get("/api/v1/savings/accounts/USD/accruals/").json()
    assert len(page["results"]) == 10 and page["results"][0]["day"] == "2026-02-10"
    assert page["results"][0]["balance"] == "100.00"
    assert api.get("/api/v1/savings/accounts/USD/payouts/").json()["results"] == []


def test_admin_adds_a_rate_audited_and_refuses_the_past(admin_client):
    product = services.product_get("USD")
    url = "/admin/savings/savingsrate/add/"
    past = admin_client.post(url, {"product": product.pk, "apy": "0.05", "effective_from": "2026-03-01"})
    assert past.status_code == 200 and SavingsRate.objects.count() == 1
    ok = admin_client.post(url, {"product": product.pk, "apy": "0.05", "effective_from": "2026-04-01"})
    assert ok.status_code == 302
    assert SavingsRate.objects.filter(effective_from=date(2026, 4, 1), apy=Decimal("0.05")).exists()
    assert AuditEntry.objects.filter(action="savings.rate_add").count() == 1
    for page in [
        "/admin/savings/savingsproduct/",
        f"/admin/savings/savingsproduct/{product.pk}/change/",
        "/admin/savings/savingsaccount/",
        "/admin/savings/interestaccrual/",
        "/admin/savings/interestpayout/",
        "/admin/savings/savingsrate/",
    ]:
        assert admin_client.get(page).status_code == 200, page

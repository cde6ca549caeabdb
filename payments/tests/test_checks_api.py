"""The checks API: list, write (Idempotency-Key), detail, void, deposit; errors never 500."""

import json
import uuid

import pytest
from rest_framework.test import APIClient

from core.money import Money
from payments.models import Check, CheckStatus
from payments.services.checks import check_deposit_code, check_write

from .factories import balance

pytestmark = pytest.mark.django_db

CHECKS = "/api/v1/checks/"


@pytest.fixture
def api():
    return APIClient()


def as_user(api, user):
    api.force_authenticate(user)
    return api


def post(api, url, body, key="auto"):
    headers = {}
    if key == "auto":
        key = uuid.uuid4().hex
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return api.post(url, raw, content_type="application/json", **headers)


def code_of(response):
    return response.json()["error"]["code"]


def test_anonymous_is_refused(api):
    assert api.get(CHECKS).status_code in (401, 403)
    assert post(api, CHECKS, {"payee": "x", "amount": "1.00"}).status_code in (401, 403)


def test_write_needs_a_key_and_replays_it(api, alice):
    as_user(api, alice)
    body = {"payee": "Acme", "amount": "123.45", "memo": "Roof"}
    assert code_of(post(api, CHECKS, body, key=None)) == "idempotency_key_missing"
    first = post(api, CHECKS, body, key="w1")
    assert first.status_code == 201
    data = first.json()
    assert data["amount"] == "123.45" and data["currency"] == "USD" and data["status"] == "outstanding"
    assert data["amount_in_words"] == "One hundred twenty-three and 45/100"
    assert len(data["deposit_code"]) == 14 and data["deposit_url"].endswith(data["deposit_code"].replace("-", ""))
    replay = post(api, CHECKS, body, key="w1")
    assert replay.status_code == 201 and replay.json()["id"] == data["id"]
    other = post(api, CHECKS, {**body, "amount": "1.00"}, key="w1")
    assert other.status_code == 422 and code_of(other) == "idempotency_key_reused"
    assert Check.objects.count() == 1 and balance(alice) == 100000 - 12345


@pytest.mark.parametrize(
    "body",
    [
        {"payee": "A", "amount": True},
        {"payee": "A", "amount": "-1"},
        {"payee": "A", "amount": "1.001"},
        {"payee": "A", "amount": "1", "currency": "XXX"},
        {"payee": 5, "amount": "1"},
        {"amount": "1"},
        {"payee": "A\x00", "amount": "1"},
        {"payee": "@nobody", "amount": "1"},
        {"payee": "A", "amount": "1", "memo": ["x"]},
        [1, 2],
        "not json",
    ],
)
def test_bad_input_is_400_and_moves_nothing(api, alice, body):
    response = post(as_user(api, alice), CHECKS, body)
    assert response.status_code == 400, response.content
    assert balance(alice) == 100000 and not Check.objects.exists()


def test_list_detail_void_and_foreign_ids(api, alice, bob):
    check = check_write(alice, payee="Acme", amount=Money(500, "USD"))
    other = check_write(bob, payee="Zed", amount=Money(700, "USD"))
    as_user(api, alice)
    listed = api.get(CHECKS).json()["results"]
    assert [c["id"] for c in listed] == [check.pk]
    detail = api.get(f"{CHECKS}{check.pk}/").json()
    assert detail["deposit_code"].replace("-", "") == check_deposit_code(check)
    assert api.get(f"{CHECKS}{other.pk}/").status_code == 404
    assert post(api, f"{CHECKS}{other.pk}/void/", None, key=None).status_code == 404
    voided = post(api, f"{CHECKS}{check.pk}/void/", None, key=None)
    assert voided.status_code == 200 and voided.json()["status"] == "voided"
    again = post(api, f"{CHECKS}{check.pk}/void/", None, key=None)
    assert again.status_code == 409 and code_of(again) == "check_not_outstanding"
    assert balance(alice) == 100000 and balance(bob) == 100000 - 700


def test_deposit_and_its_refusals(api, alice, bob, carol):
    check = check_write(alice, payee="@carol", amount=Money(900, "USD"))
    code = check_deposit_code(check)
    as_user(api, bob)
    wrong = post(api, CHECKS + "deposit/", {"number": check.number, "code": "AAAAAAAAAAAA"}, key=None)
    assert wrong.status_code == 404 and code_of(wrong) == "check_no_match"
    assert wrong.json()["error"]["message"] == "No outstanding check matches that number and code."
    not_payee = post(api, CHECKS + "deposit/", {"number": check.number, "code": code}, key=None)
    assert not_payee.status_code == 403 and code_of(not_payee) == "check_payee_only"
    assert post(api, CHECKS + "deposit/", {"number": 5, "code": code}, key=None).status_code == 400
    as_user(api, alice)
    own = post(api, CHECKS + "deposit/", {"number": check.number, "code": code}, key=None)
    assert own.status_code == 422 and code_of(own) == "check_own"
    as_user(api, carol)
    ok = post(api, CHECKS + "deposit/", {"number": check.number, "code": code.lower()}, key=None)
    assert ok.status_code == 200 and ok.json()["status"] == CheckStatus.DEPOSITED
    assert ok.json()["direction"] == "deposited" and ok.json()["url"] is None and "deposit_code" not in ok.json()
    twice = post(api, CHECKS + "deposit/", {"number": check.number, "code": code}, key=None)
    assert twice.status_code == 409 and code_of(twice) == "check_already_deposited"
    assert balance(carol) == 900
    assert [c["id"] for c in api.get(CHECKS).json()["results"]] == [check.pk]
    assert "deposit_code" not in api.get(f"{CHECKS}{check.pk}/").json()


def test_schema_documents_the_routes(client):
    text = client.get("/api/schema/").content.decode()
    for route in ("/api/v1/checks/", "/api/v1/checks/{id}/", "/api/v1/checks/{id}/void/", "/api/v1/checks/deposit/"):
        assert route in text, route

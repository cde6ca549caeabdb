"""The wallet's API contract: /api/v1/wallet/, payments (list, send, detail, return, cancel),
FX quotes, people, idempotency, strict input types and the OpenAPI schema."""

from __future__ import annotations

import base64
import json
import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from core.money import Money
from payments.models import Payment, PaymentKind, PaymentStatus, SafetyDelay
from payments.services.send import payment_send, wallet_settings_update

from .factories import balance, fund, sender_user

pytestmark = pytest.mark.django_db

PAYMENTS = "/api/v1/payments/"


@pytest.fixture
def api():
    return APIClient()


def as_user(api: APIClient, user) -> APIClient:
    api.force_authenticate(user)
    return api


def send(api, body, key: str | None = "auto", **extra):
    headers = {}
    if key == "auto":
        key = uuid.uuid4().hex
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return api.post(PAYMENTS, raw, content_type="application/json", **headers, **extra)


def error_code(response) -> str:
    return response.json()["error"]["code"]


# --- Wallet ------------------------------------------------------------------------------------


def test_wallet_balances_and_setting(api, alice, bob):
    fund(alice, "12.5", "EUR")
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.ONE_HOUR)
    payment_send(alice, to="@bob", amount=Money.parse("20.00", "USD"))  # held an hour
    body = as_user(api, alice).get("/api/v1/wallet/").json()
    assert body["home_currency"] == "USD" and body["safety_delay_seconds"] == 3600
    usd, eur = body["balances"]
    assert usd == {
        "currency": "USD",
        "balance": "1000.00",
        "available": "980.00",
        "pending_in": "0.00",
        "pending_out": "20.00",
    }
    assert eur["currency"] == "EUR" and eur["balance"] == "12.50"
    bob_usd = as_user(APIClient(), bob).get("/api/v1/wallet/").json()["balances"][0]
    assert bob_usd["pending_in"] == "20.00"


def test_anonymous_gets_403_not_authenticated(api):
    for response in (api.get("/api/v1/wallet/"), api.get(PAYMENTS), send(api, {"to": "@bob", "amount": "1"})):
        assert response.status_code == 403 and error_code(response) == "not_authenticated"


# --- Sending --------------------------------------------------------------------------------------


def test_send_answers_201_with_the_payment(api, alice, bob):
    response = send(as_user(api, alice), {"to": "@bob", "amount": "12.34", "currency": "USD", "note": "tacos 🌮"})
    assert response.status_code == 201, response.json()
    body = response.json()
    payment = Payment.objects.get()
    assert body["id"] == payment.pk
    assert body["status"] == "completed" and body["kind"] == "payment" and body["direction"] == "sent"
    assert body["amount"] == "12.34" and body["currency"] == "USD"
    assert body["received_amount"] == "12.34" and body["received_currency"] == "USD" and body["fx_rate"] is None
    assert body["to"] == "@bob" and body["from"] == "@alice" and body["note"] == "tacos 🌮"
    assert body["created"] and body["url"] == f"/wallet/payments/{payment.pk}/"
    assert balance(alice) == 100000 - 1234 and balance(bob) == 100000 + 1234


def test_send_replay_returns_the_same_payment_and_moves_nothing(api, alice, bob):
    as_user(api, alice)
    key = uuid.uuid4().hex
    body = {"to": "@bob", "amount": "5.00", "currency": "USD", "note": "once"}
    first = send(api, body, key)
    second = send(api, body, key)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1 and balance(alice) == 99500 and balance(bob) == 100500


def test_send_same_key_other_body_is_422(api, alice, bob):
    as_user(api, alice)
    key = uuid.uuid4().hex
    assert send(api, {"to": "@bob", "amount": "5.00"}, key).status_code == 201
    response = send(api, {"to": "@bob", "amount": "6.00"}, key)
    assert response.status_code == 422 and error_code(response) == "idempotency_key_reused"
    assert Payment.objects.count() == 1 and balance(alice) == 99500


def test_send_without_a_key_is_400(api, alice, bob):
    response = send(as_user(api, alice), {"to": "@bob", "amount": "5.00"}, key=None)
    assert response.status_code == 400 and error_code(response) == "idempotency_key_missing"
    assert Payment.objects.count() == 0


def test_a_failed_send_does_not_use_up_its_key(api, carol, bob):
    as_user(api, carol)
    key = uuid.uuid4().hex
    refused = send(api, {"to": "@bob", "amount": "5.00"}, key)
    assert refused.status_code == 422 and error_code(refused) == "insufficient_funds"
    fund(carol, "10.00")
    assert send(api, {"to": "@bob", "amount": "5.00"}, key).status_code == 201


def test_a_service_level_key_reuse_is_422_too(api, alice, bob):
    """The key given to payment_send: another request under it is refused even without the HTTP record."""
    key = uuid.uuid4().hex
    payment_send(alice, to="@bob", amount=Money.parse("1.00", "USD"), idempotency_key=key)
    response = send(as_user(api, alice), {"to": "@bob", "amount": "2.00"}, key)
    assert response.status_code == 422 and error_code(response) == "idempotency_key_reused"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "@bob", "amount": True}, "amount"),
        ({"to": "@bob", "amount": ["5"]}, "amount"),
        ({"to": "@bob", "amount": {"value": "5"}}, "amount"),
        ({"to": "@bob"}, "amount"),
        ({"to": "@bob", "amount": None}, "amount"),
        ({"to": 42, "amount": "5"}, "to"),
        ({"to": ["@bob"], "amount": "5"}, "to"),
        ({"amount": "5"}, "to"),
        ({"to": "@bob", "amount": "5", "currency": "XXX"}, "currency"),
        ({"to": "@bob", "amount": "5", "currency": 840}, "currency"),
        ({"to": "@bob", "amount": "5", "currency": None}, "currency"),
        ({"to": "@bob", "amount": "5", "note": 7}, "note"),
        ({"to": "@bob", "amount": "5", "note": "x" * 281}, "note"),
    ],
)
def test_send_checks_types_strictly(api, alice, bob, body, field):
    response = send(as_user(api, alice), body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert Payment.objects.count() == 0


@pytest.mark.parametrize("amount", ["1e5", "-1", "0", "1.234", "abc", "", " ", "Infinity", "0x10", "1_000"])
def test_send_refuses_bad_amount_text(api, alice, bob, amount):
    response = send(as_user(api, alice), {"to": "@bob", "amount": amount})
    assert response.status_code == 400 and "amount" in response.json()["error"]["fields"]
    assert Payment.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ('{"to": "@bob", "amount": 1e5}', 400),
        ('{"to": "@bob", "amount": 5.001}', 400),
        ('{"to": "@bob", "amount": -5}', 400),
        ('{"to": "@bob", "amount": 0}', 400),
        ('{"to": "@bob", "amount": 100000000000000000000000}', 400),
        ('{"to": "@bob", "amount": NaN}', 400),
        ('{"to": "@bob", "amount": 5.5}', 201),
        ('{"to": "@bob", "amount": 5}', 201),
    ],
)
def test_send_json_numbers_are_exact(api, alice, bob, raw, status):
    response = send(as_user(api, alice), raw)
    assert response.status_code == status, response.content
    if status == 201:
        assert response.json()["amount"] in ("5.50", "5.00")


@pytest.mark.parametrize("raw", ["[]", '"pay bob"', "42", "null", "{not json", '[{"to": "@bob", "amount": "5"}]'])
def test_send_body_must_be_a_json_object(api, alice, bob, raw):
    response = send(as_user(api, alice), raw)
    assert response.status_code == 400
    assert Payment.objects.count() == 0


def test_send_jpy_refuses_decimals(api, alice, bob, fx_rates):
    fund(alice, "1000", "JPY")
    response = send(as_user(api, alice), {"to": "@bob", "amount": "1.5", "currency": "JPY"})
    assert (
        response.status_code == 400
        and "JPY amounts are whole numbers, with no decimals." in response.json()["error"]["message"]
    )


@pytest.mark.parametrize(
    ("to", "status", "code"),
    [("@nobody", 400, "invalid_recipient"), ("@alice", 400, "invalid_recipient"), ("", 400, "invalid_recipient")],
)
def test_send_refuses_bad_recipients(api, alice, to, status, code):
    response = send(as_user(api, alice), {"to": to, "amount": "1.00"})
    assert response.status_code == status and error_code(response) == code


def test_send_refusals_by_the_rules(api, alice, bob, carol):
    response = send(as_user(api, carol), {"to": "@bob", "amount": "1.00"})
    assert response.status_code == 422 and error_code(response) == "insufficient_funds"
    assert "You have $0.00 available in USD" in response.json()["error"]["message"]

    newcomer = sender_user("newbie", tier=0)
    fund(newcomer, "10.00")
    response = send(as_user(APIClient(), newcomer), {"to": "@bob", "amount": "1.00"})
    assert response.status_code == 403 and error_code(response) == "verification_required"

    response = send(as_user(APIClient(), alice), {"to": "@bob", "amount": "1000.01"})
    assert response.status_code == 422 and error_code(response) == "limit_exceeded"


def test_send_in_another_currency_converts(api, alice, fx_rates):
    eve = sender_user("eve", currency="EUR")
    response = send(as_user(api, alice), {"to": "@eve", "amount": "10.00", "currency": "USD"})
    body = response.json()
    assert response.status_code == 201
    assert body["received_amount"] == "8.95" and body["received_currency"] == "EUR" and body["fx_rate"] == "0.8955"
    assert balance(eve, "EUR") == 895


def test_send_without_a_rate_is_422(api, alice):
    sender_user("eve", currency="EUR")
    response = send(as_user(api, alice), {"to": "@eve", "amount": "10.00"})
    assert response.status_code == 422 and error_code(response) == "fx_unavailable"


def test_send_with_a_safety_delay_is_arriving(api, alice, bob):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.TEN_MINUTES)
    body = send(as_user(api, alice), {"to": "@bob", "amount": "3.00"}).json()
    assert body["status"] == "arriving" and body["release_at"]


# --- Listing and detail -----------------------------------------------------------------------------


def test_list_newest_first_with_cursor_pages(api, alice, bob):
    for i in range(5):
        payment_send(alice if i % 2 == 0 else bob, to="@bob" if i % 2 == 0 else "@alice", amount=Money(100 + i, "USD"))
    as_user(api, alice)
    first = api.get(PAYMENTS, {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    ids = [p["id"] for p in first["results"]]
    page = first
    while page["next"]:
        page = api.get(page["next"]).json()
        ids += [p["id"] for p in page["results"]]
    assert ids == sorted(Payment.objects.values_list("pk", flat=True), reverse=True)
    directions = {p["id"]: p["direction"] for p in api.get(PAYMENTS).json()["results"]}
    assert sorted(directions.values()) == ["received", "received", "sent", "sent", "sent"]


def test_list_filters(api, alice, bob, carol):
    payment_send(alice, to="@bob", amount=Money(100, "USD"))
    payment_send(bob, to="@alice", amount=Money(200, "USD"), kind=PaymentKind.TIP)
    fund(carol, "5.00")
    payment_send(carol, to="@bob", amount=Money(300, "USD"))  # not alice's
    as_user(api, alice)
    assert [p["amount"] for p in api.get(PAYMENTS, {"direction": "sent"}).json()["results"]] == ["1.00"]
    assert [p["amount"] for p in api.get(PAYMENTS, {"direction": "received"}).json()["results"]] == ["2.00"]
    assert [p["kind"] for p in api.get(PAYMENTS, {"kind": "tip"}).json()["results"]] == ["tip"]
    assert len(api.get(PAYMENTS).json()["results"]) == 2
    for params in ({"direction": "up"}, {"kind": "gift"}):
        response = api.get(PAYMENTS, params)
        assert response.status_code == 400


@pytest.mark.parametrize("raw", ["p=1%27%20OR%201=1", "o=0&p=abc", "r=1&p=-5"])
def test_list_forged_cursor_is_404_not_500(api, alice, raw):
    cursor = base64.b64encode(raw.encode()).decode()
    response = as_user(api, alice).get(PAYMENTS, {"cursor": cursor})
    assert response.status_code == 404


def test_list_garbage_cursor_is_never_a_500(api, alice):
    for cursor in ("bm90LWEtY3Vyc29y", "!!!", "x" * 300):
        assert as_user(api, alice).get(PAYMENTS, {"cursor": cursor}).status_code in (200, 404)


def test_list_query_count_is_flat(api, alice, bob, django_assert_max_num_queries):
    for _ in range(30):
        payment_send(alice, to="@bob", amount=Money(100, "USD"))
    as_user(api, alice)
    with django_assert_max_num_queries(4):
        response = api.get(PAYMENTS)
    assert len(response.json()["results"]) == 30


def test_detail_with_events_and_404_for_others(api, alice, bob, carol):
    payment = payment_send(alice, to="@bob", amount=Money(500, "USD"), note="hi")
    body = as_user(api, bob).get(f"{PAYMENTS}{payment.pk}/").json()
    assert body["direction"] == "received" and body["from"] == "@alice" and body["note"] == "hi"
    assert [e["status"] for e in body["events"]] == ["completed"] and body["events"][0]["actor"] == "@alice"
    stranger = as_user(APIClient(), carol)
    response = stranger.get(f"{PAYMENTS}{payment.pk}/")
    assert response.status_code == 404 and error_code(response) == "payment_not_found"
    assert stranger.get(f"{PAYMENTS}99999999999999999999999/").status_code == 404


def test_in_review_is_hidden_from_the_recipient_in_the_api(api, alice, bob, monkeypatch):
    from compliance import services as compliance

    monkeypatch.setattr(compliance, "risk_assess", lambda *a, **k: "large_amount")
    payment = payment_send(alice, to="@bob", amount=Money(500, "USD"))
    body = as_user(api, alice).get(f"{PAYMENTS}{payment.pk}/").json()
    assert body["status"] == "in_review" and body["review_reason"] == "large_amount" and body["review_deadline"]
    bob_api = as_user(APIClient(), bob)
    assert bob_api.get(f"{PAYMENTS}{payment.pk}/").status_code == 404
    assert bob_api.get(PAYMENTS).json()["results"] == []


# --- Return and cancel ---------------------------------------------------------------------------------


def test_return_by_api_once(api, alice, bob, carol):
    payment = payment_send(alice, to="@bob", amount=Money(500, "USD"))
    url = f"{PAYMENTS}{payment.pk}/return/"
    assert as_user(APIClient(), carol).post(url).status_code == 404
    response = as_user(APIClient(), alice).post(url)
    assert response.status_code == 403 and error_code(response) == "not_allowed"
    as_user(api, bob)
    response = api.post(url, HTTP_IDEMPOTENCY_KEY="r1")
    assert response.status_code == 200 and response.json()["status"] == "returned"
    replay = api.post(url, HTTP_IDEMPOTENCY_KEY="r1")
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    again = api.post(url)
    assert again.status_code == 409 and error_code(again) == "payment_not_returnable"
    assert balance(alice) == 100000 and balance(bob) == 100000


def test_cancel_by_api(api, alice, bob, carol):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.ONE_HOUR)
    payment = payment_send(alice, to="@bob", amount=Money(500, "USD"))
    url = f"{PAYMENTS}{payment.pk}/cancel/"
    assert as_user(APIClient(), carol).post(url).status_code == 404
    assert as_user(APIClient(), bob).post(url).status_code == 403
    response = as_user(api, alice).post(url)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert api.post(url).status_code == 409
    assert Payment.objects.get().status == PaymentStatus.CANCELLED and balance(alice) == 100000


# --- FX quotes and people --------------------------------------------------------------------------------


def test_fx_quote_between_currencies(api, alice, fx_rates):
    response = as_user(api, alice).post(
        "/api/v1/fx/quotes/", {"from": "USD", "to": "EUR", "amount": "10.00"}, format="json"
    )
    body = response.json()
    assert response.status_code == 200
    assert body["send"] == {"amount": "10.00", "currency": "USD"}
    assert body["receive"] == {"amount": "8.95", "currency": "EUR"}
    assert Decimal(body["mid_rate"]) == Decimal("0.9") and body["rate"] == "0.8955" and body["spread"] == "0.005"
    assert body["as_of"]


def test_fx_quote_for_a_person(api, alice, fx_rates):
    sender_user("eve", currency="JPY")
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.TEN_MINUTES)
    body = (
        as_user(api, alice).post("/api/v1/fx/quotes/", {"to_handle": "@eve", "amount": "10.00"}, format="json").json()
    )
    assert body["receive"] == {"amount": "1492", "currency": "JPY"}  # 10 * 150 * 0.995 = 1492.5 -> 1492
    assert body["to_handle"] == "@eve" and body["first_to_recipient"] is True
    assert body["safety_delay_seconds"] == 600 and body["fee"] == {"amount": "0.00", "currency": "USD"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"from": "USD", "to": "XXX", "amount": "1"}, 400, "invalid"),
        ({"from": "USD", "amount": "1"}, 400, "invalid"),
        ({"from": "USD", "to": "EUR", "amount": True}, 400, "invalid"),
        ({"from": "USD", "to": "EUR", "amount": "1e3"}, 400, "invalid_amount"),
        ({"from": "USD", "to": "EUR", "to_handle": "@bob", "amount": "1"}, 400, "invalid"),
        ({"to_handle": "@nobody", "amount": "1"}, 400, "invalid_recipient"),
        ({"to_handle": 5, "amount": "1"}, 400, "invalid"),
        ({"from": "USD", "to": "EUR", "amount": "0.001"}, 400, "invalid_amount"),
    ],
)
def test_fx_quote_refusals(api, alice, bob, fx_rates, body, status, code):
    response = as_user(api, alice).post("/api/v1/fx/quotes/", body, format="json")
    assert response.status_code == status and error_code(response) == code


def test_fx_quote_without_rates_is_422(api, alice):
    response = as_user(api, alice).post("/api/v1/fx/quotes/", {"to": "EUR", "amount": "1"}, format="json")
    assert response.status_code == 422 and error_code(response) == "fx_unavailable"


def test_fx_quote_body_must_be_an_object(api, alice):
    response = as_user(api, alice).post("/api/v1/fx/quotes/", "[1]", content_type="application/json")
    assert response.status_code == 400


def test_people(api, alice, bob, carol):
    as_user(api, alice)
    body = api.get("/api/v1/people/", {"q": "b"}).json()
    assert body["results"] == [{"handle": "bob", "name": "Bob Builder", "avatar_url": None}]
    assert api.get("/api/v1/people/", {"q": "alice"}).json()["results"] == []
    assert api.get("/api/v1/people/").json()["results"] == []
    for i in range(12):
        sender_user(f"bee{i}")
    assert len(api.get("/api/v1/people/", {"q": "b"}).json()["results"]) == 8


# --- Schema ----------------------------------------------------------------------------------------------


def test_openapi_schema_documents_the_routes(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    for route in (
        "/api/v1/wallet/",
        "/api/v1/payments/",
        "/api/v1/payments/{id}/",
        "/api/v1/payments/{id}/return/",
        "/api/v1/payments/{id}/cancel/",
        "/api/v1/fx/quotes/",
        "/api/v1/people/",
    ):
        assert route in text, route
    assert "Idempotency-Key" in text

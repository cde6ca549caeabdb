"""The merchant-facing card network API under /api/v1/network/: key auth, each endpoint, replays,
and bad input (400, never a 500, nothing recorded)."""

from __future__ import annotations

import pytest

from cards.models import Authorization, AuthorizationStatus, Card, CardEvent, CardStatus
from cards.tests.factories import card_for, merchant, with_details
from payments.tests.factories import available, balance, fund, sender_user

pytestmark = pytest.mark.django_db

URL = "/api/v1/network/authorizations/"


@pytest.fixture
def card(db):
    user = sender_user("netty")
    fund(user, "500.00")
    found = Card.objects.filter(user=user).exclude(status=CardStatus.CANCELLED).first() or card_for(user)
    return with_details(found)


@pytest.fixture
def shop(db):
    return merchant("Network Shop", "5812")


def _call(client, url, body, key):
    headers = {"HTTP_X_MERCHANT_KEY": key} if key is not None else {}
    return client.post(url, body, content_type="application/json", **headers)


def _auth_body(card, **overrides):
    body = {
        "number": card.plain_number,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "cvv": card.plain_cvv,
        "amount": "12.34",
        "currency": "USD",
        "merchant_name": "Network Shop #12",
        "category_code": "5812",
        "network_transaction_id": "auth-1",
    }
    body.update(overrides)
    return body


def test_key_is_required_and_checked(client, card, shop):
    missing = _call(client, URL, _auth_body(card), None)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "merchant_key_missing"
    wrong = _call(client, URL, _auth_body(card), "mk_nope")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "merchant_key_invalid"
    # A signed-in person's session is no substitute for a merchant key.
    client.force_login(card.user)
    assert _call(client, URL, _auth_body(card), None).status_code == 401
    shop.is_active = False
    shop.save(update_fields=["is_active"])
    assert _call(client, URL, _auth_body(card), shop.api_key).status_code == 401
    assert not Authorization.objects.exists()


def test_authorize_approved_and_replayed(client, card, shop):
    before = available(card.user)
    response = _call(client, URL, _auth_body(card), shop.api_key)
    assert response.status_code == 200
    body = response.json()
    assert body["approved"] is True and body["status"] == "pending" and body["decline_reason"] == ""
    assert body["amount"] == "12.34" and body["held_amount"] == "12.34" and body["currency"] == "USD"
    assert body["network_transaction_id"] == "auth-1"
    assert available(card.user) == before - 1234
    auth = Authorization.objects.get(pk=body["authorization_id"])
    assert auth.merchant_name == "Network Shop #12" and auth.category_code == "5812"
    # Same id, same body: the same answer, nothing more held.
    replay = _call(client, URL, _auth_body(card), shop.api_key)
    assert replay.status_code == 200 and replay.json() == body
    assert available(card.user) == before - 1234 and Authorization.objects.count() == 1
    # Same id, another body: refused.
    clash = _call(client, URL, _auth_body(card, amount="99.00"), shop.api_key)
    assert clash.status_code in (409, 422) and clash.json()["error"]["code"] == "idempotency_key_reused"
    assert available(card.user) == before - 1234
    assert card.plain_number not in response.content.decode()


def test_declines_are_answers_not_errors(client, card, shop):
    wrong = "000" if card.plain_cvv != "000" else "111"
    response = _call(client, URL, _auth_body(card, cvv=wrong, network_transaction_id="d-1"), shop.api_key)
    assert response.status_code == 200
    assert response.json()["approved"] is False and response.json()["decline_reason"] == "wrong_cvv"
    euro = _call(client, URL, _auth_body(card, currency="EUR", network_transaction_id="d-2"), shop.api_key)
    assert euro.status_code == 200 and euro.json()["decline_reason"] == "currency_not_supported"
    unknown = _call(
        client, URL, _auth_body(card, number="4895370000000000", network_transaction_id="d-3"), shop.api_key
    )
    assert unknown.status_code == 200 and unknown.json()["decline_reason"] == "card_not_found"


def test_partial_captures_then_final_and_refund(client, card, shop):
    start = balance(card.user)
    auth_id = _call(client, URL, _auth_body(card, amount="30.00"), shop.api_key).json()["authorization_id"]
    base = f"{URL}{auth_id}/"
    first = _call(client, base + "capture/", {"amount": "10.00", "network_transaction_id": "c-1"}, shop.api_key)
    assert first.status_code == 200 and first.json()["status"] == "partially_captured"
    assert first.json()["held_amount"] == "20.00"
    # A replay of the capture moves nothing.
    assert (
        _call(client, base + "capture/", {"amount": "10.00", "network_transaction_id": "c-1"}, shop.api_key).json()
        == first.json()
    )
    too_much = _call(client, base + "capture/", {"amount": "25.00", "network_transaction_id": "c-2"}, shop.api_key)
    assert too_much.status_code == 422 and too_much.json()["error"]["code"] == "capture_exceeds_hold"
    final = _call(
        client, base + "capture/", {"amount": "5.00", "final": True, "network_transaction_id": "c-3"}, shop.api_key
    )
    assert final.status_code == 200 and final.json()["status"] == "captured" and final.json()["held_amount"] == "0.00"
    auth = Authorization.objects.get(pk=auth_id)
    assert auth.captured_amount == 1500
    assert balance(card.user) <= start - 1500  # round-ups may add a little
    after_capture = balance(card.user)
    refund = _call(client, base + "refund/", {"amount": "4.00", "network_transaction_id": "f-1"}, shop.api_key)
    assert refund.status_code == 200 and balance(card.user) == after_capture + 400
    over = _call(client, base + "refund/", {"amount": "20.00", "network_transaction_id": "f-2"}, shop.api_key)
    assert over.status_code == 422 and balance(card.user) == after_capture + 400


def test_reverse_after_partial_capture(client, card, shop):
    before = available(card.user)
    auth_id = _call(client, URL, _auth_body(card, amount="20.00"), shop.api_key).json()["authorization_id"]
    base = f"{URL}{auth_id}/"
    _call(client, base + "capture/", {"amount": "5.00", "network_transaction_id": "c-1"}, shop.api_key)
    response = _call(client, base + "reverse/", {"network_transaction_id": "r-1"}, shop.api_key)
    assert response.status_code == 200 and response.json()["held_amount"] == "0.00"
    auth = Authorization.objects.get(pk=auth_id)
    assert auth.status == AuthorizationStatus.CAPTURED and auth.released_amount == 1500
    assert available(card.user) <= before - 500 and available(card.user) >= before - 600


def test_another_merchants_authorization_is_404(client, card, shop):
    auth_id = _call(client, URL, _auth_body(card), shop.api_key).json()["authorization_id"]
    rival = merchant("Rival")
    for action, body in (
        ("capture", {"network_transaction_id": "x-1"}),
        ("reverse", {"network_transaction_id": "x-2"}),
        ("refund", {"amount": "1.00", "network_transaction_id": "x-3"}),
    ):
        response = _call(client, f"{URL}{auth_id}/{action}/", body, rival.api_key)
        assert response.status_code == 404, action
    assert _call(client, f"{URL}999999/capture/", {"network_transaction_id": "x-4"}, shop.api_key).status_code == 404
    assert Authorization.objects.get(pk=auth_id).status == AuthorizationStatus.PENDING


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount": "-1.00"},
        {"amount": "abc"},
        {"amount": 12},
        {"amount": "1e9999"},
        {"amount": "99999999999999999999.00"},
        {"amount": "1.234"},
        {"currency": "XYZ"},
        {"currency": 5},
        {"network_transaction_id": ""},
        {"network_transaction_id": "has space"},
        {"network_transaction_id": "x" * 65},
        {"exp_month": 13},
        {"exp_month": "twelve"},
        {"exp_year": True},
        {"cvv": "12a"},
        {"number": "not-a-number"},
        {"category_code": "12"},
        {"number": None},
    ],
)
def test_bad_input_is_400_and_records_nothing(client, card, shop, overrides):
    response = _call(client, URL, _auth_body(card, **overrides), shop.api_key)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"]
    assert not Authorization.objects.exists() and not CardEvent.objects.exists()


def test_bad_bodies_are_400(client, card, shop):
    for body in (["a", "list"], "text", {}):
        assert _call(client, URL, body, shop.api_key).status_code == 400
    response = client.post(URL, "{not json", content_type="application/json", HTTP_X_MERCHANT_KEY=shop.api_key)
    assert response.status_code == 400
    auth_id = _call(client, URL, _auth_body(card), shop.api_key).json()["authorization_id"]
    for body in ({"amount": 5, "network_transaction_id": "c"}, {"final": "yes", "network_transaction_id": "c"}, {}):
        assert _call(client, f"{URL}{auth_id}/capture/", body, shop.api_key).status_code == 400
    assert _call(client, f"{URL}{auth_id}/refund/", {"network_transaction_id": "f"}, shop.api_key).status_code == 400

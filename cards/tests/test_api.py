"""The cardholder API under /api/v1/cards/: masked list, request, freeze, limits, replace, reveal,
authorisations; permissions and errors."""

from __future__ import annotations

import pytest

from accounts.tests.factories import PASSWORD
from cards.models import Card, CardStatus
from cards.tests.factories import authorize, card_for, merchant, with_details
from compliance.models import AuditEntry
from payments.tests.factories import fund, sender_user

pytestmark = pytest.mark.django_db


def _open_card(user):
    card = Card.objects.filter(user=user).exclude(status=CardStatus.CANCELLED).first() or card_for(user)
    return with_details(card)


@pytest.fixture
def holder(client, db):
    user = sender_user("hank")
    fund(user, "500.00")
    card = _open_card(user)
    client.force_login(user)
    return user, card


@pytest.fixture
def stranger_card(db):
    user = sender_user("sam")
    fund(user, "500.00")
    return _open_card(user)


def _post(client, url, body=None):
    return client.post(url, body if body is not None else {}, content_type="application/json")


def test_anonymous_is_refused(client):
    assert client.get("/api/v1/cards/").status_code in (401, 403)
    assert _post(client, "/api/v1/cards/").status_code in (401, 403)


def test_list_is_masked(client, holder):
    _user, card = holder
    response = client.get("/api/v1/cards/")
    assert response.status_code == 200
    [row] = response.json()
    assert row["id"] == card.pk and row["last4"] == card.last4 and row["masked"] == f"•••• {card.last4}"
    assert row["status"] == "active" and row["currency"] == "USD"
    assert row["per_purchase_limit"].count(".") == 1
    body = response.content.decode()
    assert card.plain_number not in body and card.number_encrypted not in body and card.fingerprint not in body
    assert "cvv" not in row and "number" not in row


def test_request_a_card_errors_and_success(client, settings):
    user = sender_user("reqy")
    fund(user, "50.00")
    client.force_login(user)
    response = _post(client, "/api/v1/cards/")
    assert response.status_code == 422 and response.json()["error"]["code"] == "card_not_eligible"
    settings.CARDS_ISSUE_THRESHOLD = 5000
    response = _post(client, "/api/v1/cards/")
    assert response.status_code == 201 and response.json()["last4"] == Card.objects.get(user=user).last4
    again = _post(client, "/api/v1/cards/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "card_exists"


def test_tier_zero_cannot_request(client):
    user = sender_user("zero", tier=0)
    fund(user, "500.00")
    client.force_login(user)
    response = _post(client, "/api/v1/cards/")
    assert response.status_code == 422 and response.json()["error"]["code"] == "card_not_eligible"
    assert not Card.objects.filter(user=user).exists()


def test_freeze_unfreeze_and_cancelled_card(client, holder):
    _user, card = holder
    response = _post(client, f"/api/v1/cards/{card.pk}/freeze/")
    assert response.status_code == 200 and response.json()["status"] == "frozen"
    response = _post(client, f"/api/v1/cards/{card.pk}/unfreeze/")
    assert response.status_code == 200 and response.json()["status"] == "active"
    replaced = _post(client, f"/api/v1/cards/{card.pk}/replace/")
    assert replaced.status_code == 201 and replaced.json()["replaces"] == card.pk
    refused = _post(client, f"/api/v1/cards/{card.pk}/unfreeze/")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "card_not_usable"


def test_limits_as_decimal_strings(client, holder, settings):
    _user, card = holder
    response = _post(client, f"/api/v1/cards/{card.pk}/limits/", {"per_purchase": "250.00", "daily": "1000"})
    assert response.status_code == 200
    assert response.json()["per_purchase_limit"] == "250.00" and response.json()["daily_limit"] == "1000.00"
    too_big = f"{settings.CARDS_MAX_DAILY_LIMIT / 100 + 1:.2f}"
    for body in (
        {"per_purchase": 250, "daily": "1000"},  # a number, not a string
        {"per_purchase": "abc", "daily": "1000"},
        {"per_purchase": "-1", "daily": "1000"},
        {"per_purchase": "0", "daily": "1000"},
        {"per_purchase": "10", "daily": too_big},
        {"per_purchase": "10"},
        ["not", "an", "object"],
    ):
        response = _post(client, f"/api/v1/cards/{card.pk}/limits/", body)
        assert response.status_code == 400, body
        assert "error" in response.json()
    card.refresh_from_db()
    assert (card.per_purchase_limit, card.daily_limit) == (25000, 100000)


def test_someone_elses_card_is_404(client, holder, stranger_card):
    for action in ("freeze", "unfreeze", "replace", "reveal"):
        response = _post(client, f"/api/v1/cards/{stranger_card.pk}/{action}/")
        assert response.status_code == 404, action
        assert stranger_card.plain_number not in response.content.decode()
    assert (
        _post(client, f"/api/v1/cards/{stranger_card.pk}/limits/", {"per_purchase": "1", "daily": "1"}).status_code
        == 404
    )
    assert client.get(f"/api/v1/cards/{stranger_card.pk}/authorizations/").status_code == 404
    stranger_card.refresh_from_db()
    assert stranger_card.status == CardStatus.ACTIVE


def test_reveal_needs_reauthentication(client, holder):
    _user, card = holder
    response = _post(client, f"/api/v1/cards/{card.pk}/reveal/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "reauthentication_required"
    assert card.plain_number not in response.content.decode()
    assert client.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302
    response = _post(client, f"/api/v1/cards/{card.pk}/reveal/")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["number"] == card.plain_number and body["cvv"] == card.plain_cvv
    assert (body["exp_month"], body["exp_year"]) == (card.exp_month, card.exp_year)
    assert AuditEntry.objects.filter(action="card.reveal").count() == 1


def test_authorizations_are_cursor_paginated(client, holder):
    _user, card = holder
    shop = merchant("Paged Shop")
    for amount in (100, 200, 300):
        authorize(shop, card, amount)
    first = client.get(f"/api/v1/cards/{card.pk}/authorizations/?page_size=2")
    assert first.status_code == 200
    page = first.json()
    assert [r["amount"] for r in page["results"]] == ["3.00", "2.00"] and page["next"]
    assert page["results"][0]["status"] == "pending" and page["results"][0]["held"] == "3.00"
    second = client.get(page["next"]).json()
    assert [r["amount"] for r in second["results"]] == ["1.00"]
    assert client.get(f"/api/v1/cards/{card.pk}/authorizations/?cursor=bogus").status_code == 404


def test_schema_renders(client, holder):
    response = client.get("/api/schema/")
    assert response.status_code == 200


def test_headless_app_client_reauthenticates_then_reveals(db):
    from rest_framework.test import APIClient

    user = sender_user("appy")
    fund(user, "500.00")
    card = _open_card(user)
    api = APIClient()
    login = api.post("/_allauth/app/v1/auth/login", {"username": "appy", "password": PASSWORD}, format="json")
    assert login.status_code == 200, login.content
    token = login.json()["meta"]["session_token"]
    api.credentials(HTTP_X_SESSION_TOKEN=token)
    refused = api.post(f"/api/v1/cards/{card.pk}/reveal/", format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "reauthentication_required"
    reauth = api.post("/_allauth/app/v1/auth/reauthenticate", {"password": PASSWORD}, format="json")
    assert reauth.status_code == 200, reauth.content
    shown = api.post(f"/api/v1/cards/{card.pk}/reveal/", format="json")
    assert shown.status_code == 200 and shown.json()["number"] == card.plain_number

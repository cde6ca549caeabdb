"""API: /api/v1/funding-cards/, /api/v1/top-ups/, /api/v1/cash-outs/ (and the quote)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.services import freeze_account
from compliance.tests.factories import staff_user
from core.money import Money
from payments import processor
from payments.models import CashOut, FundingCard, TopUp
from payments.services.funding import card_link, cashout_create, topup_create
from payments.vault import vault_decrypt

from .factories import available, balance, sender_user

EXP_YEAR = timezone.now().year + 3
CARDS = "/api/v1/funding-cards/"
TOP_UPS = "/api/v1/top-ups/"
CASH_OUTS = "/api/v1/cash-outs/"
QUOTE = "/api/v1/cash-outs/quote/"


@pytest.fixture(autouse=True)
def _fresh_processor():
    processor.reset()
    yield
    processor.reset()


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


def link(user, number=processor.APPROVE):
    return card_link(user, number=number, exp_month=12, exp_year=EXP_YEAR, cvc="123")


def post(api, url, body, key=None, **headers):
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return api.post(url, json.dumps(body), content_type="application/json", **headers)


def error(response) -> dict:
    return response.json()["error"]


# --- Cards -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_link_list_and_remove_a_card(api, alice):
    body = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "123"}
    created = post(api, CARDS, body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert set(data) == {"id", "brand", "last4", "exp_month", "exp_year", "label", "created"}
    assert (data["brand"], data["last4"], data["label"]) == ("visa", "4242", "Visa •••• 4242")
    assert b"42424242" not in created.content and b"123" not in created.content.replace(b'"created"', b"")
    card = FundingCard.objects.get(pk=data["id"])
    assert vault_decrypt(card.number_encrypted) == "4242424242424242"

    duplicate = post(api, CARDS, body)
    assert duplicate.status_code == 409 and error(duplicate)["code"] == "card_already_linked"

    listed = api.get(CARDS)
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()["results"]] == [card.pk]
    assert b"4242424242424242" not in listed.content
    assert api.get(f"{CARDS}{card.pk}/").json()["label"] == "Visa •••• 4242"

    assert api.delete(f"{CARDS}{card.pk}/").status_code == 204
    assert api.get(CARDS).json()["results"] == []
    assert api.delete(f"{CARDS}{card.pk}/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"number": 4242424242424242, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "123"}, "number"),
        ({"number": "4242424242424242", "exp_month": "twelve", "exp_year": EXP_YEAR, "cvc": "123"}, "exp_month"),
        ({"number": "4242424242424242", "exp_month": True, "exp_year": EXP_YEAR, "cvc": "123"}, "exp_month"),
        ({"number": "4242424242424242", "exp_month": 13, "exp_year": EXP_YEAR, "cvc": "123"}, "exp_month"),
        ({"number": "4242424242424242", "exp_month": 12, "exp_year": EXP_YEAR, "cvc": 123}, "cvc"),
        ({"number": "4242424242424242", "exp_month": 12, "exp_year": EXP_YEAR}, "cvc"),
        ({"number": "4242424242424241", "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "123"}, "number"),
        ({"number": "4242424242424242", "exp_month": 1, "exp_year": 2020, "cvc": "123"}, "exp_year"),
        ({"number": "4242424242424242", "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "12"}, "cvc"),
    ],
)
def test_bad_card_bodies_are_400(api, body, field):
    response = post(api, CARDS, body)
    assert response.status_code == 400, response.content
    assert field in error(response)["fields"]
    assert b"4242424242424242" not in response.content and b"4242424242424241" not in response.content
    assert not FundingCard.objects.exists()


@pytest.mark.django_db
def test_card_refusals(api):
    stolen = post(api, CARDS, {"number": processor.DECLINE_STOLEN, "exp_month": 1, "exp_year": EXP_YEAR, "cvc": "1"})
    assert stolen.status_code == 400  # the CVC is checked before the processor is asked
    stolen = post(api, CARDS, {"number": processor.DECLINE_STOLEN, "exp_month": 1, "exp_year": EXP_YEAR, "cvc": "123"})
    assert stolen.status_code == 422
    assert error(stolen) == {
        "code": "card_refused",
        "message": "This card can't be used.",
        "fields": {"number": ["This card can't be used."]},
    }
    assert post(api, CARDS, ["not", "an", "object"]).status_code == 400
    assert api.post(CARDS, "{bad json", content_type="application/json").status_code == 400


@pytest.mark.django_db
def test_other_peoples_cards_are_404(api, bob):
    theirs = link(bob)
    assert api.get(f"{CARDS}{theirs.pk}/").status_code == 404
    assert api.delete(f"{CARDS}{theirs.pk}/").status_code == 404
    assert api.delete(f"{CARDS}{2**64}/").status_code == 404
    assert FundingCard.objects.get(pk=theirs.pk).removed_at is None
    response = post(api, TOP_UPS, {"card": theirs.pk, "amount": "5.00"}, key="k")
    assert response.status_code == 404 and error(response)["code"] == "card_not_found"
    response = post(api, CASH_OUTS, {"card": theirs.pk, "amount": "5.00", "speed": "standard"}, key="k2")
    assert response.status_code == 404


@pytest.mark.django_db
def test_lists_need_a_login():
    anonymous = APIClient()
    for url in (CARDS, TOP_UPS, CASH_OUTS):
        assert anonymous.get(url).status_code in (401, 403)


# --- Top-ups -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_top_up_needs_an_idempotency_key_and_replays(api, alice):
    card = link(alice)
    missing = post(api, TOP_UPS, {"card": card.pk, "amount": "20.00", "currency": "USD"})
    assert missing.status_code == 400 and error(missing)["code"] == "idempotency_key_missing"

    first = post(api, TOP_UPS, {"card": card.pk, "amount": "20.00", "currency": "USD"}, key="top-1")
    assert first.status_code == 201, first.content
    data = first.json()
    assert (data["status"], data["amount"], data["currency"], data["fee"]) == ("completed", "20.00", "USD", "0.00")
    assert data["card"] == {"id": card.pk, "label": "Visa •••• 4242", "brand": "visa", "last4": "4242"}
    again = post(api, TOP_UPS, {"card": card.pk, "amount": "20.00", "currency": "USD"}, key="top-1")
    assert again.status_code == 201 and again.json()["id"] == data["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert balance(alice) == 102_000 and TopUp.objects.count() == 1
    assert len([h for h in processor.history if h["amount"] > 0]) == 1

    reused = post(api, TOP_UPS, {"card": card.pk, "amount": "21.00", "currency": "USD"}, key="top-1")
    assert reused.status_code == 422 and error(reused)["code"] == "idempotency_key_reused"
    assert balance(alice) == 102_000

    assert api.get(f"{TOP_UPS}{data['id']}/").json()["id"] == data["id"]
    assert [t["id"] for t in api.get(TOP_UPS).json()["results"]] == [data["id"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "code", "message"),
    [
        (processor.DECLINE_INSUFFICIENT_FUNDS, "card_declined", "Your bank declined this charge: insufficient funds."),
        (processor.TIMEOUT, "card_network_timeout", "The card network did not answer; nothing was charged. Try again."),
    ],
)
def test_top_up_declines_are_422_and_move_nothing(api, alice, number, code, message):
    card = link(alice, number)
    response = post(api, TOP_UPS, {"card": card.pk, "amount": "20.00"}, key="declined")
    assert response.status_code == 422
    assert (error(response)["code"], error(response)["message"]) == (code, message)
    assert balance(alice) == 100_000
    # The same key again answers the same, and charges nothing more.
    again = post(api, TOP_UPS, {"card": card.pk, "amount": "20.00"}, key="declined")
    assert again.status_code == 422 and error(again)["code"] == code
    assert len([h for h in processor.history if h["amount"] > 0]) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"card": "abc", "amount": "5.00"},
        {"card": True, "amount": "5.00"},
        {"card": 1, "amount": True},
        {"card": 1, "amount": ["5"]},
        {"card": 1, "amount": {"value": 5}},
        {"card": 1, "amount": "5.00", "currency": "XXX"},
        {"card": 1, "amount": "5.00", "currency": 7},
        {"card": 1, "amount": "-5.00"},
        {"card": 1, "amount": "0"},
        {"card": 1, "amount": "1e3"},
        {"card": 1, "amount": "5.001"},
        {"card": 1, "amount": "NaN"},
        {"card": 1, "amount": "9" * 30},
        {"amount": "5.00"},
        {"card": 1},
        {"card": 0, "amount": "5.00"},
    ],
)
def test_bad_top_up_bodies_are_400(api, alice, body):
    link(alice)
    response = post(api, TOP_UPS, body, key="bad")
    assert response.status_code == 400, response.content
    assert "error" in response.json()
    assert balance(alice) == 100_000 and not TopUp.objects.exists()


@pytest.mark.django_db
def test_a_json_number_amount_is_read_exactly(api, alice):
    card = link(alice)
    response = api.post(
        TOP_UPS,
        f'{{"card": {card.pk}, "amount": 0.1, "currency": "USD"}}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="n",
    )
    assert response.status_code == 201 and response.json()["amount"] == "0.10"
    assert balance(alice) == 100_010


@pytest.mark.django_db
def test_frozen_and_unverified_are_refused(api, alice):
    card = link(alice)
    freeze_account(staff_user("staffer"), user=alice, reason="Checking a payment")
    frozen = post(api, TOP_UPS, {"card": card.pk, "amount": "5.00"}, key="f")
    assert frozen.status_code == 403 and error(frozen)["code"] == "account_frozen"
    frozen = post(api, CASH_OUTS, {"card": card.pk, "amount": "5.00", "speed": "instant"}, key="f2")
    assert frozen.status_code == 403
    dave = sender_user("dave", tier=0)
    dave_api = APIClient()
    dave_api.force_authenticate(dave)
    daves = link(dave)
    unverified = post(dave_api, TOP_UPS, {"card": daves.pk, "amount": "5.00"}, key="u")
    assert unverified.status_code == 403 and error(unverified)["code"] == "verification_required"
    assert balance(alice) == 100_000 and balance(dave) == 0


# --- Cash-outs ---------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "speed", "fee", "total"),
    [
        ("10.00", "instant", "0.25", "10.25"),
        ("100.00", "instant", "1.50", "101.50"),
        ("2000.00", "instant", "15.00", "2015.00"),
        ("100.00", "standard", "0.00", "100.00"),
    ],
)
def test_quote(api, amount, speed, fee, total):
    response = post(api, QUOTE, {"amount": amount, "currency": "USD", "speed": speed})
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["amount"], data["fee"], data["total"], data["currency"], data["speed"]) == (
        amount,
        fee,
        total,
        "USD",
        speed,
    )
    assert (data["arrives_by"] is None) == (speed == "instant")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"amount": "10.00", "speed": "fast"},
        {"amount": "10.00"},
        {"amount": 10.5, "speed": []},
        {"amount": False, "speed": "instant"},
        {"amount": "ten", "speed": "instant"},
        {"speed": "instant"},
    ],
)
def test_bad_quote_bodies_are_400(api, body):
    assert post(api, QUOTE, body).status_code == 400


@pytest.mark.django_db
def test_standard_cash_out(api, alice):
    card = link(alice)
    missing = post(api, CASH_OUTS, {"card": card.pk, "amount": "50.00", "speed": "standard"})
    assert missing.status_code == 400
    response = post(api, CASH_OUTS, {"card": card.pk, "amount": "50.00", "speed": "standard"}, key="s")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["fee"], data["total"], data["speed"]) == ("pending", "0.00", "50.00", "standard")
    assert data["arrives_by"] is not None and data["card"]["last4"] == "4242"
    assert available(alice) == 95_000 and balance(alice) == 100_000
    again = post(api, CASH_OUTS, {"card": card.pk, "amount": "50.00", "speed": "standard"}, key="s")
    assert again.json()["id"] == data["id"] and CashOut.objects.count() == 1
    reused = post(api, CASH_OUTS, {"card": card.pk, "amount": "50.00", "speed": "instant"}, key="s")
    assert reused.status_code == 422 and error(reused)["code"] == "idempotency_key_reused"
    assert api.get(f"{CASH_OUTS}{data['id']}/").json()["status"] == "pending"


@pytest.mark.django_db
def test_instant_cash_out_and_its_failures(api, alice):
    card = link(alice)
    response = post(
        api, CASH_OUTS, {"card": card.pk, "amount": "100.00", "currency": "USD", "speed": "instant"}, key="i"
    )
    assert response.status_code == 201
    data = response.json()
    assert (data["status"], data["fee"], data["total"], data["arrives_by"]) == ("completed", "1.50", "101.50", None)
    assert balance(alice) == 100_000 - 10_150

    too_much = post(api, CASH_OUTS, {"card": card.pk, "amount": "890.00", "speed": "instant"}, key="big")
    assert too_much.status_code == 422 and error(too_much)["code"] == "insufficient_funds"
    assert "plus the $13.35 fee" in error(too_much)["message"]

    declining = link(alice, processor.PAYOUT_DECLINED)
    failed = post(api, CASH_OUTS, {"card": declining.pk, "amount": "10.00", "speed": "instant"}, key="no")
    assert failed.status_code == 422 and error(failed)["code"] == "card_declined"
    assert balance(alice) == 100_000 - 10_150 and available(alice) == 100_000 - 10_150


@pytest.mark.django_db
def test_lists_have_bounded_queries(api, alice, django_assert_max_num_queries):
    cards = [link(alice, n) for n in ("4242424242424242", "5555555555554444", "6011111111111117")]
    for i in range(15):
        topup_create(alice, card=cards[i % 3], amount=Money.parse("1.00", "USD"), idempotency_key=f"t{i}")
        cashout_create(
            alice, card=cards[i % 3], amount=Money.parse("1.00", "USD"), speed="standard", idempotency_key=f"c{i}"
        )
    for url in (CARDS, TOP_UPS, CASH_OUTS):
        with django_assert_max_num_queries(6):
            response = api.get(url)
        assert response.status_code == 200 and response.json()["results"]
    assert len(api.get(f"{TOP_UPS}?page_size=5").json()["results"]) == 5


@pytest.mark.django_db
def test_the_schema_documents_the_routes(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = (
        response.json()["paths"] if response["Content-Type"].startswith("application/vnd.oai.openapi+json") else None
    )
    text = response.content.decode()
    for route in (
        "/api/v1/funding-cards/",
        "/api/v1/funding-cards/{id}/",
        "/api/v1/top-ups/",
        "/api/v1/cash-outs/",
        "/api/v1/cash-outs/quote/",
    ):
        assert route in text
    if paths:
        assert any(p.get("name") == "Idempotency-Key" for p in paths["/api/v1/top-ups/"]["post"]["parameters"])

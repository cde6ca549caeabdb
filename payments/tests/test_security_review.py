"""Security review of every HTTP entry point of the wallet (API, HTML, admin).

- bad input (wrong JSON types, absurd numbers, NUL/surrogate text, deep nesting, malformed JSON,
  forged ids) is a 4xx, never a 500, and never moves money;
- other people's ids are 404 and change nothing; anonymous callers are refused;
- CSRF stays enforced for the browser session (API and forms);
- staff pages refuse non-staff and staff without the permission;
- the card vault never lets a number out (responses, admin, logs, error reports);
- money-moving APIs require an Idempotency-Key, and a reused key with another body is 422;
- what users type is escaped everywhere it is shown; ``next=`` never leads off-site.

Runs on SQLite and on PostgreSQL (which refuses NUL in text: the NUL cases matter there).
"""

from __future__ import annotations

import json
import logging
import sys
import uuid

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from django.views.debug import ExceptionReporter
from rest_framework.test import APIClient

from compliance import services as compliance
from compliance.models import AccountFreeze, ReviewReason, ReviewStatus
from compliance.tests.factories import staff_user
from core.idempotency import IdempotencyRecord
from core.money import Money
from ledger.models import Transfer
from payments import processor
from payments.models import CashOut, FundingCard, Payment, PaymentRequest, PaymentStatus, RequestStatus, TopUp
from payments.services.funding import card_link, cashout_create, topup_create
from payments.services.requests import request_create, split_create
from payments.services.send import payment_send, wallet_settings_update

from .factories import available, balance, fund, sender_user

pytestmark = pytest.mark.django_db

NUMBER = processor.APPROVE  # 4242424242424242
HUGE = ["0", str(2**63), "99999999999999999999", "9" * 300]


@pytest.fixture(autouse=True)
def _fresh_processor():
    processor.reset()
    yield
    processor.reset()


@pytest.fixture
def world(alice, bob, fx_rates):
    """alice has paid bob, asked bob for money, split a bill with him, linked a card, topped up and cashed out."""
    mallory = sender_user("mallory", display_name="Mallory")
    fund(mallory, "100.00")
    payment = payment_send(alice, to="@bob", amount=Money(500, "USD"), note="lunch")
    [request] = request_create(alice, payers=["@bob"], amount=Money(700, "USD"), note="tickets")
    split = split_create(alice, title="Dinner", total=Money(3000, "USD"), participants=["@bob"])
    card = card_link(alice, number=NUMBER, exp_month=12, exp_year=2035, cvc="123")
    topup = topup_create(alice, card=card, amount=Money(1000, "USD"), idempotency_key="t-1")
    cashout = cashout_create(alice, card=card, amount=Money(200, "USD"), speed="standard", idempotency_key="c-1")
    return {
        "alice": alice,
        "bob": bob,
        "mallory": mallory,
        "payment": payment,
        "request": request,
        "split": split,
        "card": card,
        "topup": topup,
        "cashout": cashout,
    }


def api_for(user, **kwargs) -> APIClient:
    client = APIClient(**kwargs)
    client.force_authenticate(user)
    return client


def browser_for(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def snapshot(*users) -> tuple:
    """What must not change when a request is refused: ledger rows and everyone's balances."""
    return (Transfer.objects.count(), tuple((balance(u), available(u)) for u in users))


def raw_post(client, url: str, body: bytes | str, *, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key or uuid.uuid4().hex}
    return client.post(url, body, content_type="application/json", **headers)


# --- 1. Fuzzing the bodies of every POST API ------------------------------------------------------------

# Bodies that no endpoint may accept: each must be a 4xx (never a 500) and move nothing.
COMMON_BAD_JSON = [
    b"[]",
    b"[1, 2]",
    b"true",
    b"null",
    b"0",
    b'"text"',
    b"{",
    b"not json",
    b"\xff\xfe",
    b"",
    b'{"amount": NaN}',
    b'{"amount": Infinity}',
    b'{"amount": 1e999999}',
    b'{"amount": ' + b"9" * 5000 + b"}",  # over Python's int-from-text limit
    b"[" * 5000 + b"]" * 5000,  # deeper than the recursion limit: was a RecursionError (500)
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'{"a":' * 40 + b"1" + b"}" * 40,  # over the parser's depth limit
    b'{"to": "@bob", "amount": "1", "note": "\\ud800", "title": "\\udfff"}',  # unpaired surrogates: were 500s
    b'{"to": "@bob\\ud800", "amount": "1\\ud800", "from": ["@bob\\ud800"]}',
]

AMOUNTS = [
    None,
    True,
    [],
    {"x": 1},
    "NaN",
    "Infinity",
    "-Infinity",
    "1e309",
    "1E2",
    "١٢",  # Arabic-Indic digits
    "-5",
    "0",
    "0.00",
    "1.001",
    "10000000000000.01",
    str(2**63),
    "9" * 40,
    "12,34",
    " ",
    "x" * 10_000,
    "1\x00",
]


def _payment_bodies() -> list:
    bodies: list = [{"to": "@bob", "amount": amount} for amount in AMOUNTS]
    bodies += [
        {"to": "@bob"},
        {"amount": "1.00"},
        {"to": None, "amount": "1.00"},
        {"to": 12, "amount": "1.00"},
        {"to": ["@bob"], "amount": "1.00"},
        {"to": {"handle": "bob"}, "amount": "1.00"},
        {"to": "@bob\x00", "amount": "1.00"},  # NUL: was a 500 on PostgreSQL
        {"to": "@" + "b" * 10_000, "amount": "1.00"},
        {"to": "@nobody-here", "amount": "1.00"},
        {"to": "@alice", "amount": "1.00"},  # yourself
        {"to": "@bob", "amount": "1.00", "currency": "XXX"},
        {"to": "@bob", "amount": "1.00", "currency": 840},
        {"to": "@bob", "amount": "1.00", "currency": None},
        {"to": "@bob", "amount": "1.00", "currency": ["USD"]},
        {"to": "@bob", "amount": "1.5", "currency": "JPY"},
        {"to": "@bob", "amount": "1.00", "note": 5},
        {"to": "@bob", "amount": "1.00", "note": ["x"]},
        {"to": "@bob", "amount": "1.00", "note": "a\x00b"},  # NUL: was a 500 on PostgreSQL
        {"to": "@bob", "amount": "1.00", "note": "n" * 100_000},
        {"to": "@bob", "amount": 2**64},
        {"to": "@bob", "amount": -1},
        {"to": "@bob", "amount": 0},
    ]
    return bodies


def _request_bodies() -> list:
    bodies: list = [{"from": ["@bob"], "amount": amount} for amount in AMOUNTS]
    bodies += [
        {"from": "@bob", "amount": "1.00"},
        {"from": [], "amount": "1.00"},
        {"from": [None], "amount": "1.00"},
        {"from": [["@bob"]], "amount": "1.00"},
        {"from": [12], "amount": "1.00"},
        {"from": ["@bob"] * 1000, "amount": "1.00"},
        {"from": ["@bob\x00"], "amount": "1.00"},
        {"from": ["@alice"], "amount": "1.00"},
        {"from": ["@bob"], "amount": "1.00", "currency": "XXX"},
        {"from": ["@bob"], "amount": "1.00", "note": "\x00"},
        {"from": ["@bob"], "amount": "1.00", "note": {"a": 1}},
        {"from": ["@bob"], "amount": "1.00", "note": "n" * 100_000},
    ]
    return bodies


def _split_bodies() -> list:
    base = {"title": "Dinner", "total": "10.00", "participants": ["@bob"]}
    bodies: list = [{**base, "total": amount} for amount in AMOUNTS]
    custom = {**base, "method": "custom"}
    bodies += [
        {**base, "title": None},
        {**base, "title": "\x00"},
        {**base, "title": "t" * 100_000},
        {**base, "participants": "@bob"},
        {**base, "participants": [None]},
        {**base, "participants": ["@bob\x00"]},
        {**base, "participants": ["@bob"] * 1000},
        {**base, "method": ["equal"]},
        {**base, "method": "thirds"},
        {**base, "include_me": "yes"},
        {**base, "include_me": 1},
        {**custom, "shares": ["10"]},
        {**custom, "shares": {"@bob": 10}},
        {**custom, "shares": {"@bob": "1e309", "@alice": "Infinity"}},
        {**custom, "shares": {"@bob": "NaN", "@alice": "-1"}},
        {**custom, "shares": {"": "10"}},
        {**custom, "shares": {"@bob\x00": "5", "@alice": "5"}},
        {**custom, "shares": {"@bob": "4.00", "@alice": "4.00"}},  # does not add up
        {**custom, "shares": {"@bob": {"x": 1}, "@alice": "5"}},
    ]
    return bodies


def _tip_bodies() -> list:
    bodies: list = [{"to": "@bob", "amount": amount} for amount in AMOUNTS]
    bodies += [
        {"to": "@bob", "amount": "1.00", "target": 5},
        {"to": "@bob", "amount": "1.00", "target": "post:" + "9" * 40},
        {"to": "@bob", "amount": "1.00", "target": "\x00"},
        {"to": "@bob", "amount": "1.00", "target": "<script>"},
        {"to": "@bob\x00", "amount": "1.00"},
        {"to": 5, "amount": "1.00"},
        {"to": "@alice", "amount": "1.00"},
        {"to": "@bob", "amount": "1.00", "currency": "XXX"},
    ]
    return bodies


def _card_bodies() -> list:
    good = {"number": NUMBER, "exp_month": 12, "exp_year": 2035, "cvc": "123"}
    return [
        {**good, "number": int(NUMBER)},
        {**good, "number": None},
        {**good, "number": "4242424242424241"},  # Luhn
        {**good, "number": "٤" * 16},
        {**good, "number": "4" * 10_000},
        {**good, "number": NUMBER + "\x00"},
        {**good, "number": [NUMBER]},
        {**good, "exp_month": "x"},
        {**good, "exp_month": 13},
        {**good, "exp_month": 1.5},
        {**good, "exp_month": 2**64},
        {**good, "exp_month": True},
        {**good, "exp_year": 2**64},
        {**good, "exp_year": "2035.0"},
        {**good, "exp_year": 1999},
        {**good, "exp_year": None},
        {**good, "cvc": 123},
        {**good, "cvc": "12"},
        {**good, "cvc": "1" * 1000},
        {**good, "cvc": "١٢٣"},
        {**good, "cvc": None},
        {"number": NUMBER},
    ]


def _topup_bodies() -> list:
    bodies: list = [{"card": "CARD", "amount": amount} for amount in AMOUNTS]
    bodies += [
        {"card": card, "amount": "5.00"}
        for card in ["x", 1.5, -1, 0, 2**63, 2**64, "99999999999999999999999", "١", True, None, [1], {"id": 1}]
    ]
    bodies += [
        {"card": "CARD", "amount": "5.00", "currency": "XXX"},
        {"card": "CARD", "amount": "5.00", "currency": None},
        {"card": "CARD", "amount": "5000.00"},  # over the top-up limit
        {"card": "MALLORY_CARD", "amount": "5.00"},  # someone else's card
        {"amount": "5.00"},
    ]
    return bodies


def _cashout_bodies() -> list:
    bodies = [{**body, "speed": "instant"} for body in _topup_bodies() if body.get("amount") != "5000.00"]
    bodies += [
        {"card": "CARD", "amount": "5.00", "speed": speed} for speed in ["warp", None, ["instant"], {"x": 1}, "", 1]
    ]
    bodies += [{"card": "CARD", "amount": "999999.00", "speed": "standard"}]  # more than available
    return bodies


def _fx_bodies() -> list:
    bodies: list = [{"from": "USD", "to": "EUR", "amount": amount} for amount in AMOUNTS]
    bodies += [
        {"from": "USD", "to": "EUR", "to_handle": "@bob", "amount": "10.00"},
        {"from": "USD", "to_handle": "@nobody-here", "amount": "10.00"},
        {"from": "USD", "to_handle": "@bob\x00", "amount": "10.00"},  # NUL: was a 500 on PostgreSQL
        {"from": "USD", "to_handle": 5, "amount": "10.00"},
        {"from": "USD", "to": None, "amount": "10.00"},
        {"from": "USD", "to": "XXX", "amount": "10.00"},
        {"from": None, "to": "EUR", "amount": "10.00"},
        {"from": "USD", "to": 978, "amount": "10.00"},
        {"from": "JPY", "to": "EUR", "amount": "1.5"},
        {"amount": "10.00"},
    ]
    return bodies


def _cashout_quote_bodies() -> list:
    return [{"amount": amount, "speed": "instant"} for amount in AMOUNTS] + [
        {"amount": "5.00", "speed": "warp"},
        {"amount": "5.00"},
        {"amount": "5.00", "speed": "instant", "currency": "XXX"},
    ]


FUZZ = {
    "/api/v1/payments/": _payment_bodies,
    "/api/v1/requests/": _request_bodies,
    "/api/v1/splits/": _split_bodies,
    "/api/v1/tips/": _tip_bodies,
    "/api/v1/funding-cards/": _card_bodies,
    "/api/v1/top-ups/": _topup_bodies,
    "/api/v1/cash-outs/": _cashout_bodies,
    "/api/v1/fx/quotes/": _fx_bodies,
    "/api/v1/cash-outs/quote/": _cashout_quote_bodies,
}


@pytest.mark.parametrize("url", list(FUZZ))
def test_bad_bodies_are_4xx_and_move_nothing(world, url):
    alice, bob, mallory = world["alice"], world["bob"], world["mallory"]
    mallory_card = card_link(mallory, number="5555555555554444", exp_month=1, exp_year=2035, cvc="123")
    replace = {"CARD": world["card"].pk, "MALLORY_CARD": mallory_card.pk}
    client = api_for(alice)
    before = snapshot(alice, bob, mallory)
    counts = (
        PaymentRequest.objects.count(),
        FundingCard.objects.count(),
        TopUp.objects.count(),
        CashOut.objects.count(),
    )
    seen = []
    for body in FUZZ[url]():
        body = {k: replace.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
        response = raw_post(client, url, json.dumps(body))
        seen.append((body, response.status_code))
        assert 400 <= response.status_code < 500, (str(body)[:200], response.status_code, response.content[:300])
        assert response.json()["error"]["code"]
        assert NUMBER not in response.content.decode()
    for raw in COMMON_BAD_JSON:
        response = raw_post(client, url, raw)
        assert 400 <= response.status_code < 500, (raw[:80], response.status_code, response.content[:300])
    assert snapshot(alice, bob, mallory) == before
    after = (
        PaymentRequest.objects.count(),
        FundingCard.objects.count(),
        TopUp.objects.count(),
        CashOut.objects.count(),
    )
    assert after == counts
    assert len(seen) > 5


def test_deeply_nested_json_is_a_400_not_a_500(alice, bob):
    """Regression: DRF's JSONParser let a RecursionError through (a 500) for a body nested ~1000 deep."""
    client = api_for(alice)
    for url in ["/api/v1/payments/", "/api/v1/requests/", "/api/v1/splits/", "/api/v1/tips/", "/api/v1/top-ups/"]:
        response = raw_post(client, url, b"[" * 100_000 + b"]" * 100_000)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "parse_error"


def test_unpaired_surrogates_and_nul_are_refused_before_any_query(alice, bob):
    """Regression: a lone surrogate in the note or handle was a UnicodeEncodeError (500) on both
    databases; a NUL in a handle was a DataError (500) on PostgreSQL."""
    client = api_for(alice)
    before = snapshot(alice, bob)
    for body in [
        rb'{"to": "@bob", "amount": "1.00", "note": "\ud800"}',
        rb'{"to": "@bob\ud800", "amount": "1.00"}',
        rb'{"to": "@bob", "amount": "1.00\udc00"}',
        rb'{"to": "@bob\u0000", "amount": "1.00"}',
        rb'{"to": "@bob", "amount": "1.00", "note": "a\u0000b"}',
    ]:
        response = raw_post(client, "/api/v1/payments/", body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "parse_error"
    response = raw_post(client, "/api/v1/fx/quotes/", rb'{"to_handle": "@bob\ud800", "amount": "1"}')
    assert response.status_code == 400
    response = raw_post(
        client,
        "/api/v1/splits/",
        rb'{"title": "t", "total": "10", "participants": ["@bob"], "method": "custom", "shares": {"@bob\ud800": "5"}}',
    )
    assert response.status_code == 400
    assert snapshot(alice, bob) == before


def test_a_real_emoji_note_still_works(alice, bob):
    """Surrogate *pairs* in JSON escapes are one character (an emoji), not refused."""
    response = raw_post(
        api_for(alice), "/api/v1/payments/", rb'{"to": "@bob", "amount": "1.00", "note": "\ud83c\udf55"}'
    )
    assert response.status_code == 201
    assert response.json()["note"] == "🍕"


def test_decimal_json_numbers_are_read_exactly(alice, bob):
    response = raw_post(api_for(alice), "/api/v1/payments/", b'{"to": "@bob", "amount": 0.30}')
    assert response.status_code == 201
    assert response.json()["amount"] == "0.30"


def test_nul_in_search_and_handles_is_not_a_500(world):
    """Regression (PostgreSQL): ``?q=%00`` on the wallet and the people search, and a NUL in a tip handle,
    reached the database and failed there (500)."""
    alice = world["alice"]
    browser, api = browser_for(alice), api_for(alice)
    assert browser.get("/wallet/?q=%00").status_code == 200
    assert browser.get("/wallet/?q=lu%00nch&partial=1").status_code == 200
    assert browser.get("/wallet/people/?q=%00").status_code == 200
    assert api.get("/api/v1/people/?q=b%00").status_code == 200
    assert browser.get("/@bob%00/tip").status_code == 404
    assert browser.post("/wallet/tips/@bob%00/confirm/", {"amount": "1"}).status_code == 404
    assert browser.get("/wallet/?q=lunch").status_code == 200


# --- 2. Forged ids -----------------------------------------------------------------------------------------

ID_APIS = [
    ("get", "/api/v1/payments/{}/"),
    ("post", "/api/v1/payments/{}/return/"),
    ("post", "/api/v1/payments/{}/cancel/"),
    ("get", "/api/v1/requests/{}/"),
    ("post", "/api/v1/requests/{}/pay/"),
    ("post", "/api/v1/requests/{}/decline/"),
    ("post", "/api/v1/requests/{}/cancel/"),
    ("post", "/api/v1/requests/{}/remind/"),
    ("get", "/api/v1/splits/{}/"),
    ("get", "/api/v1/funding-cards/{}/"),
    ("delete", "/api/v1/funding-cards/{}/"),
    ("get", "/api/v1/top-ups/{}/"),
    ("get", "/api/v1/cash-outs/{}/"),
]
ID_PAGES = [
    ("get", "/wallet/payments/{}/"),
    ("post", "/wallet/payments/{}/return/"),
    ("post", "/wallet/payments/{}/cancel/"),
    ("get", "/wallet/requests/{}/"),
    ("get", "/wallet/requests/{}/pay/"),
    ("post", "/wallet/requests/{}/pay/"),
    ("post", "/wallet/requests/{}/decline/"),
    ("post", "/wallet/requests/{}/cancel/"),
    ("post", "/wallet/requests/{}/remind/"),
    ("get", "/wallet/splits/{}/"),
    ("get", "/wallet/tips/{}/"),
    ("get", "/wallet/cards/{}/remove/"),
    ("post", "/wallet/cards/{}/remove/"),
    ("get", "/wallet/add/{}/"),
    ("get", "/wallet/cash-out/{}/"),
]


@pytest.mark.parametrize("value", HUGE)
def test_forged_ids_are_404(world, value):
    alice, bob = world["alice"], world["bob"]
    api, browser = api_for(alice), browser_for(alice)
    before = snapshot(alice, bob)
    for method, url in ID_APIS:
        response = getattr(api, method)(url.format(value), HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.json()["error"]["code"]
    for method, url in ID_PAGES:
        response = getattr(browser, method)(url.format(value))
        assert response.status_code == 404, (method, url, response.status_code)
    assert snapshot(alice, bob) == before


# --- 3. Other people's objects ---------------------------------------------------------------------------


def _ids(world) -> dict:
    return {
        "payment": world["payment"].pk,
        "request": world["request"].pk,
        "split": world["split"].pk,
        "card": world["card"].pk,
        "topup": world["topup"].pk,
        "cashout": world["cashout"].pk,
    }


def test_someone_elses_ids_are_404_and_change_nothing(world):
    alice, bob, mallory = world["alice"], world["bob"], world["mallory"]
    ids = _ids(world)
    api, browser = api_for(mallory), browser_for(mallory)
    before = snapshot(alice, bob, mallory)
    calls = [
        ("get", "/api/v1/payments/{payment}/"),
        ("post", "/api/v1/payments/{payment}/return/"),
        ("post", "/api/v1/payments/{payment}/cancel/"),
        ("get", "/api/v1/requests/{request}/"),
        ("post", "/api/v1/requests/{request}/pay/"),
        ("post", "/api/v1/requests/{request}/decline/"),
        ("post", "/api/v1/requests/{request}/cancel/"),
        ("post", "/api/v1/requests/{request}/remind/"),
        ("get", "/api/v1/splits/{split}/"),
        ("get", "/api/v1/funding-cards/{card}/"),
        ("delete", "/api/v1/funding-cards/{card}/"),
        ("get", "/api/v1/top-ups/{topup}/"),
        ("get", "/api/v1/cash-outs/{cashout}/"),
    ]
    for method, url in calls:
        response = getattr(api, method)(url.format(**ids), HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
        assert response.status_code == 404, (method, url, response.status_code)
        body = response.content.decode()
        assert "lunch" not in body and "tickets" not in body and NUMBER[-4:] not in body
    pages = [
        ("get", "/wallet/payments/{payment}/"),
        ("get", "/wallet/payments/{payment}/?partial=1"),
        ("post", "/wallet/payments/{payment}/return/"),
        ("post", "/wallet/payments/{payment}/cancel/"),
        ("get", "/wallet/requests/{request}/"),
        ("get", "/wallet/requests/{request}/pay/"),
        ("post", "/wallet/requests/{request}/pay/"),
        ("post", "/wallet/requests/{request}/decline/"),
        ("post", "/wallet/requests/{request}/cancel/"),
        ("post", "/wallet/requests/{request}/remind/"),
        ("get", "/wallet/splits/{split}/"),
        ("get", "/wallet/tips/{payment}/"),
        ("get", "/wallet/cards/{card}/remove/"),
        ("post", "/wallet/cards/{card}/remove/"),
        ("get", "/wallet/add/{topup}/"),
        ("get", "/wallet/cash-out/{cashout}/"),
    ]
    for method, url in pages:
        response = getattr(browser, method)(url.format(**ids), {"idempotency_key": uuid.uuid4().hex})
        assert response.status_code == 404, (method, url, response.status_code)
    # Someone else's card cannot be charged or paid out to, through the API or the forms.
    response = raw_post(api, "/api/v1/top-ups/", json.dumps({"card": ids["card"], "amount": "5.00"}))
    assert response.status_code == 404
    response = raw_post(
        api, "/api/v1/cash-outs/", json.dumps({"card": ids["card"], "amount": "5.00", "speed": "instant"})
    )
    assert response.status_code == 404
    for url in ["/wallet/add/confirm/", "/wallet/add/submit/"]:
        response = browser.post(url, {"card": ids["card"], "amount": "5.00", "currency": "USD", "idempotency_key": "k"})
        assert response.status_code == 400
    for url in ["/wallet/cash-out/confirm/", "/wallet/cash-out/submit/"]:
        data = {"card": ids["card"], "amount": "5.00", "currency": "USD", "speed": "instant", "idempotency_key": "k2"}
        assert browser.post(url, data).status_code == 400
    # Nothing changed.
    assert snapshot(alice, bob, mallory) == before
    world["request"].refresh_from_db()
    assert world["request"].status == RequestStatus.OPEN and world["request"].last_reminded_at is None
    world["card"].refresh_from_db()
    assert world["card"].removed_at is None
    assert Payment.objects.get(pk=ids["payment"]).status == PaymentStatus.COMPLETED
    # Lists never show other people's things.
    for url in ["/api/v1/payments/", "/api/v1/requests/", "/api/v1/splits/", "/api/v1/funding-cards/"]:
        assert api.get(url).json()["results"] == []
    assert api.get("/api/v1/top-ups/").json()["results"] == []
    assert api.get("/api/v1/cash-outs/").json()["results"] == []


def test_a_party_in_the_wrong_role_cannot_act(world):
    """The sender cannot return their own payment; the recipient cannot cancel it; the payer cannot
    remind or cancel; the requester cannot pay or decline their own request."""
    alice, bob = world["alice"], world["bob"]
    ids = _ids(world)
    before = snapshot(alice, bob)
    assert api_for(alice).post(f"/api/v1/payments/{ids['payment']}/return/").status_code == 403
    assert api_for(bob).post(f"/api/v1/payments/{ids['payment']}/cancel/").status_code == 403
    assert browser_for(alice).post(f"/wallet/payments/{ids['payment']}/return/").status_code == 403
    assert browser_for(bob).post(f"/wallet/payments/{ids['payment']}/cancel/").status_code == 403
    for who, action in [(bob, "remind"), (bob, "cancel"), (alice, "decline")]:
        assert api_for(who).post(f"/api/v1/requests/{ids['request']}/{action}/").status_code in (403, 404)
    response = api_for(alice).post(f"/api/v1/requests/{ids['request']}/pay/", HTTP_IDEMPOTENCY_KEY="own")
    assert response.status_code in (403, 404)
    assert browser_for(alice).get(f"/wallet/requests/{ids['request']}/pay/").status_code == 404
    assert snapshot(alice, bob) == before
    world["request"].refresh_from_db()
    assert world["request"].status == RequestStatus.OPEN


def test_a_payment_in_review_is_hidden_from_its_recipient(bob, fx_rates):
    whale = sender_user("whale", tier=2)
    fund(whale, "5000.00")
    payment = payment_send(whale, to="@bob", amount=Money(400_000, "USD"), note="big")
    assert payment.status == PaymentStatus.IN_REVIEW
    assert api_for(bob).get(f"/api/v1/payments/{payment.pk}/").status_code == 404
    assert browser_for(bob).get(f"/wallet/payments/{payment.pk}/").status_code == 404
    assert all(row["id"] != payment.pk for row in api_for(bob).get("/api/v1/payments/").json()["results"])


# --- 4. Anonymous callers -------------------------------------------------------------------------------


def test_anonymous_api_calls_are_refused_with_a_json_error(world):
    client = APIClient()
    ids = _ids(world)
    before = snapshot(world["alice"], world["bob"])
    gets = [
        "/api/v1/wallet/",
        "/api/v1/payments/",
        "/api/v1/payments/{payment}/",
        "/api/v1/people/?q=bo",
        "/api/v1/requests/",
        "/api/v1/splits/",
        "/api/v1/funding-cards/",
        "/api/v1/top-ups/",
        "/api/v1/cash-outs/",
        "/api/v1/statements/",
        "/api/v1/compliance/status/",
    ]
    for url in gets:
        response = client.get(url.format(**ids))
        assert response.status_code in (401, 403), url
        assert response.json()["error"]["code"] == "not_authenticated"
    posts = [
        ("/api/v1/payments/", {"to": "@bob", "amount": "1.00"}),
        ("/api/v1/payments/{payment}/return/", {}),
        ("/api/v1/requests/{request}/pay/", {}),
        ("/api/v1/tips/", {"to": "@bob", "amount": "1.00"}),
        ("/api/v1/top-ups/", {"card": ids["card"], "amount": "1.00"}),
        ("/api/v1/cash-outs/", {"card": ids["card"], "amount": "1.00", "speed": "instant"}),
        ("/api/v1/funding-cards/", {"number": NUMBER, "exp_month": 1, "exp_year": 2035, "cvc": "123"}),
    ]
    for url, body in posts:
        response = raw_post(client, url.format(**ids), json.dumps(body))
        assert response.status_code in (401, 403), url
    assert client.delete(f"/api/v1/funding-cards/{ids['card']}/").status_code in (401, 403)
    assert snapshot(world["alice"], world["bob"]) == before
    assert not IdempotencyRecord.objects.exists()


def test_anonymous_pages_redirect_to_login(world):
    client = Client()
    ids = _ids(world)
    for url in [
        "/wallet/",
        "/wallet/payments/{payment}/",
        "/wallet/send/",
        "/wallet/people/?q=bo",
        "/wallet/requests/",
        "/wallet/requests/{request}/",
        "/wallet/splits/{split}/",
        "/wallet/cards/",
        "/wallet/add/",
        "/wallet/cash-out/",
        "/wallet/statements/",
        "/wallet/statements/export.csv",
        "/@bob/tip",
        "/compliance/verify/",
        "/compliance/status/",
    ]:
        response = client.get(url.format(**ids))
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    for url in ["/wallet/send/submit/", "/wallet/payments/{payment}/return/", "/wallet/add/submit/"]:
        response = client.post(url.format(**ids), {"to": "@bob", "amount": "1", "currency": "USD"})
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


# --- 5. CSRF ------------------------------------------------------------------------------------------


def test_session_api_posts_need_the_csrf_token(world):
    alice, bob = world["alice"], world["bob"]
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)  # a real browser session, not force_authenticate
    ids = _ids(world)
    before = snapshot(alice, bob)
    posts = [
        ("/api/v1/payments/", {"to": "@bob", "amount": "1.00"}),
        ("/api/v1/payments/{payment}/cancel/", {}),
        ("/api/v1/requests/", {"from": ["@bob"], "amount": "1.00"}),
        ("/api/v1/tips/", {"to": "@bob", "amount": "1.00"}),
        ("/api/v1/top-ups/", {"card": ids["card"], "amount": "1.00"}),
        ("/api/v1/cash-outs/", {"card": ids["card"], "amount": "1.00", "speed": "instant"}),
        ("/api/v1/funding-cards/", {"number": "5555555555554444", "exp_month": 1, "exp_year": 2035, "cvc": "123"}),
    ]
    for url, body in posts:
        response = raw_post(client, url.format(**ids), json.dumps(body), key="csrf-key")
        assert response.status_code == 403, url
        assert "CSRF" in response.json()["error"]["message"]
    assert client.delete(f"/api/v1/funding-cards/{ids['card']}/").status_code == 403
    assert snapshot(alice, bob) == before
    assert not IdempotencyRecord.objects.filter(key="csrf-key").exists()  # the key is not used up
    assert PaymentRequest.objects.count() == 2 and FundingCard.objects.filter(removed_at=None).count() == 1


def test_html_forms_need_the_csrf_token(world):
    alice, bob = world["alice"], world["bob"]
    client = browser_for(alice, enforce_csrf_checks=True)
    ids = _ids(world)
    before = snapshot(alice, bob)
    forms = [
        ("/wallet/send/submit/", {"to": "@bob", "amount": "1.00", "currency": "USD", "idempotency_key": "h1"}),
        ("/wallet/payments/{payment}/cancel/", {}),
        ("/wallet/requests/new/", {"payers": "@bob", "amount": "1.00", "currency": "USD"}),
        ("/wallet/requests/{request}/cancel/", {}),
        ("/wallet/splits/create/", {"title": "x", "total": "2.00", "currency": "USD", "participants": "@bob"}),
        ("/wallet/tips/@bob/confirm/", {"amount": "1.00", "currency": "USD", "target": "profile"}),
        ("/wallet/cards/", {"number": "5555555555554444", "exp_month": "1", "exp_year": "2035", "cvc": "123"}),
        ("/wallet/cards/{card}/remove/", {}),
        ("/wallet/add/submit/", {"card": ids["card"], "amount": "1.00", "currency": "USD", "idempotency_key": "h2"}),
        (
            "/wallet/cash-out/submit/",
            {"card": ids["card"], "amount": "1.00", "currency": "USD", "speed": "instant", "idempotency_key": "h3"},
        ),
        ("/wallet/settings/", {"safety_delay_seconds": "600"}),
        ("/compliance/status/", {"text": "please"}),
    ]
    for url, data in forms:
        assert client.post(url.format(**ids), data).status_code == 403, url
    assert snapshot(alice, bob) == before
    world["card"].refresh_from_db()
    assert world["card"].removed_at is None
    assert not IdempotencyRecord.objects.exists()


# --- 6. Staff-only pages ----------------------------------------------------------------------------------


def _plain_staff(handle: str, *codenames: str):
    user = staff_user(handle, superuser=False)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def test_admin_refuses_non_staff_and_staff_without_the_permission(world):
    alice, bob = world["alice"], world["bob"]
    payment = world["payment"]
    viewer = _plain_staff("viewer", "view_payment", "view_fxrate", "view_fundingcard")
    before = snapshot(alice, bob)
    reverse_url = f"/admin/payments/payment/{payment.pk}/reverse/"
    # Not staff: the admin's login page.
    response = browser_for(alice).post(reverse_url, {"reason": "nope"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    # Staff who may only look: refused.
    staff = browser_for(viewer)
    assert staff.get(reverse_url).status_code == 403
    assert staff.post(reverse_url, {"reason": "nope"}).status_code == 403
    response = staff.post(
        "/admin/payments/payment/", {"action": "reverse_selected", "_selected_action": [payment.pk], "index": 0}
    )
    assert response.status_code in (200, 302)
    assert staff.get("/admin/payments/fxrate/upload-csv/").status_code == 403
    assert staff.post("/admin/payments/fxrate/add/", {"base": "USD", "quote": "EUR", "rate": "2"}).status_code == 403
    assert staff.get(f"/admin/payments/fundingcard/{world['card'].pk}/change/").status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert snapshot(alice, bob) == before


def test_admin_filters_on_the_vault_columns_show_nothing_secret(world):
    """Django's admin allows filters on local fields; the vault's are useless to filter on and never shown."""
    card = world["card"]
    admin = browser_for(staff_user("root"))
    for query in ["number_encrypted__startswith=gAAAA", f"fingerprint={card.fingerprint}", "number_encrypted__gt=0"]:
        response = admin.get(f"/admin/payments/fundingcard/?{query}")
        assert response.status_code in (200, 302, 400)
        page = response.content.decode()
        assert card.number_encrypted not in page and NUMBER not in page


# --- 7. The card vault -----------------------------------------------------------------------------------


def test_the_number_never_leaves_through_the_api_admin_logs_or_the_column(alice, caplog):
    caplog.set_level(logging.DEBUG)
    api = api_for(alice)
    body = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}
    response = raw_post(api, "/api/v1/funding-cards/", json.dumps(body))
    assert response.status_code == 201
    card_id = response.json()["id"]
    texts = [response.content.decode()]
    # Refusals never echo the number either.
    for bad in [{**body, "cvc": "12"}, {**body, "exp_year": 1999}, {**body, "cvc": 123}, body]:
        response = raw_post(api, "/api/v1/funding-cards/", json.dumps(bad))
        assert response.status_code in (400, 409)
        texts.append(response.content.decode())
    texts.append(raw_post(api, "/api/v1/top-ups/", json.dumps({"card": card_id, "amount": "5.00"})).content.decode())
    response = raw_post(api, "/api/v1/cash-outs/", json.dumps({"card": card_id, "amount": "1.00", "speed": "instant"}))
    texts.append(response.content.decode())
    texts += [
        api.get(url).content.decode() for url in ["/api/v1/funding-cards/", "/api/v1/top-ups/", "/api/v1/cash-outs/"]
    ]
    admin = browser_for(staff_user("root"))
    for url in [
        "/admin/payments/fundingcard/",
        f"/admin/payments/fundingcard/{card_id}/change/",
        "/admin/payments/topup/",
        "/admin/payments/cashout/",
        f"/admin/payments/fundingcard/?q={NUMBER}",
    ]:
        response = admin.get(url)
        assert response.status_code == 200
        page = response.content.decode()
        texts.append(page.replace(f"q={NUMBER}", "").replace(f'value="{NUMBER}"', ""))  # the search box echoes q
    texts.append(browser_for(alice).get("/wallet/cards/").content.decode())
    texts += [record.getMessage() for record in caplog.records]
    card = FundingCard.objects.get(pk=card_id)
    texts += [card.number_encrypted, repr(card), str(card), card.fingerprint]
    for text in texts:
        assert NUMBER not in text
        assert "4242 4242 4242 4242" not in text
        assert NUMBER[:8] not in text  # no run of its leading digits either
    assert "gAAAA" not in "".join(texts[:-4])  # the token is not shown anywhere but its column
    # No column of any table holds the number (or the CVC: there is no column for it at all).
    assert not any("cvc" in field.name for field in FundingCard._meta.fields)
    for model in apps.get_models():
        for row in model._base_manager.values():
            text = str(row)
            assert NUMBER not in text and "4242 4242" not in text, model


def test_an_error_report_of_a_failed_link_hides_the_number_and_cvc(alice, settings):
    """Regression: the API view's ``data`` local (number and CVC) was shown in error reports' frame
    variables (the HTML report of DEBUG pages, admin e-mails with HTML, error trackers)."""
    settings.VAULT_KEYS = []  # the vault cannot encrypt: card_link fails after the checks
    client = api_for(alice)
    client.raise_request_exception = True
    body = {"number": NUMBER, "exp_month": 12, "exp_year": 2035, "cvc": "987"}
    try:
        raw_post(client, "/api/v1/funding-cards/", json.dumps(body))
    except Exception:
        reporter = ExceptionReporter(None, *sys.exc_info())
    else:  # pragma: no cover - the request must fail
        pytest.fail("linking without VAULT_KEYS should fail")
    server_frames = _server_frames(reporter)
    assert any(frame["function"] == "post" and "payments/api" in frame["filename"] for frame in server_frames)
    _assert_no_card_in(server_frames)
    assert not FundingCard.objects.exists()


def _assert_no_card_in(frames) -> None:
    for frame in frames:
        for name, value in frame["vars"]:
            text = str(value)
            assert NUMBER not in text, (frame["function"], name)
            assert text != "987" and "'987'" not in text, (frame["function"], name)


def _server_frames(reporter) -> list:
    """The frames a production report has: from the request handler down (not the test client's)."""
    return [
        frame
        for frame in reporter.get_traceback_frames()
        if not frame["filename"].endswith(("django/test/client.py", "rest_framework/test.py", __file__))
    ]


def test_an_error_report_of_a_failed_card_form_hides_the_number_and_cvc(alice, settings):
    """The same for the HTML form: ``sensitive_post_parameters`` hides request.POST, and the view's
    locals are hidden too."""
    settings.VAULT_KEYS = []
    client = browser_for(alice)
    try:
        client.post("/wallet/cards/", {"number": NUMBER, "exp_month": "12", "exp_year": "2035", "cvc": "987"})
    except Exception:
        reporter = ExceptionReporter(None, *sys.exc_info())
    else:  # pragma: no cover
        pytest.fail("linking without VAULT_KEYS should fail")
    frames = _server_frames(reporter)
    assert any(frame["function"] == "cards" for frame in frames)
    _assert_no_card_in(frames)


def test_the_html_card_form_never_echoes_the_number(alice):
    browser = browser_for(alice)
    response = browser.post("/wallet/cards/", {"number": NUMBER, "exp_month": "12", "exp_year": "2035", "cvc": "12"})
    assert response.status_code == 400
    page = response.content.decode()
    assert NUMBER not in page and 'value="12"' not in page.split("cvc")[-1][:200]


def test_card_links_need_json(alice):
    """A form-encoded number would sit in request.POST (shown by error reports): the API takes JSON only."""
    response = api_for(alice).post(
        "/api/v1/funding-cards/",
        {"number": NUMBER, "exp_month": "12", "exp_year": "2035", "cvc": "123"},
        format="multipart",
    )
    assert response.status_code == 415
    assert not FundingCard.objects.exists()


# --- 8. Idempotency keys on money-moving APIs -----------------------------------------------------------


def test_money_moving_apis_require_an_idempotency_key(world):
    alice, bob = world["alice"], world["bob"]
    [request] = request_create(bob, payers=["@alice"], amount=Money(100, "USD"))
    client = api_for(alice)
    before = snapshot(alice, bob)
    cases = [
        ("/api/v1/payments/", {"to": "@bob", "amount": "1.00"}),
        (f"/api/v1/requests/{request.pk}/pay/", {}),
        ("/api/v1/tips/", {"to": "@bob", "amount": "1.00"}),
        ("/api/v1/top-ups/", {"card": world["card"].pk, "amount": "1.00"}),
        ("/api/v1/cash-outs/", {"card": world["card"].pk, "amount": "1.00", "speed": "instant"}),
    ]
    for url, body in cases:
        response = client.post(url, json.dumps(body), content_type="application/json")
        assert response.status_code == 400, url
        assert response.json()["error"]["code"] == "idempotency_key_missing"
        response = client.post(url, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=" ")
        assert response.status_code == 400, url
        response = client.post(url, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k" * 201)
        assert response.status_code == 400, url
    assert snapshot(alice, bob) == before


def test_a_reused_key_with_another_body_is_422_and_moves_nothing(world):
    alice, bob = world["alice"], world["bob"]
    requests = request_create(bob, payers=["@alice"], amount=Money(100, "USD"))
    [other] = request_create(bob, payers=["@alice"], amount=Money(200, "USD"))
    client = api_for(alice)
    card = world["card"].pk
    cases = [
        ("/api/v1/payments/", {"to": "@bob", "amount": "1.00"}, "/api/v1/payments/", {"to": "@bob", "amount": "2.00"}),
        (f"/api/v1/requests/{requests[0].pk}/pay/", {}, f"/api/v1/requests/{other.pk}/pay/", {}),
        (
            "/api/v1/tips/",
            {"to": "@bob", "amount": "1.00"},
            "/api/v1/tips/",
            {"to": "@bob", "amount": "1.00", "note": "x"},
        ),
        ("/api/v1/top-ups/", {"card": card, "amount": "1.00"}, "/api/v1/top-ups/", {"card": card, "amount": "3.00"}),
        (
            "/api/v1/cash-outs/",
            {"card": card, "amount": "1.00", "speed": "standard"},
            "/api/v1/cash-outs/",
            {"card": card, "amount": "1.00", "speed": "instant"},
        ),
    ]
    for index, (url, body, other_url, other_body) in enumerate(cases):
        key = f"reuse-{index}"
        first = raw_post(client, url, json.dumps(body), key=key)
        assert first.status_code == 201, (url, first.content)
        before = snapshot(alice, bob)
        replay = raw_post(client, url, json.dumps(body), key=key)
        assert replay.status_code == 201 and replay.json()["id"] == first.json()["id"]
        assert replay["Idempotent-Replayed"] == "true"
        reused = raw_post(client, other_url, json.dumps(other_body), key=key)
        assert reused.status_code == 422, (other_url, reused.content)
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
        assert snapshot(alice, bob) == before
    other.refresh_from_db()
    assert other.status == RequestStatus.OPEN


# --- 9. Escaping what people type --------------------------------------------------------------------------

XSS = "<img src=x onerror=alert(1)>\"'<script>alert(2)</script>"


def test_what_people_type_is_escaped_on_every_page(alice, fx_rates):
    evil = sender_user("evil", display_name="<script>alert(3)</script><img src=x>")
    fund(evil, "100.00")
    wallet_settings_update(evil, safety_delay_seconds=0)
    payment = payment_send(evil, to="@alice", amount=Money(100, "USD"), note=XSS)
    [request] = request_create(evil, payers=["@alice"], amount=Money(100, "USD"), note=XSS)
    split = split_create(evil, title=XSS, total=Money(200, "USD"), participants=["@alice"])
    compliance.freeze_account(staff_user("root"), user=alice, reason=XSS)
    browser = browser_for(alice)
    pages = [
        "/wallet/",
        "/wallet/?partial=1",
        f"/wallet/?q={XSS[:20]}",
        f"/wallet/payments/{payment.pk}/",
        f"/wallet/payments/{payment.pk}/?partial=1",
        "/wallet/people/?q=evi",
        f"/wallet/people/?q={XSS[:30]}",
        "/wallet/requests/",
        "/wallet/requests/?fragment=1",
        f"/wallet/requests/{request.pk}/",
        f"/wallet/requests/{request.pk}/pay/",
        "/wallet/splits/",
        f"/wallet/splits/{split.pk}/",
        "/@evil/tip",
        f"/@evil/tip?target={XSS[:30]}",
        "/wallet/statements/",
        f"/wallet/send/?to=evil&note={XSS[:60]}&amount={XSS[:20]}",
        "/compliance/status/",
        "/notifications/",
    ]
    for url in pages:
        response = browser.get(url)
        assert response.status_code in (200, 403), (url, response.status_code)
        page = response.content.decode()
        assert "<script>alert" not in page, url
        assert "<img src=x" not in page, url
    response = browser.post("/wallet/send/confirm/", {"to": "@evil", "amount": "1.00", "currency": "USD", "note": XSS})
    assert "<script>alert" not in response.content.decode()
    # The CSV export cannot run a formula in a spreadsheet.
    evil_formula = sender_user("formula", display_name="=HYPERLINK(1)")
    fund(evil_formula, "10.00")
    payment_send(evil_formula, to="@alice", amount=Money(100, "USD"), note='=cmd|" /C calc"!A0')
    today = timezone.localdate()
    response = browser.get(f"/wallet/statements/export.csv?start={today.replace(day=1)}&end={today}")
    csv_text = b"".join(response.streaming_content).decode()
    assert "HYPERLINK" in csv_text or "cmd" in csv_text
    assert "\n=" not in csv_text and ",=" not in csv_text
    # The admin escapes too.
    admin = browser_for(staff_user("root2"))
    for url in [
        f"/admin/payments/payment/{payment.pk}/change/",
        "/admin/payments/payment/",
        f"/admin/payments/paymentrequest/{request.pk}/change/",
        f"/admin/payments/split/{split.pk}/change/",
        "/admin/compliance/accountfreeze/",
        "/admin/compliance/auditentry/",
    ]:
        page = admin.get(url).content.decode()
        assert "<script>alert" not in page and "<img src=x" not in page, url


def test_people_search_api_returns_data_not_markup(alice):
    sender_user("evil", display_name="<b>Evil</b>")
    data = api_for(alice).get("/api/v1/people/?q=evil").json()["results"]
    assert data[0]["name"] == "<b>Evil</b>"  # JSON is data: the client escapes (application/json)


# --- 10. Redirects and links ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example/", "\\\\evil.example", "javascript:alert(1)"],
)
def test_next_never_leads_off_site(world, target):
    bob = world["bob"]
    request = world["request"]
    response = browser_for(bob).post(f"/wallet/requests/{request.pk}/decline/", {"next": target})
    assert response.status_code == 302
    assert response["Location"] == "/wallet/requests/"
    response = browser_for(world["alice"]).post(
        f"/wallet/cards/?next={target}",
        {"number": "5555555555554444", "exp_month": "1", "exp_year": "2035", "cvc": "1"},
    )
    assert response.status_code == 400
    response = browser_for(world["alice"]).get(f"/wallet/cards/?next={target}")
    assert target not in response.content.decode()


def test_a_local_next_is_kept(world):
    request = world["request"]
    response = browser_for(world["bob"]).post(
        f"/wallet/requests/{request.pk}/decline/", {"next": "/wallet/requests/?tab=incoming"}
    )
    assert response["Location"] == "/wallet/requests/?tab=incoming"


def test_notification_links_stay_on_site(alice):
    from notifications.models import Notification

    for url in ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "  /ok"]:
        notification = Notification(recipient=alice, kind="payment.received", data={"url": url})
        assert notification.url == "", url
    assert Notification(recipient=alice, kind="payment.received", data={"url": "/wallet/"}).url == "/wallet/"


# --- 11. Staff reviews through the admin need the permission -------------------------------------------------


def test_review_queue_decisions_need_the_permission(alice):
    review = compliance.review_open(
        alice, subject="test:sec", usd_minor=500_000, reason=ReviewReason.LARGE_AMOUNT, summary="x"
    )
    viewer = browser_for(_plain_staff("viewer2", "view_riskreview", "view_accountfreeze", "view_kycprofile"))
    assert viewer.get(f"/admin/compliance/riskreview/{review.pk}/approve/").status_code == 403
    assert viewer.post(f"/admin/compliance/riskreview/{review.pk}/approve/").status_code == 403
    assert viewer.post(f"/admin/compliance/riskreview/{review.pk}/reject/", {"reason": "no"}).status_code == 403
    viewer.post(
        "/admin/compliance/riskreview/",
        {"action": "approve_reviews", "_selected_action": [review.pk], "index": 0},
    )
    review.refresh_from_db()
    assert review.status == ReviewStatus.PENDING
    assert viewer.get("/admin/compliance/accountfreeze/add/").status_code == 403
    assert viewer.post("/admin/compliance/accountfreeze/add/", {"user": "@alice", "reason": "x"}).status_code == 403
    assert not AccountFreeze.objects.exists()
    assert browser_for(alice).get(f"/admin/compliance/riskreview/{review.pk}/approve/").status_code == 302


# --- 12. Admin changelist filters the database cannot run ------------------------------------------------

CHANGELISTS = [
    "payments/payment",
    "payments/fundingcard",
    "payments/topup",
    "payments/cashout",
    "payments/paymentrequest",
    "payments/split",
    "payments/wallet",
    "payments/fxrate",
    "payments/walletsettings",
    "compliance/kycprofile",
    "compliance/riskreview",
    "compliance/accountfreeze",
    "compliance/freezeappeal",
    "compliance/auditentry",
    "compliance/limitusage",
]


@pytest.mark.parametrize(
    "query",
    [
        "created_at__year=99999999999999999999",  # was an OverflowError (500)
        "status=%00",  # was a DataError on PostgreSQL (500)
        "currency=%00&reason=%00&base=%00",
        "id=99999999999999999999999",
        "q=%00",
    ],
)
def test_admin_changelists_answer_odd_filters_without_a_500(alice, query):
    admin = browser_for(staff_user("root"))
    for changelist in CHANGELISTS:
        response = admin.get(f"/admin/{changelist}/?{query}")
        assert response.status_code in (200, 302), (changelist, response.status_code)
        if response.status_code == 302:
            assert response["Location"].endswith("?e=1")

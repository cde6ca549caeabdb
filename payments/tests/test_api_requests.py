"""API: /api/v1/requests/, /api/v1/splits/, /api/v1/tips/ — shapes, rules, idempotency, strict types."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from core.money import Money
from payments.models import Payment, PaymentKind, PaymentRequest, RequestStatus, Split
from payments.services.requests import request_create, split_create

from .factories import balance, sender_user


@pytest.fixture
def api():
    return APIClient()


def as_user(api, user):
    api.force_login(user)
    return api


def post(api, url, body=None, key=None, raw=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    data = raw if raw is not None else json.dumps(body if body is not None else {})
    return api.post(url, data=data, content_type="application/json", **headers)


def ask(requester, payer, amount="10.00"):
    (row,) = request_create(requester, payers=[payer], amount=Money.parse(amount, "USD"))
    return row


# --- Requests ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_requests(api, alice, bob, carol):
    as_user(api, alice)
    body = {"from": ["@bob", "@carol"], "amount": "10.00", "currency": "USD", "note": "Dinner"}
    response = post(api, "/api/v1/requests/", body)
    assert response.status_code == 201, response.content
    results = response.json()["results"]
    assert [r["payer"]["handle"] for r in results] == ["bob", "carol"]
    first = results[0]
    assert first["amount"] == "10.00" and first["currency"] == "USD" and first["status"] == "open"
    assert first["role"] == "outgoing" and first["requester"] == {
        "handle": "alice",
        "name": "Alice Liddell",
        "avatar_url": None,
    }
    assert first["note"] == "Dinner" and first["split"] is None and first["can_remind_after"] is None
    assert PaymentRequest.objects.count() == 2


@pytest.mark.django_db
def test_create_defaults_to_home_currency_and_is_idempotent_with_a_key(api, alice, bob):
    as_user(api, alice)
    body = {"from": ["@bob"], "amount": "5"}
    first = post(api, "/api/v1/requests/", body, key="req-1")
    again = post(api, "/api/v1/requests/", body, key="req-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert PaymentRequest.objects.get().currency == "USD"
    assert post(api, "/api/v1/requests/", {**body, "amount": "6"}, key="req-1").status_code == 422


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"from": "@bob", "amount": "1.00"}, "from"),
        ({"from": [7], "amount": "1.00"}, "from"),
        ({"from": [], "amount": "1.00"}, "from"),
        ({"from": ["@bob"], "amount": 10}, "amount"),
        ({"from": ["@bob"], "amount": 10.5}, "amount"),
        ({"from": ["@bob"], "amount": None}, "amount"),
        ({"from": ["@bob"]}, "amount"),
        ({"from": ["@bob"], "amount": "1.00", "currency": 840}, "currency"),
        ({"from": ["@bob"], "amount": "1.00", "currency": "XXX"}, "currency"),
        ({"from": ["@bob"], "amount": "1.00", "note": {"x": 1}}, "note"),
        ({"from": ["@bob"], "amount": "1.001"}, "amount"),
        ({"from": ["@bob"], "amount": "1e3"}, "amount"),
        ({"from": ["@bob"], "amount": "-1"}, "amount"),
        ({"from": ["@bob"], "amount": "0"}, "amount"),
        ({"from": ["@bob"], "amount": "9" * 40}, "amount"),
        ({"from": ["@nobody"], "amount": "1.00"}, "from"),
        ({"from": ["@alice"], "amount": "1.00"}, "from"),
        ({"from": ["@bob", "@bob"], "amount": "1.00"}, "from"),
        ({"from": ["@bob"], "amount": "1.00", "note": "x" * 281}, "note"),
    ],
)
def test_create_rejects_bad_bodies_with_400(api, alice, bob, body, field):
    as_user(api, alice)
    response = post(api, "/api/v1/requests/", body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["message"] and field in error["fields"], error
    assert not PaymentRequest.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"', "null", "12"])
def test_create_rejects_malformed_json(api, alice, raw):
    as_user(api, alice)
    response = post(api, "/api/v1/requests/", raw=raw)
    assert response.status_code == 400 and "error" in response.json()


@pytest.mark.django_db
def test_unknown_handle_is_named(api, alice, bob):
    as_user(api, alice)
    response = post(api, "/api/v1/requests/", {"from": ["@bob", "@zed"], "amount": "1.00"})
    assert response.json()["error"]["message"] == "There is no one called @zed."
    assert response.json()["error"]["code"] == "invalid_payer"


@pytest.mark.django_db
def test_list_by_role_with_cursor_pagination(api, alice, bob, carol):
    for _ in range(3):
        ask(alice, bob)
    ask(bob, alice, "2.00")
    ask(carol, bob, "3.00")  # not alice's
    as_user(api, alice)
    incoming = api.get("/api/v1/requests/?role=incoming").json()["results"]
    assert [(r["role"], r["amount"]) for r in incoming] == [("incoming", "2.00")]
    outgoing = api.get("/api/v1/requests/?role=outgoing&page_size=2").json()
    assert len(outgoing["results"]) == 2 and outgoing["next"]
    rest = api.get(outgoing["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    assert len(api.get("/api/v1/requests/").json()["results"]) == 4
    assert api.get("/api/v1/requests/?role=everyone").status_code == 400
    assert api.get("/api/v1/requests/?cursor=bogus").status_code == 404


@pytest.mark.django_db
def test_list_query_count_is_bounded(api, alice, django_assert_max_num_queries):
    for i in range(30):
        payer = sender_user(f"payer{i}")
        ask(alice, payer, "1.00")
        ask(payer, alice, "1.00")
    as_user(api, alice)
    with django_assert_max_num_queries(6):
        response = api.get("/api/v1/requests/")
    assert len(response.json()["results"]) == 50


@pytest.mark.django_db
def test_detail_only_for_the_two_people(api, alice, bob, carol):
    row = ask(alice, bob)
    as_user(api, bob)
    data = api.get(f"/api/v1/requests/{row.pk}/").json()
    assert data["id"] == row.pk and data["role"] == "incoming" and data["payer"]["handle"] == "bob"
    as_user(api, carol)
    assert api.get(f"/api/v1/requests/{row.pk}/").status_code == 404
    assert api.get("/api/v1/requests/99999999999999999999999/").status_code == 404


@pytest.mark.django_db
def test_anonymous_is_refused(api, alice, bob):
    row = ask(alice, bob)
    assert api.get("/api/v1/requests/").status_code == 403
    assert post(api, f"/api/v1/requests/{row.pk}/pay/", key="k").status_code == 403
    assert post(api, "/api/v1/tips/", {"to": "@bob", "amount": "1.00"}, key="k").status_code == 403


@pytest.mark.django_db
def test_pay_requires_an_idempotency_key(api, alice, bob):
    row = ask(alice, bob)
    as_user(api, bob)
    response = post(api, f"/api/v1/requests/{row.pk}/pay/")
    assert response.status_code == 400 and response.json()["error"]["code"] == "idempotency_key_missing"
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_pay_once_per_key_and_once_per_request(api, alice, bob):
    row = ask(alice, bob, "10.00")
    as_user(api, bob)
    first = post(api, f"/api/v1/requests/{row.pk}/pay/", key="pay-1")
    assert first.status_code == 201, first.content
    payment = first.json()
    assert payment["kind"] == "request" and payment["request"] == row.pk and payment["status"] == "completed"
    assert payment["amount"] == "10.00" and payment["currency"] == "USD" and payment["received_amount"] == "10.00"
    assert payment["to"] == "@alice" and payment["from"] == "@bob" and payment["created"]
    replay = post(api, f"/api/v1/requests/{row.pk}/pay/", key="pay-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true" and replay.json() == payment
    other = post(api, f"/api/v1/requests/{row.pk}/pay/", key="pay-2")
    assert other.status_code == 409 and other.json()["error"]["code"] == "request_not_open"
    assert Payment.objects.count() == 1 and balance(bob) == 99000 and balance(alice) == 101000
    assert api.get(f"/api/v1/requests/{row.pk}/").json()["status"] == "paid"


@pytest.mark.django_db
def test_pay_errors(api, alice, bob, carol):
    row = ask(alice, carol, "10.00")
    as_user(api, bob)
    assert post(api, f"/api/v1/requests/{row.pk}/pay/", key="a").status_code == 404
    as_user(api, alice)
    assert post(api, f"/api/v1/requests/{row.pk}/pay/", key="b").status_code == 403
    as_user(api, carol)
    response = post(api, f"/api/v1/requests/{row.pk}/pay/", key="c")
    assert response.status_code == 422 and response.json()["error"]["code"] == "insufficient_funds"
    assert "You have $0.00 available in USD" in response.json()["error"]["message"]
    assert PaymentRequest.objects.get().status == RequestStatus.OPEN


@pytest.mark.django_db
def test_decline_cancel_remind(api, alice, bob, carol):
    one, two = ask(alice, bob), ask(alice, carol)
    as_user(api, bob)
    assert post(api, f"/api/v1/requests/{two.pk}/decline/").status_code == 404
    assert post(api, f"/api/v1/requests/{one.pk}/cancel/").status_code == 403
    declined = post(api, f"/api/v1/requests/{one.pk}/decline/")
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert post(api, f"/api/v1/requests/{one.pk}/decline/").status_code == 409

    as_user(api, alice)
    reminded = post(api, f"/api/v1/requests/{two.pk}/remind/")
    assert reminded.status_code == 200 and reminded.json()["can_remind_after"]
    too_soon = post(api, f"/api/v1/requests/{two.pk}/remind/")
    assert too_soon.status_code == 409 and too_soon.json()["error"]["code"] == "remind_too_soon"
    assert too_soon.json()["error"]["message"].startswith("You can remind again after")
    cancelled = post(api, f"/api/v1/requests/{two.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert post(api, f"/api/v1/requests/{two.pk}/remind/").status_code == 409


# --- Splits ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_and_read_a_split(api, alice, bob, carol):
    as_user(api, alice)
    body = {"title": "Dinner", "total": "100.00", "currency": "USD", "participants": ["@bob", "@carol"]}
    response = post(api, "/api/v1/splits/", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["method"] == "equal" and data["total"] == "100.00" and data["creator_share"] == "33.33"
    assert [(s["payer"]["handle"], s["amount"], s["status"]) for s in data["shares"]] == [
        ("bob", "33.34", "open"),
        ("carol", "33.33", "open"),
    ]
    as_user(api, bob)
    assert api.get(f"/api/v1/splits/{data['id']}/").json()["id"] == data["id"]
    assert [s["id"] for s in api.get("/api/v1/splits/").json()["results"]] == [data["id"]]
    as_user(api, sender_user("mallory"))
    assert api.get(f"/api/v1/splits/{data['id']}/").status_code == 404
    assert api.get("/api/v1/splits/").json()["results"] == []


@pytest.mark.django_db
def test_custom_split_over_the_api(api, alice, bob, carol):
    as_user(api, alice)
    body = {
        "title": "Trip",
        "total": "1000",
        "currency": "JPY",
        "participants": ["@bob", "@carol"],
        "method": "custom",
        "shares": {"@bob": "600", "@carol": "400"},
        "include_me": False,
    }
    response = post(api, "/api/v1/splits/", body)
    assert response.status_code == 201, response.content
    assert [s["amount"] for s in response.json()["shares"]] == ["600", "400"]
    wrong = post(api, "/api/v1/splits/", {**body, "shares": {"@bob": "600", "@carol": "300"}})
    assert wrong.status_code == 400
    assert "¥100 less than the total of ¥1,000" in wrong.json()["error"]["message"]
    assert Split.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, field",
    [
        ({"include_me": "yes"}, "include_me"),
        ({"include_me": 1}, "include_me"),
        ({"participants": "@bob"}, "participants"),
        ({"participants": [{"handle": "bob"}]}, "participants"),
        ({"total": 100}, "total"),
        ({"title": ["Dinner"]}, "title"),
        ({"method": 1}, "method"),
        ({"method": ["equal"]}, "method"),
        ({"method": "custom", "shares": ["@bob"]}, "shares"),
        ({"method": "custom", "shares": {"@bob": 50, "@alice": "50.00"}}, "shares"),
        ({"method": "custom"}, "shares"),
        ({"total": "0.01"}, "total"),
    ],
)
def test_split_bad_bodies_are_400(api, alice, bob, change, field):
    as_user(api, alice)
    body = {"title": "Dinner", "total": "100.00", "currency": "USD", "participants": ["@bob"]} | change
    response = post(api, "/api/v1/splits/", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert not Split.objects.exists()


@pytest.mark.django_db
def test_split_list_query_count_is_bounded(api, alice, bob, carol, django_assert_max_num_queries):
    for i in range(10):
        split_create(alice, title=f"Bill {i}", total=Money.parse("9.00", "USD"), participants=["@bob", "@carol"])
    as_user(api, bob)
    with django_assert_max_num_queries(6):
        response = api.get("/api/v1/splits/")
    assert len(response.json()["results"]) == 10


# --- Tips -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_tip_over_the_api(api, alice, bob):
    as_user(api, alice)
    body = {"to": "@bob", "amount": "3.00", "currency": "USD", "note": "🎉", "target": "post:12"}
    missing = post(api, "/api/v1/tips/", body)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "idempotency_key_missing"
    first = post(api, "/api/v1/tips/", body, key="tip-1")
    assert first.status_code == 201, first.content
    data = first.json()
    assert data["kind"] == PaymentKind.TIP and data["tip_target"] == "post:12" and data["to"] == "@bob"
    replay = post(api, "/api/v1/tips/", body, key="tip-1")
    assert replay.status_code == 201 and replay.json() == data
    reused = post(api, "/api/v1/tips/", {**body, "amount": "4.00"}, key="tip-1")
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"
    assert Payment.objects.count() == 1 and balance(bob) == 100300


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, status, field",
    [
        ({"to": "@alice"}, 400, "to"),
        ({"to": "@ghost"}, 400, "to"),
        ({"to": 5}, 400, "to"),
        ({"amount": 3}, 400, "amount"),
        ({"amount": "3.001"}, 400, "amount"),
        ({"currency": "EURO"}, 400, "currency"),
        ({"target": "post 12"}, 400, "target"),
        ({"target": 12}, 400, "target"),
        ({"note": False}, 400, "note"),
    ],
)
def test_tip_bad_bodies(api, alice, bob, change, status, field):
    as_user(api, alice)
    body = {"to": "@bob", "amount": "3.00", "currency": "USD"} | change
    response = post(api, "/api/v1/tips/", body, key="k-" + field)
    assert response.status_code == status, response.content
    assert field in response.json()["error"]["fields"]
    assert not Payment.objects.exists()


# --- Schema -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_schema_documents_the_routes(api, alice):
    as_user(api, alice)
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for route in [
        "/api/v1/requests/",
        "/api/v1/requests/{id}/",
        "/api/v1/requests/{id}/pay/",
        "/api/v1/requests/{id}/decline/",
        "/api/v1/requests/{id}/cancel/",
        "/api/v1/requests/{id}/remind/",
        "/api/v1/splits/",
        "/api/v1/splits/{id}/",
        "/api/v1/tips/",
    ]:
        assert route in paths, route
    pay = paths["/api/v1/requests/{id}/pay/"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in pay["parameters"])
    assert "from" in json.dumps(paths["/api/v1/requests/"]["post"])

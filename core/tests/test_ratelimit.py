"""Abuse limits (core.ratelimit): over the limit -> 429 with Retry-After and nothing changed; under
it -> normal; per user; a new window lets the person in again; allauth's sign-up, login and password
reset answer 429 with Retry-After and our page."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from core.idempotency import new_key
from core.ratelimit import Rate, parse_rates, rate_limit_hit, retry_text
from messaging import services as messaging_services
from messaging.models import Message
from payments.models import Payment, PaymentRequest
from payments.tests.factories import balance, fund, sender_user
from social.models import Post

START = datetime(2026, 3, 2, 12, 0, 10, tzinfo=UTC)  # 10 s into a minute: 50 s left in its window
FETCH = {"HTTP_X_REQUESTED_WITH": "fetch", "HTTP_ACCEPT": "application/json"}


@pytest.fixture
def limits(settings):
    """Limits on, two of each a minute (checkout: none), and counters no other test shares."""
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMITS = {
        "payments.send": "2/m",
        "payments.request": "2/m",
        "messaging.send": "2/m",
        "social.post": "2/m",
        "commerce.checkout": "0/m",
    }
    settings.RATE_LIMITS_KEY_PREFIX = f"rl-test-{uuid.uuid4().hex}"
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice(db):
    user = sender_user("alice", display_name="Alice Liddell")
    fund(user, "100.00")
    return user


@pytest.fixture
def bob(db):
    user = sender_user("bob", display_name="Bob Builder")
    fund(user, "100.00")
    return user


def signed_in(user) -> Client:
    client = fresh_client()
    client.force_login(user)
    return client


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def send_form(to="@bob") -> dict:
    return {"to": to, "amount": "1.00", "currency": "USD", "note": "", "idempotency_key": new_key()}


def api_send(api, to="@bob"):
    body = json.dumps({"to": to, "amount": "1.00", "currency": "USD"})
    return api.post("/api/v1/payments/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=new_key())


def assert_limited_json(response, action: str):
    assert response.status_code == 429
    assert response["Retry-After"] == "50"
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert f"You have been {action} too often" in error["message"] and "50 seconds" in error["message"]


# --- The counter ----------------------------------------------------------------------------------


def test_rates_are_parsed_and_bad_ones_refused():
    assert parse_rates("10/m, 100/h,50/30m,1/d,5/s") == (
        Rate(10, 60),
        Rate(100, 3600),
        Rate(50, 1800),
        Rate(1, 86400),
        Rate(5, 1),
    )
    for bad in ("10", "10/x", "x/m", "10/0m", "-1/m", ""):
        with pytest.raises(ValueError):
            parse_rates(bad)


def test_retry_text():
    assert [retry_text(s) for s in (1, 42, 60, 61, 3000, 3600, 7200)] == [
        "1 second",
        "42 seconds",
        "1 minute",
        "2 minutes",
        "50 minutes",
        "1 hour",
        "2 hours",
    ]


def test_every_window_must_allow_and_a_refusal_is_not_counted(limits, settings):
    settings.RATE_LIMITS = {"payments.send": "3/m,4/h"}
    hits = [rate_limit_hit(scope="payments.send", caller_id="user:1") for _ in range(4)]
    assert hits == [None, None, None, 50]  # the minute is full: wait for the next one
    limits.move_to(START + timedelta(minutes=1))
    assert rate_limit_hit(scope="payments.send", caller_id="user:1") is None  # the 4th of the hour
    assert rate_limit_hit(scope="payments.send", caller_id="user:1") == 3600 - 70  # the hour is full
    assert rate_limit_hit(scope="payments.send", caller_id="user:2") is None  # someone else


# --- Sending money --------------------------------------------------------------------------------


def test_html_send_is_limited_with_a_page_and_retry_after_and_moves_nothing(limits, alice, bob):
    client = signed_in(alice)
    for _ in range(5):  # the form and the confirm step are free
        assert client.get("/wallet/send/").status_code == 200
    assert client.post("/wallet/send/confirm/", send_form()).status_code == 200
    for _ in range(2):
        assert client.post("/wallet/send/submit/", send_form()).status_code == 302
    assert balance(alice) == 9800 and Payment.objects.count() == 2

    response = client.post("/wallet/send/submit/", send_form())
    assert response.status_code == 429 and response["Retry-After"] == "50"
    html = response.content.decode()
    assert "You have been sending money too often" in html and "try again in 50 seconds" in html
    assert "Nothing was changed" in html
    assert balance(alice) == 9800 and balance(bob) == 10200 and Payment.objects.count() == 2

    # A page script (fetch) gets the API's error body.
    assert_limited_json(client.post("/wallet/send/submit/", send_form(), **FETCH), "sending money")


def test_the_limit_is_per_user_and_a_new_window_lets_them_send_again(limits, alice, bob):
    client = signed_in(alice)
    for _ in range(2):
        client.post("/wallet/send/submit/", send_form())
    assert client.post("/wallet/send/submit/", send_form()).status_code == 429
    assert signed_in(bob).post("/wallet/send/submit/", send_form("@alice")).status_code == 302

    limits.move_to(START + timedelta(seconds=50))
    assert client.post("/wallet/send/submit/", send_form()).status_code == 302
    assert balance(alice) == 100_00 - 3_00 + 1_00


def test_api_send_is_limited_with_the_error_body_and_moves_nothing(limits, alice, bob):
    api = api_for(alice)
    assert [api_send(api).status_code for _ in range(2)] == [201, 201]
    assert api.get("/api/v1/payments/").status_code == 200  # reads are free
    response = api_send(api)
    assert_limited_json(response, "sending money")
    assert balance(alice) == 9800 and Payment.objects.count() == 2
    # The same scope whichever door is used: the browser is limited too.
    assert signed_in(alice).post("/wallet/send/submit/", send_form()).status_code == 429
    assert api_send(api_for(bob), "@alice").status_code == 201


def test_the_switch_turns_limits_off(limits, settings, alice, bob):
    settings.RATE_LIMITS_ENABLED = False
    api = api_for(alice)
    assert [api_send(api).status_code for _ in range(3)] == [201, 201, 201]


# --- Requests, splits and checkout (limited before anything is looked at) ---------------------------


def test_money_requests_and_splits_are_limited(limits, settings, alice, bob):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "payments.request": "0/m"}
    client, api = signed_in(alice), api_for(alice)
    body = {"payers": ["@bob"], "amount": "5.00", "currency": "USD", "idempotency_key": new_key()}
    assert client.post("/wallet/requests/new/", body).status_code == 429
    assert client.post("/wallet/splits/create/", body).status_code == 429
    assert client.get("/wallet/requests/new/").status_code == 200
    assert_limited_json(
        api.post("/api/v1/requests/", body, format="json", HTTP_IDEMPOTENCY_KEY=new_key()), "asking for money"
    )
    assert_limited_json(api.post("/api/v1/splits/", body, format="json"), "asking for money")
    assert PaymentRequest.objects.count() == 0


def test_checkout_is_limited(limits, alice):
    response = signed_in(alice).post("/shop/checkout/pay/", {"idempotency_key": new_key()})
    assert response.status_code == 429 and "checking out too often" in response.content.decode()
    assert_limited_json(api_for(alice).post("/api/v1/checkout/", {}, format="json"), "checking out")


# --- Messages and posts ---------------------------------------------------------------------------


def test_messages_are_limited_in_the_browser_and_the_api(limits, db):
    ann, ben = UserFactory(handle="ann_rl", verified=True), UserFactory(handle="ben_rl", verified=True)
    conversation = messaging_services.conversation_direct_open(ann, other=ben)
    client, url = signed_in(ann), f"/messages/{conversation.pk}/post/"
    assert client.post(url, {"body": "one"}).status_code == 302
    api_url = f"/api/v1/conversations/{conversation.pk}/messages/"
    assert api_for(ann).post(api_url, {"body": "two"}, format="json").status_code == 201
    assert client.get(f"/messages/{conversation.pk}/").status_code == 200
    assert_limited_json(client.post(url, {"body": "three"}, **FETCH), "sending messages")
    assert_limited_json(api_for(ann).post(api_url, {"body": "four"}, format="json"), "sending messages")
    assert list(Message.objects.filter(conversation=conversation).values_list("body", flat=True).order_by("id")) == [
        "one",
        "two",
    ]
    assert signed_in(ben).post(url, {"body": "ben's"}).status_code == 302


def test_posts_are_limited_in_the_browser_and_the_api(limits, db):
    dora = UserFactory(handle="dora_rl", verified=True)
    client, api = signed_in(dora), api_for(dora)
    assert client.post("/posts/new", {"text": "first"}).status_code == 302
    assert api.post("/api/v1/posts/", {"text": "second"}, format="json").status_code == 201
    response = client.post("/posts/new", {"text": "third"})
    assert response.status_code == 429 and "You have been posting too often" in response.content.decode()
    assert_limited_json(api.post("/api/v1/posts/", {"text": "fourth"}, format="json"), "posting")
    assert sorted(Post.objects.filter(author=dora).values_list("text", flat=True)) == ["first", "second"]


# --- allauth: sign-up, login, password reset ----------------------------------------------------------


@pytest.fixture
def allauth_limits(settings, db):
    settings.RATE_LIMITS_ENABLED = True
    settings.ACCOUNT_RATE_LIMITS = {"login": "2/m/ip", "signup": "1/m/ip", "reset_password": "1/m/ip"}
    with time_machine.travel(START, tick=False):
        yield


def fresh_client() -> Client:
    """A browser from an address of its own: allauth counts per IP, in a cache other tests share."""
    octets = secrets.token_bytes(3)
    return Client(REMOTE_ADDR=f"10.{octets[0]}.{octets[1]}.{octets[2]}")


def test_login_over_the_limit_is_a_429_page_with_retry_after(allauth_limits):
    client = fresh_client()
    assert client.get("/accounts/login/").status_code == 200
    for _ in range(2):
        assert client.post("/accounts/login/", {"login": "nobody", "password": "wrong"}).status_code == 200
    response = client.post("/accounts/login/", {"login": "nobody", "password": "wrong"})
    assert response.status_code == 429 and response["Retry-After"] == "60"  # the oldest hit leaves in 60 s
    assert "You have been signing in too often" in response.content.decode()


def test_signup_and_password_reset_over_the_limit_are_429_with_retry_after(allauth_limits):
    client = fresh_client()
    client.post("/accounts/signup/", {"email": "x@example.com", "username": "x_one", "password1": "a"})
    response = client.post("/accounts/signup/", {"email": "y@example.com", "username": "y_two", "password1": "a"})
    assert response.status_code == 429 and response["Retry-After"] == "60"
    assert "signing up too often" in response.content.decode()
    client.post("/accounts/password/reset/", {"email": "x@example.com"})
    response = client.post("/accounts/password/reset/", {"email": "x@example.com"})
    assert response.status_code == 429 and response["Retry-After"] == "60"
    assert "asking for password resets too often" in response.content.decode()


def test_headless_login_over_the_limit_is_a_429_with_retry_after(allauth_limits):
    client = fresh_client()
    url = "/_allauth/app/v1/auth/login"
    body = json.dumps({"username": "nobody", "password": "wrong"})
    for _ in range(2):
        assert client.post(url, body, content_type="application/json").status_code != 429
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 429 and response["Retry-After"] == "60"
    assert response.json()["status"] == 429

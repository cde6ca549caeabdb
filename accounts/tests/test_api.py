"""GET/PATCH /api/v1/me/ with the browser session and with allauth's app session token."""

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.test_profile import upload

ME = "/api/v1/me/"


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def alice(db):
    return UserFactory(handle="alice", display_name="Alice Liddell", verified=True, bio="hi")


def _session_token(api, **credentials) -> str:
    response = api.post("/_allauth/app/v1/auth/login", {**credentials, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["meta"]["session_token"]


def test_me_with_the_browser_session(client, alice):
    client.force_login(alice)
    response = client.get(ME)
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": alice.pk,
        "handle": "alice",
        "display_name": "Alice Liddell",
        "email": "alice@example.com",
        "avatar_url": None,
        "initials": "AL",
        "bio": "hi",
        "website": "",
        "is_protected": False,
        "home_currency": "USD",
        "country": "US",
        "state": "",
        "time_zone": "UTC",
        "message_policy": "everyone",
        "date_joined": body["date_joined"],
    }
    assert body["date_joined"]


@pytest.mark.parametrize("credentials", [{"username": "alice"}, {"email": "alice@example.com"}])
def test_me_with_the_headless_app_session_token(api, alice, credentials):
    token = _session_token(api, **credentials)
    fresh = APIClient()  # no cookies: only the token identifies the caller
    response = fresh.get(ME, HTTP_X_SESSION_TOKEN=token)
    assert response.status_code == 200
    assert response.json()["handle"] == "alice"


def test_a_bad_session_token_is_refused(api, alice):
    response = api.get(ME, HTTP_X_SESSION_TOKEN="not-a-token")
    assert response.status_code in (401, 403)
    assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_anonymous_is_refused_in_the_error_shape(api, db):
    response = api.get(ME)
    assert response.status_code in (401, 403)
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert error["message"]
    assert error["fields"] == {}


def test_patch_changes_the_profile(api, alice):
    token = _session_token(api, username="alice")
    response = api.patch(
        ME,
        {"display_name": "Alice L", "country": "GB", "time_zone": "Europe/London", "home_currency": "GBP"},
        format="json",
        HTTP_X_SESSION_TOKEN=token,
    )
    assert response.status_code == 200, response.content
    assert response.json()["display_name"] == "Alice L"
    alice.refresh_from_db()
    assert (str(alice.country), alice.state, alice.time_zone, alice.home_currency) == (
        "GB",
        "",
        "Europe/London",
        "GBP",
    )
    assert alice.bio == "hi"  # untouched


def test_patch_with_session_auth_needs_csrf(alice):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(alice)
    response = api.patch(ME, {"bio": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time_zone": "Mars/Base"}, "time_zone"),
        ({"home_currency": "DOGE"}, "home_currency"),
        ({"bio": "x" * 161}, "bio"),
        ({"country": "ZZ"}, "country"),
    ],
)
def test_patch_field_errors_in_the_error_shape(api, alice, body, field):
    api.force_authenticate(alice)
    response = api.patch(ME, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]


def test_patch_state_rule_in_the_error_shape(api, alice):
    alice.state = "NY"  # a saved US address: clearing its state is refused
    alice.save(update_fields=["state"])
    api.force_authenticate(alice)
    response = api.patch(ME, {"country": "US", "state": ""}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_profile"
    assert "state" in error["fields"]
    response = api.patch(ME, {"country": "FR", "state": "CA"}, format="json")
    assert response.status_code == 400
    assert "state" in response.json()["error"]["fields"]
    alice.refresh_from_db()
    assert str(alice.country) == "US"


def test_me_shows_the_avatar_url(client, alice):
    services.profile_update(alice, avatar=upload())
    client.force_login(alice)
    url = client.get(ME).json()["avatar_url"]
    assert url.startswith("http://testserver/media/avatars/")


def test_schema_documents_me(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = response.content.decode()
    assert "/api/v1/me/" in schema
    assert "me_partial_update" in schema and "PatchedMeUpdate" in schema

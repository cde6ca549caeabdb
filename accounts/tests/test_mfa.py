"""Two-factor authentication: TOTP activation with a real code, then login demands it."""

import time

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value

from accounts.tests.factories import PASSWORD, UserFactory


def totp_code(secret: str, offset: int = 0) -> str:
    counter = int(time.time()) // mfa_settings.TOTP_PERIOD + offset
    return format_hotp_value(hotp_value(secret, counter))


def _login(client, login="alice", password=PASSWORD):
    return client.post("/accounts/login/", {"login": login, "password": password})


def _reauthenticate(client):
    response = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302


def _activate_totp(client) -> str:
    _reauthenticate(client)  # changing two-factor settings needs a fresh password entry
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="qr"' in html and "data:image/svg+xml" in html
    secret = client.session[SECRET_SESSION_KEY]
    assert secret in html  # shown so it can be typed in by hand
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    assert response.status_code == 302, response.content.decode()[:2000]
    return secret


@pytest.fixture
def alice(db):
    return UserFactory(handle="alice", verified=True)


def test_activate_totp_then_login_demands_the_code(client, alice, mailoutbox):
    assert _login(client).status_code == 302
    _reauthenticate(client)
    wrong = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})
    assert wrong.status_code == 200
    assert not Authenticator.objects.filter(user=alice).exists()

    secret = _activate_totp(client)
    assert Authenticator.objects.filter(user=alice, type=Authenticator.Type.TOTP).exists()
    assert "authenticator app is active" in client.get("/accounts/2fa/").content.decode()

    client.post("/accounts/logout/")
    response = _login(client)
    assert response.status_code == 302
    assert response.url == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session  # the password alone is not enough
    page = client.get(response.url)
    assert page.status_code == 200
    assert client.get("/settings/").status_code == 302

    bad = client.post("/accounts/2fa/authenticate/", {"code": "123456" if totp_code(secret) != "123456" else "654321"})
    assert bad.status_code == 200
    assert "_auth_user_id" not in client.session

    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == alice.pk


def test_recovery_codes_page_lists_codes_that_log_in(client, alice):
    _login(client)
    _activate_totp(client)
    page = client.get("/accounts/2fa/recovery-codes/")
    assert page.status_code == 200
    codes = Authenticator.objects.get(user=alice, type=Authenticator.Type.RECOVERY_CODES).wrap().get_unused_codes()
    assert len(codes) >= 8
    html = page.content.decode()
    assert all(code in html for code in codes)
    assert client.get("/accounts/2fa/recovery-codes/download/").status_code == 200
    assert client.get("/accounts/2fa/recovery-codes/generate/").status_code == 200

    client.post("/accounts/logout/")
    _login(client)
    response = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == alice.pk
    remaining = Authenticator.objects.get(user=alice, type=Authenticator.Type.RECOVERY_CODES).wrap()
    assert codes[0] not in remaining.get_unused_codes()


def test_totp_activation_asks_a_stale_session_to_reauthenticate(client, alice):
    client.force_login(alice)  # no record of a recent password entry
    response = client.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 302
    assert "/reauthenticate/" in response.url
    page = client.get(response.url)
    assert page.status_code == 200
    response = client.post(response.url, {"password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/accounts/2fa/totp/activate/").status_code == 200

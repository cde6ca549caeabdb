"""Staff MFA for the admin (core.admin_mfa): no authenticator -> set one up; an authenticator this
session has not passed -> enter the code; passed (MFA login or re-authentication) -> the admin."""

from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.messages import get_messages

from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.test_mfa import totp_code
from core.admin_mfa import DEMO_TOTP_SECRET, demo_code

SECRET = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
ACTIVATE = "/accounts/2fa/totp/activate/?next=%2Fadmin%2F"
REAUTHENTICATE = "/accounts/2fa/reauthenticate/?next=%2Fadmin%2F"


@pytest.fixture(autouse=True)
def _require_mfa(settings):
    settings.ADMIN_REQUIRE_MFA = True


@pytest.fixture
def staff(db):
    return UserFactory(handle="stella", verified=True, is_staff=True, is_superuser=True)


@pytest.fixture
def staff_with_totp(staff):
    TOTP.activate(staff, SECRET)
    return staff


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_staff_without_an_authenticator_is_sent_to_set_one_up(client, staff):
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url == ACTIVATE
    assert any("must use two-factor authentication" in text for text in _messages(response))
    # Every admin page, not only the index, and POSTs too.
    assert client.get("/admin/accounts/user/").status_code == 302
    assert client.post("/admin/accounts/user/", {}).status_code == 302


def test_staff_whose_session_did_not_pass_mfa_is_asked_for_the_code(client, staff_with_totp):
    client.force_login(staff_with_totp)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url == REAUTHENTICATE
    assert any("authenticator code" in text for text in _messages(response))
    page = client.get(REAUTHENTICATE)
    assert page.status_code == 200


def test_a_wrong_code_keeps_the_admin_closed(client, staff_with_totp):
    client.force_login(staff_with_totp)
    response = client.post(REAUTHENTICATE, {"code": "000000"})
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


def test_reauthenticating_with_the_code_opens_the_admin_and_returns_to_the_page(client, staff_with_totp):
    client.force_login(staff_with_totp)
    response = client.post(REAUTHENTICATE, {"code": totp_code(SECRET)})
    assert response.status_code == 302 and response.url == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200


def test_a_password_and_code_login_opens_the_admin(client, staff_with_totp):
    response = client.post("/accounts/login/", {"login": "stella", "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/accounts/2fa/authenticate/"
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(SECRET)})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_password_only_admin_login_still_needs_the_code(client, staff_with_totp):
    response = client.post("/admin/login/?next=/admin/", {"username": "stella", "password": PASSWORD})
    assert response.status_code == 302  # Django's admin login form signs in with the password alone...
    assert client.get("/admin/").url == REAUTHENTICATE  # ...but the admin stays closed without MFA


def test_people_who_are_not_staff_meet_the_admins_own_checks(client, db):
    assert client.get("/admin/").url == "/admin/login/?next=/admin/"
    client.force_login(UserFactory(handle="normal", verified=True))
    assert client.get("/admin/").url == "/admin/login/?next=/admin/"
    assert client.get("/admin/login/").status_code == 200


def test_the_setting_turns_it_off(client, staff, settings):
    settings.ADMIN_REQUIRE_MFA = False
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200


def test_seed_demo_gives_the_demo_admin_the_published_authenticator(db, settings):
    from everything.management.commands.seed_demo import Command

    settings.DEBUG = True
    Command(stdout=StringIO())._seed_admin()
    Command(stdout=StringIO())._seed_admin()  # run again: still one authenticator
    authenticator = Authenticator.objects.get(user__handle="admin", type=Authenticator.Type.TOTP)
    assert TOTP(authenticator).validate_code(demo_code())
    assert demo_code() == totp_code(DEMO_TOTP_SECRET)

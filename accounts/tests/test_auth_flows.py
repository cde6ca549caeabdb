"""Sign-up with email verification, login by email or handle, password reset."""

import re

import pytest
from django.contrib.auth import get_user_model

from accounts.tests.factories import PASSWORD, UserFactory

User = get_user_model()
LINK = re.compile(r"https?://[^\s]+")


def _links(mail) -> list[str]:
    return [link.split("testserver", 1)[-1] for link in LINK.findall(mail.body)]


def _is_logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def _login(client, login, password=PASSWORD):
    return client.post("/accounts/login/", {"login": login, "password": password})


@pytest.mark.django_db
def test_signup_verification_then_login_by_email_and_handle(client, mailoutbox):
    response = client.post(
        "/accounts/signup/",
        {"email": "new@example.com", "username": "newbie", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert response.url == "/accounts/confirm-email/"
    assert not _is_logged_in(client)
    user = User.objects.get(handle="newbie")
    assert user.email == "new@example.com"

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["new@example.com"]
    assert mail.subject.startswith("[Everything]")
    confirm_url = next(link for link in _links(mail) if "/accounts/confirm-email/" in link)

    # Before the link is followed, logging in is refused (and the mail is sent again).
    response = _login(client, "newbie")
    assert response.status_code == 302
    assert response.url == "/accounts/confirm-email/"
    assert not _is_logged_in(client)
    assert len(mailoutbox) == 2

    page = client.get(confirm_url)
    assert page.status_code == 200
    assert "new@example.com" in page.content.decode()
    response = client.post(confirm_url)
    assert response.status_code == 302
    assert user.emailaddress_set.get().verified

    response = _login(client, "new@example.com")
    assert response.status_code == 302 and response.url == "/"
    assert _is_logged_in(client)
    client.post("/accounts/logout/")
    assert not _is_logged_in(client)

    response = _login(client, "NewBie")  # the handle, any case
    assert response.status_code == 302 and response.url == "/"
    assert _is_logged_in(client)
    home = client.get("/")
    assert "Hi, newbie" in home.content.decode()


@pytest.mark.django_db
def test_wrong_password_is_refused_with_a_message(client):
    UserFactory(handle="alice", verified=True)
    response = _login(client, "alice", "not-the-password")
    assert response.status_code == 200
    assert not _is_logged_in(client)
    assert "not correct" in response.content.decode()


@pytest.mark.django_db
def test_login_page_has_one_email_or_handle_field(client):
    page = client.get("/accounts/login/").content.decode()
    assert "Email or handle" in page
    assert 'name="login"' in page


@pytest.mark.django_db
def test_signup_page_labels_the_handle(client):
    page = client.get("/accounts/signup/").content.decode()
    assert ">Handle</label>" in page
    assert "lowercase letters, digits and underscores" in page
    for name in ("email", "username", "password1", "password2"):
        assert f'name="{name}"' in page


@pytest.mark.django_db
def test_password_reset_by_mail_sets_a_new_password(client, mailoutbox):
    UserFactory(handle="forgetful", verified=True)
    response = client.post("/accounts/password/reset/", {"email": "forgetful@example.com"})
    assert response.status_code == 302
    assert response.url == "/accounts/password/reset/done/"
    assert client.get(response.url).status_code == 200
    assert len(mailoutbox) == 1
    reset_url = next(link for link in _links(mailoutbox[0]) if "/password/reset/key/" in link)

    response = client.get(reset_url)
    assert response.status_code == 302  # allauth moves the key out of the URL into the session
    set_url = response.url
    page = client.get(set_url)
    assert page.status_code == 200
    response = client.post(set_url, {"password1": "brand-New-pass-9", "password2": "brand-New-pass-9"})
    assert response.status_code == 302
    assert client.get(response.url).status_code == 200

    assert _login(client, "forgetful", PASSWORD).status_code == 200  # the old one no longer works
    assert not _is_logged_in(client)
    response = _login(client, "forgetful", "brand-New-pass-9")
    assert response.status_code == 302
    assert _is_logged_in(client)


@pytest.mark.django_db
def test_password_reset_for_unknown_address_reveals_nothing(client, mailoutbox):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response.url == "/accounts/password/reset/done/"

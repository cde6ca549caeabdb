"""Handle rules: 3–15 of [a-z0-9_], reserved words refused, case-insensitive, stored lowercase."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.tests.factories import UserFactory
from accounts.validators import validate_handle

User = get_user_model()


@pytest.mark.parametrize("handle", ["abc", "alice_99", "a_b", "x" * 15, "user_1"])
def test_good_handles_pass(handle):
    validate_handle(handle)


@pytest.mark.parametrize(
    ("handle", "code"),
    [
        ("ab", "invalid_handle"),  # too short
        ("x" * 16, "invalid_handle"),  # too long
        ("ali-ce", "invalid_handle"),
        ("ali ce", "invalid_handle"),
        ("alicé", "invalid_handle"),
        ("alice!", "invalid_handle"),
        ("alice\n", "invalid_handle"),
        ("admin", "reserved_handle"),
        ("support", "reserved_handle"),
        ("everything", "reserved_handle"),
    ],
)
def test_bad_handles_are_refused(handle, code):
    with pytest.raises(ValidationError) as exc:
        validate_handle(handle)
    assert exc.value.code == code


def _signup(client, handle, email=None):
    return client.post(
        "/accounts/signup/",
        {
            "email": email or f"{handle.lower()}@example.com",
            "username": handle,
            "password1": "pw-Everything-1",
            "password2": "pw-Everything-1",
        },
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("handle", "message"),
    [
        ("ab", "3–15 characters"),
        ("a" * 16, "at most 15 characters"),
        ("bad-handle", "lowercase letters, digits and underscores"),
        ("admin", "reserved"),
    ],
)
def test_signup_form_shows_handle_errors(client, handle, message):
    response = _signup(client, handle, email="someone@example.com")
    assert response.status_code == 200
    assert not User.objects.exists()
    assert message in response.content.decode()


@pytest.mark.django_db
def test_signup_stores_handle_lowercase(client, mailoutbox):
    response = _signup(client, "Alice_1")
    assert response.status_code == 302
    assert User.objects.get().handle == "alice_1"


@pytest.mark.django_db
def test_handles_are_unique_ignoring_case(client):
    UserFactory(handle="alice")
    response = _signup(client, "Alice", email="other@example.com")
    assert response.status_code == 200
    assert "taken" in response.content.decode().lower()
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_model_stores_lowercase_and_database_refuses_case_duplicates():
    user = User.objects.create_user(handle="MixedCase", email="m@example.com", password="x")
    user.refresh_from_db()
    assert user.handle == "mixedcase"
    assert User.objects.get_by_natural_key("MIXEDCASE") == user
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(handle="mixedCASE", email="n@example.com", password="x")

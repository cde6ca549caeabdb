"""Hostile input reaching core helpers is a clear 400, never a 500."""

import pytest
from django.test import RequestFactory

from accounts.tests.factories import UserFactory
from core.errors import ValidationFailed
from core.idempotency import request_key
from core.money import InvalidAmount, Money


@pytest.mark.parametrize("text", ["١٢", "৪", "１２", "12.５"])
def test_amounts_in_other_scripts_digits_are_refused(text):
    with pytest.raises(InvalidAmount):
        Money.parse(text, "USD")


def test_an_idempotency_key_with_a_nul_or_control_character_is_refused():
    for bad in ["abc\x00def", "line\nbreak"]:
        request = RequestFactory().post("/", {"idempotency_key": bad})
        with pytest.raises(ValidationFailed):
            request_key(request)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    ["[" * 5000 + "]" * 5000, '{"display_name": "\\ud800"}', '{"bio": "a\\u0000b"}', '{"x": NaN}'],
)
def test_every_api_refuses_hostile_json_with_a_400(client, body):
    user = UserFactory(verified=True)
    client.force_login(user)
    response = client.patch("/api/v1/me/", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"

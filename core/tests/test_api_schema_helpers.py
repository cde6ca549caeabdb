"""The OpenAPI pieces and strict fields the API modules share (core.api)."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from core.api import (
    ERROR_RESPONSE,
    IDEMPOTENCY_KEY_OPTIONAL,
    IDEMPOTENCY_KEY_REQUIRED,
    StrictBooleanField,
    StrictCharField,
    decimal_text,
    error_responses,
)


def test_decimal_text_uses_the_currency_minor_units():
    assert decimal_text(1250, "USD") == "12.50"
    assert decimal_text(0, "USD") == "0.00"
    assert decimal_text(500, "JPY") == "500"


def test_error_responses_all_point_at_the_one_error_envelope():
    responses = error_responses(400, 404)
    assert set(responses) == {400, 404}
    assert all(response.response is ERROR_RESPONSE for response in responses.values())


def test_idempotency_key_parameters():
    assert IDEMPOTENCY_KEY_REQUIRED.name == IDEMPOTENCY_KEY_OPTIONAL.name == "Idempotency-Key"
    assert IDEMPOTENCY_KEY_REQUIRED.required is True
    assert IDEMPOTENCY_KEY_OPTIONAL.required is False


@pytest.mark.parametrize(("field", "good", "bad"), [(StrictCharField, "12", 12), (StrictBooleanField, True, "yes")])
def test_strict_fields_refuse_other_json_types(field, good, bad):
    assert field().to_internal_value(good) == good
    with pytest.raises(serializers.ValidationError):
        field().to_internal_value(bad)

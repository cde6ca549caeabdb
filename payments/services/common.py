"""Input checks shared by the money-moving services (send, funding, escrow, requests).

One copy of each: the request fingerprint an idempotency key is bound to, the key's
own check, and the free-text check (notes, descriptions, titles).
"""

from __future__ import annotations

import hashlib
import json

from core.errors import ValidationFailed

IDEMPOTENCY_KEY_MAX_LENGTH = 200


def request_hash(**fields) -> str:
    """A stable fingerprint of a request's fields: a replayed key must come with the same one."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def check_idempotency_key(key: object) -> str | None:
    """None (no key) or a non-blank string of at most 200 characters (no NUL: PostgreSQL refuses it), else
    ValidationFailed."""
    if key is None:
        return None
    if not isinstance(key, str) or not key.strip() or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or "\x00" in key:
        raise ValidationFailed("An idempotency key is 1–200 characters.", code="invalid_idempotency_key")
    return key


def check_text(value: object, *, field: str, label: str, max_length: int, required: bool = False) -> str:
    """Stripped text of at most ``max_length`` characters (None is ""); ValidationFailed on ``field`` otherwise."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"The {label} must be text.", fields={field: ["Must be text."]})
    if "\x00" in value:  # PostgreSQL text cannot hold NUL: refuse it here, not with a 500
        raise ValidationFailed(
            f"The {label} contains a character that is not allowed.", fields={field: ["Invalid character."]}
        )
    value = value.strip()
    if required and not value:
        raise ValidationFailed(f"Enter a {label}.", fields={field: ["Required."]})
    if len(value) > max_length:
        raise ValidationFailed(
            f"The {label} is {len(value)} characters; the limit is {max_length}.",
            fields={field: [f"At most {max_length} characters."]},
        )
    return value

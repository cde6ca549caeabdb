"""Handle rules: 3–15 characters of [a-z0-9_], case-insensitive, reserved words refused."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

HANDLE_MIN_LENGTH = 3
HANDLE_MAX_LENGTH = 15

# Words that would impersonate staff or collide with a URL of ours (/@admin...).
_RESERVED_WORDS = """
    about accounts admin administrator api app billing cards careers checkout
    compliance contact developers docs everything explore fees finance help home
    inbox info legal loans login logout mail me media messages moderator
    notifications official payments privacy profile root savings security
    settings shop signup static staff status support system terms wallet www
"""
RESERVED_HANDLES = frozenset(_RESERVED_WORDS.split())

handle_format = RegexValidator(
    regex=rf"^[a-z0-9_]{{{HANDLE_MIN_LENGTH},{HANDLE_MAX_LENGTH}}}\Z",
    message=(
        f"A handle is {HANDLE_MIN_LENGTH}–{HANDLE_MAX_LENGTH} characters: lowercase letters, digits and underscores."
    ),
    code="invalid_handle",
)


def validate_handle_not_reserved(value: str) -> None:
    if value.lower() in RESERVED_HANDLES:
        raise ValidationError("That handle is reserved. Please choose another.", code="reserved_handle")


def validate_handle(value: str) -> None:
    handle_format(value)
    validate_handle_not_reserved(value)


HANDLE_VALIDATORS = [handle_format, validate_handle_not_reserved]

"""API plumbing: the error body of DESIGN §6, the default cursor pagination, and the OpenAPI
pieces (error envelope, ``Idempotency-Key`` header, strict input fields) the API modules share."""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.views import defaults
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError
from .idempotency import HEADER
from .money import to_decimal

# --- OpenAPI pieces shared by the API modules --------------------------------------------------


@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": {}},
        ],
        "description": "The field's messages; for a list or a nested object, the same shape again keyed by "
        'position or by sub-field (e.g. {"0": ["This field may not be blank."]}).',
    }
)
class _FieldErrors(serializers.JSONField):
    """One entry of an error's ``fields`` (documentation only)."""


#: The error body every endpoint may answer with (see ``exception_handler`` below).
ERROR_RESPONSE = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(child=_FieldErrors()),
            },
        )
    },
)


def error_responses(*codes: int) -> dict:
    """``{code: OpenApiResponse(ERROR_RESPONSE)}`` for each HTTP status, to spread into ``responses``."""
    return {code: OpenApiResponse(ERROR_RESPONSE) for code in codes}


IDEMPOTENCY_KEY_REQUIRED = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=True,
    description="Any unique string up to 200 characters (e.g. a UUID). The same key and body replay the first "
    "answer and move nothing; the same key with another body answers 422 idempotency_key_reused.",
)
IDEMPOTENCY_KEY_OPTIONAL = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Optional: makes a retry replay the first answer (the same key and body) instead of acting twice.",
)


def decimal_text(amount_minor: int, currency: str) -> str:
    """Minor units as a major-unit decimal string: (1250, "USD") -> "12.50"."""
    return str(to_decimal(amount_minor, currency))


# --- Strict input fields -----------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """Only JSON strings (DRF's CharField would turn 12 into "12")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true/false (DRF's would accept "yes", 1...)."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class DefaultCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    # What a cursor's position may look like for this ordering (ids here); a
    # forged cursor is a 404, never a query error.
    position_pattern = re.compile(r"\d{1,19}")

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None and not self.position_pattern.fullmatch(cursor.position):
            raise exceptions.NotFound(self.invalid_cursor_message)
        return cursor


def error_response(code: str, message: str, http_status: int, fields: dict | None = None, headers=None) -> Response:
    return Response(
        {"error": {"code": code, "message": message, "fields": fields or {}}},
        status=http_status,
        headers=headers,
    )


def _flatten(detail) -> str:
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    return str(detail)


def exception_handler(exc, context):
    """Every error the API returns has the shape {"error": {code, message, fields}}."""
    if isinstance(exc, DomainError):
        return error_response(exc.code, exc.message, exc.status, exc.fields)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django report it
    # Keep what DRF says about retrying or authenticating (Retry-After, WWW-Authenticate).
    headers = {name: value for name, value in response.headers.items() if name in ("Retry-After", "WWW-Authenticate")}
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = "Some of the information given is not valid."
        if "non_field_errors" in fields:
            message = _flatten(fields["non_field_errors"])
        return error_response("invalid", message, status.HTTP_400_BAD_REQUEST, fields)
    code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    if not isinstance(code, str):
        code = "error"
    return error_response(
        code, _flatten(response.data.get("detail", response.data)), response.status_code, headers=headers
    )


def handler404(request, exception):
    """Django's 404 (a path no URL pattern matches, e.g. /api/v1/loans/abc/repay/): under /api/ the
    API's JSON error body, elsewhere the site's page (everything/urls.py ``handler404``)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "not_found", "message": "Not found.", "fields": {}}}, status=404)
    return defaults.page_not_found(request, exception)

"""The card network API (merchant-facing) under /api/v1/network/: authorise, capture, reverse, refund.

Authenticated ONLY by the ``X-Merchant-Key`` header (a key made in the admin, shown once): no
session, no CSRF, no user token. A missing or wrong key is a 401 ``merchant_key_missing`` /
``merchant_key_invalid``. Amounts are decimal strings (``"12.34"``); every call carries a
``network_transaction_id`` (1–64 printable characters) and is idempotent by it: the same id and
body replay the stored answer and move nothing; the same id with another body is refused.

Thin: parse strictly, call ``cards.network``, answer its dict with the amounts as decimal strings.
A decline is a normal answer (200, ``"approved": false``), not an error.
"""

from __future__ import annotations

import re

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictBooleanField, StrictCharField, decimal_text, error_responses
from core.errors import ValidationFailed
from core.money import Money, check_currency
from core.parsers import JSON_ONLY

from . import network

TAG = "card network"
HEADER = "X-Merchant-Key"
CARD_CURRENCY = "USD"
NETWORK_ID_RE = re.compile(r"^[\x21-\x7e]{1,64}$")  # printable ASCII, no spaces

MERCHANT_KEY = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=True,
    description="The merchant's API key (made in the admin, shown once).",
)


class MerchantKeyMissing(exceptions.AuthenticationFailed):
    default_detail = f"Send your merchant API key in the {HEADER} header."
    default_code = "merchant_key_missing"


class MerchantKeyInvalid(exceptions.AuthenticationFailed):
    default_detail = "That merchant API key is not valid (unknown or deactivated)."
    default_code = "merchant_key_invalid"


class HasMerchantKey(BasePermission):
    """Lets the request through when ``X-Merchant-Key`` names an active merchant (put on ``request.merchant``)."""

    def has_permission(self, request, view) -> bool:
        key = request.headers.get(HEADER)
        if not key or not key.strip():
            raise MerchantKeyMissing()
        if len(key) > 200 or not key.isprintable():
            raise MerchantKeyInvalid()
        merchant = network.merchant_authenticate(key.strip())
        if merchant is None:
            raise MerchantKeyInvalid()
        request.merchant = merchant
        return True


class NetworkView(APIView):
    authentication_classes: list = []
    permission_classes = [HasMerchantKey]
    parser_classes = JSON_ONLY

    def get_authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to a missing or wrong key.
        return f'{HEADER} realm="card-network"'


def _validated(serializer_class, request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationFailed("The body must be a JSON object.", code="invalid_body")
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _amount(text: str, currency: str, field: str = "amount") -> int:
    try:
        return Money.parse(text, currency).amount
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, code=exc.code, fields={field: [exc.message]}) from None


def _out(result: dict, currency: str) -> Response:
    """The network's answer with every ``*amount`` in minor units turned into a decimal string."""
    currency = result.get("currency") or currency
    body = {}
    for key, value in result.items():
        if key.endswith("amount") and isinstance(value, int) and not isinstance(value, bool):
            body[key] = decimal_text(value, currency)
        else:
            body[key] = value
    return Response(body)


class NetworkIdSerializer(serializers.Serializer):
    network_transaction_id = StrictCharField(
        max_length=64, help_text="Your unique id for this call (1–64 printable ASCII). Retries reuse it."
    )

    def validate_network_transaction_id(self, value):
        if not NETWORK_ID_RE.match(value):
            raise serializers.ValidationError("1–64 printable ASCII characters, no spaces.")
        return value


class AuthorizeSerializer(NetworkIdSerializer):
    number = StrictCharField(max_length=19, help_text="The card number, digits only.")
    exp_month = serializers.IntegerField(min_value=1, max_value=12)
    exp_year = serializers.IntegerField(min_value=2000, max_value=2199, help_text="Four digits, e.g. 2029.")
    cvv = StrictCharField(max_length=4)
    amount = StrictCharField(max_length=32, help_text='Decimal string, e.g. "12.34".')
    currency = StrictCharField(max_length=3, help_text="ISO 4217; cards spend USD only (else declined).")
    merchant_name = StrictCharField(max_length=100, required=False, help_text="Shown to the holder; default: yours.")
    category_code = StrictCharField(max_length=4, required=False, help_text="MCC, 4 digits; default: yours.")

    def validate_category_code(self, value):
        if not re.fullmatch(r"[0-9]{4}", value):
            raise serializers.ValidationError("Four digits.")
        return value

    def validate_number(self, value):
        if not (value.isascii() and value.isdigit()) or not 12 <= len(value) <= 19:
            raise serializers.ValidationError("Digits only, 12 to 19 of them.")
        return value

    def validate_cvv(self, value):
        if not (value.isascii() and value.isdigit()) or len(value) not in (3, 4):
            raise serializers.ValidationError("3 or 4 digits.")
        return value


class CaptureSerializer(NetworkIdSerializer):
    amount = StrictCharField(
        max_length=32, required=False, allow_null=True, help_text="Decimal string; omitted or null: all that is held."
    )
    final = StrictBooleanField(required=False, default=False, help_text="true: release whatever is left after this.")


class RefundSerializer(NetworkIdSerializer):
    amount = StrictCharField(max_length=32, help_text="Decimal string, up to what was captured less refunds.")


ResultSerializer = inline_serializer(
    name="NetworkResult",
    fields={
        "approved": serializers.BooleanField(),
        "authorization_id": serializers.IntegerField(allow_null=True),
        "status": serializers.CharField(),
        "decline_reason": serializers.CharField(),
        "amount": serializers.CharField(help_text="Decimal string."),
        "currency": serializers.CharField(),
        "held_amount": serializers.CharField(help_text="Still held after this call, decimal string."),
        "network_transaction_id": serializers.CharField(),
    },
)
ERRORS = error_responses(400, 401, 404, 409, 422)


class AuthorizeView(NetworkView):
    @extend_schema(
        summary="Authorise a card payment",
        description="Approved: a hold is placed on the holder's wallet (released after 7 days if not captured). "
        "Declined: `approved` false with a `decline_reason`. Idempotent by `network_transaction_id`.",
        parameters=[MERCHANT_KEY],
        request=AuthorizeSerializer,
        responses={200: ResultSerializer, **ERRORS},
        tags=[TAG],
    )
    @method_decorator(sensitive_variables("data", "serializer"))  # the number and CVV never in an error report
    def post(self, request):
        data = _validated(AuthorizeSerializer, request)
        currency = check_currency(data["currency"].upper())
        merchant = request.merchant
        result = network.card_authorize(
            merchant,
            number=data["number"],
            exp_month=data["exp_month"],
            exp_year=data["exp_year"],
            cvv=data["cvv"],
            amount=_amount(data["amount"], currency),
            currency=currency,
            merchant_name=(data.get("merchant_name") or "").strip() or merchant.name,
            category_code=data.get("category_code") or None,
            network_transaction_id=data["network_transaction_id"],
        )
        return _out(result, currency)


class CaptureView(NetworkView):
    @extend_schema(
        summary="Capture an authorisation (all, or part)",
        description="Posts `amount` (default: all that is held) of the hold; may be called several times up to the "
        "held amount. `final: true` releases the rest. 422 `capture_exceeds_hold`; 409 `authorization_expired`.",
        parameters=[MERCHANT_KEY],
        request=CaptureSerializer,
        responses={200: ResultSerializer, **ERRORS},
        tags=[TAG],
    )
    def post(self, request, pk: int):
        data = _validated(CaptureSerializer, request)
        amount = data.get("amount")
        result = network.card_capture(
            request.merchant,
            authorization_id=pk,
            amount=None if amount is None else _amount(amount, CARD_CURRENCY),
            network_transaction_id=data["network_transaction_id"],
            final=data.get("final", False),
        )
        return _out(result, CARD_CURRENCY)


class ReverseView(NetworkView):
    @extend_schema(
        summary="Reverse (void) what is still held",
        description="Releases the rest of the hold back to the holder; captured parts stay captured.",
        parameters=[MERCHANT_KEY],
        request=NetworkIdSerializer,
        responses={200: ResultSerializer, **ERRORS},
        tags=[TAG],
    )
    def post(self, request, pk: int):
        data = _validated(NetworkIdSerializer, request)
        result = network.card_reverse(
            request.merchant, authorization_id=pk, network_transaction_id=data["network_transaction_id"]
        )
        return _out(result, CARD_CURRENCY)


class RefundView(NetworkView):
    @extend_schema(
        summary="Refund a captured payment (all or part)",
        description="Credits the holder's wallet, up to what was captured less earlier refunds.",
        parameters=[MERCHANT_KEY],
        request=RefundSerializer,
        responses={200: ResultSerializer, **ERRORS},
        tags=[TAG],
    )
    def post(self, request, pk: int):
        data = _validated(RefundSerializer, request)
        result = network.card_refund(
            request.merchant,
            authorization_id=pk,
            amount=_amount(data["amount"], CARD_CURRENCY),
            network_transaction_id=data["network_transaction_id"],
        )
        return _out(result, CARD_CURRENCY)

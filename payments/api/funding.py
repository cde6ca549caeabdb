"""API of funding: linked cards, top-ups (add money) and cash-outs.

Thin: parse strictly (DRF serializers; amounts are decimal strings, a JSON
number with a fraction is read as an exact decimal, never a float), call
``payments.services.funding``, serialise. Domain errors become
``{"error": {...}}`` through ``core.api.exception_handler``.

A card's number and CVC are write-only: no response, error or log line
carries them. Money-moving POSTs (top-ups, cash-outs) need an
``Idempotency-Key`` header, also handed to the service.
"""

from __future__ import annotations

from decimal import Decimal

from django.urls import path
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ERROR_RESPONSE, IDEMPOTENCY_KEY_REQUIRED, DefaultCursorPagination, decimal_text
from core.errors import DomainError, ValidationFailed
from core.idempotency import idempotent, request_key
from core.money import CURRENCIES, Money

from ..models import CashOut, CashOutSpeed, FundingCard, MovementStatus, TopUp
from ..services.funding import (
    card_label,
    card_link,
    card_remove,
    cash_out_for_user,
    cash_outs_for,
    cashout_arrival,
    cashout_create,
    cashout_quote,
    funding_card_for_user,
    funding_cards_for,
    top_up_for_user,
    top_ups_for,
    topup_create,
)
from .parsers import JSON_ONLY

TAG = "funding"


def _when(value):
    return serializers.DateTimeField().to_representation(value) if value else None


# --- Input fields ------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class AmountField(serializers.Field):
    """A decimal string in major units ("12.34"); a JSON number is read exactly. Never a bool or a float."""

    default_error_messages = {"invalid": 'A decimal string like "12.34".'}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int, Decimal)):
            self.fail("invalid")
        text = data if isinstance(data, str) else str(data)
        if len(text) > 40 or not text.isascii():  # only ASCII digits: "١٢" is not an amount here
            self.fail("invalid")
        return text

    def to_representation(self, value):
        return value


@extend_schema_field(OpenApiTypes.STR)
class CurrencyField(serializers.Field):
    default_error_messages = {"invalid": f"One of {', '.join(CURRENCIES)}."}

    def to_internal_value(self, data):
        if not isinstance(data, str) or data.strip().upper() not in CURRENCIES:
            self.fail("invalid")
        return data.strip().upper()

    def to_representation(self, value):
        return value


class _StrictText(serializers.CharField):
    """Text only: a JSON number or bool is refused (a card number typed as a number loses nothing, but
    a CVC or number must arrive as the digits the person typed)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class _StrictInt(serializers.IntegerField):
    """A JSON integer, or a string of ASCII digits (DRF's would read "١" as 1 and "1.0" as 1)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("invalid")
        if isinstance(data, str) and not (data.strip().isascii() and data.strip().isdigit()):
            self.fail("invalid")
        return super().to_internal_value(data)


def _money(text: str, currency: str) -> Money:
    try:
        return Money.parse(text, currency)
    except DomainError as exc:
        raise ValidationFailed(exc.message, code=exc.code, fields={"amount": [exc.message]}) from None


def _validated(serializer_class, request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationFailed("The body must be a JSON object.", code="invalid_body")
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- Serializers ----------------------------------------------------------------------------------


class FundingCardSerializer(serializers.ModelSerializer):
    """A linked card as its owner sees it: never the number."""

    label = serializers.SerializerMethodField(help_text='"Visa •••• 4242".')
    created = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = FundingCard
        fields = ["id", "brand", "last4", "exp_month", "exp_year", "label", "created"]
        read_only_fields = fields

    def get_label(self, card) -> str:
        return card_label(card)


class CardLinkSerializer(serializers.Serializer):
    number = _StrictText(max_length=40, write_only=True, help_text="The card number; spaces and dashes are fine.")
    exp_month = _StrictInt(min_value=1, max_value=12, write_only=True)
    exp_year = _StrictInt(min_value=0, max_value=9999, write_only=True, help_text="2030 (or 30).")
    cvc = _StrictText(
        max_length=4, write_only=True, help_text="3 digits (4 for American Express). Used once, never stored."
    )


class _CardBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    brand = serializers.CharField()
    last4 = serializers.CharField()

    def to_representation(self, card):
        return {"id": card.pk, "label": card_label(card), "brand": card.brand, "last4": card.last4}


class TopUpSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=MovementStatus.values)
    amount = serializers.CharField(help_text="Charged to the card and added to the wallet, a decimal string.")
    currency = serializers.CharField()
    fee = serializers.CharField(help_text="Always 0: adding money is free.")
    card = _CardBriefSerializer()
    decline_code = serializers.CharField(allow_null=True)
    created = serializers.DateTimeField()
    completed = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField()

    def to_representation(self, t: TopUp):
        return {
            "id": t.pk,
            "status": t.status,
            "amount": decimal_text(t.amount, t.currency),
            "currency": t.currency,
            "fee": decimal_text(0, t.currency),
            "card": _CardBriefSerializer().to_representation(t.card),
            "decline_code": t.decline_code or None,
            "created": _when(t.created_at),
            "completed": _when(t.completed_at),
            "url": f"/wallet/add/{t.pk}/",
        }


class TopUpCreateSerializer(serializers.Serializer):
    card = _StrictInt(min_value=1, max_value=2**63 - 1, help_text="The id of one of your linked cards.")
    amount = AmountField(help_text='A decimal string in major units, like "50.00". At most 2,500.00 USD-equivalent.')
    currency = CurrencyField(required=False, help_text="Default: your home currency.")


class CashOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=MovementStatus.values)
    speed = serializers.ChoiceField(choices=CashOutSpeed.values)
    amount = serializers.CharField(help_text="What arrives on the card.")
    fee = serializers.CharField()
    total = serializers.CharField(help_text="Taken from the wallet: amount + fee.")
    currency = serializers.CharField()
    card = _CardBriefSerializer()
    decline_code = serializers.CharField(allow_null=True)
    arrives_by = serializers.DateTimeField(allow_null=True, help_text="Standard and pending: when it is paid out.")
    created = serializers.DateTimeField()
    completed = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField()

    def to_representation(self, c: CashOut):
        waiting = c.status == MovementStatus.PENDING and c.speed == CashOutSpeed.STANDARD
        return {
            "id": c.pk,
            "status": c.status,
            "speed": c.speed,
            "amount": decimal_text(c.amount, c.currency),
            "fee": decimal_text(c.fee, c.currency),
            "total": decimal_text(c.amount + c.fee, c.currency),
            "currency": c.currency,
            "card": _CardBriefSerializer().to_representation(c.card),
            "decline_code": c.decline_code or None,
            "arrives_by": _when(c.settle_after) if waiting else None,
            "created": _when(c.created_at),
            "completed": _when(c.completed_at),
            "url": f"/wallet/cash-out/{c.pk}/",
        }


class CashOutQuoteRequestSerializer(serializers.Serializer):
    amount = AmountField(help_text="What should arrive on the card, a decimal string.")
    currency = CurrencyField(required=False, help_text="The wallet currency; default: your home currency.")
    speed = serializers.ChoiceField(choices=CashOutSpeed.values, help_text="standard (free) or instant (1.5% fee).")


class CashOutCreateSerializer(CashOutQuoteRequestSerializer):
    card = _StrictInt(min_value=1, max_value=2**63 - 1, help_text="The id of one of your linked cards.")


CASH_OUT_QUOTE_RESPONSE = inline_serializer(
    name="CashOutQuote",
    fields={
        "amount": serializers.CharField(help_text="Arrives on the card."),
        "fee": serializers.CharField(),
        "total": serializers.CharField(help_text="Taken from the wallet."),
        "currency": serializers.CharField(),
        "speed": serializers.CharField(),
        "arrives_by": serializers.DateTimeField(allow_null=True, help_text="Standard: the payout date; instant: null."),
    },
)


# --- Views ---------------------------------------------------------------------------------------


class FundingCardListView(generics.ListAPIView):
    serializer_class = FundingCardSerializer
    # JSON only: a form-encoded body would put the number into request.POST, which error reports show.
    parser_classes = JSON_ONLY
    pagination_class = DefaultCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return FundingCard.objects.none()
        return funding_cards_for(self.request.user)

    @extend_schema(
        summary="List your linked cards", description="Newest first. Never includes a card number.", tags=[TAG]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Link a debit card",
        description=(
            "Checks the number (Luhn), expiry and CVC, verifies the card with the processor ($0) and stores "
            "the number encrypted. The response never includes the number. Refusals: 400 `card_invalid` "
            '(with the fields), 409 `card_already_linked`, 422 `card_refused` ("This card can\'t be used."), '
            "`card_limit` (5 cards) or `card_network_timeout`. Test numbers: docs/test-cards.md."
        ),
        request=CardLinkSerializer,
        responses={
            201: FundingCardSerializer,
            400: OpenApiResponse(ERROR_RESPONSE),
            409: OpenApiResponse(ERROR_RESPONSE),
            422: OpenApiResponse(ERROR_RESPONSE),
        },
        tags=[TAG],
    )
    @method_decorator(sensitive_variables("data"))  # an error report never shows the number or the CVC
    def post(self, request):
        data = _validated(CardLinkSerializer, request)
        card = card_link(
            request.user,
            number=data["number"],
            exp_month=data["exp_month"],
            exp_year=data["exp_year"],
            cvc=data["cvc"],
        )
        return Response(FundingCardSerializer(card).data, status=201)


class FundingCardDetailView(APIView):
    @extend_schema(
        summary="One of your linked cards",
        responses={200: FundingCardSerializer, 404: OpenApiResponse(ERROR_RESPONSE)},
        tags=[TAG],
    )
    def get(self, request, pk: int):
        return Response(FundingCardSerializer(funding_card_for_user(request.user, pk)).data)

    @extend_schema(
        summary="Remove a linked card",
        description="Unlinks the card (a cash-out already on its way still arrives). Not yours: 404.",
        responses={204: None, 404: OpenApiResponse(ERROR_RESPONSE)},
        tags=[TAG],
    )
    def delete(self, request, pk: int):
        card_remove(request.user, card=pk)
        return Response(status=204)


class TopUpListView(generics.ListAPIView):
    serializer_class = TopUpSerializer
    pagination_class = DefaultCursorPagination
    parser_classes = JSON_ONLY

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TopUp.objects.none()
        return top_ups_for(self.request.user)

    @extend_schema(summary="List your top-ups", description="Newest first, cursor-paginated.", tags=[TAG])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Add money from a linked card",
        description=(
            "Charges the card and credits your wallet at once (free). Needs an `Idempotency-Key` header: the "
            "same key and body return the first top-up and charge nothing more; another body answers 422 "
            '`idempotency_key_reused`. A decline answers 422 `card_declined` ("Your bank declined this charge: '
            'insufficient funds."), a network timeout 422 `card_network_timeout`; nothing moves. Also 403 '
            "(frozen, unverified, region), 404 (not your card), 422 `top_up_limit` (over 2,500.00 USD-equivalent)."
        ),
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
        request=TopUpCreateSerializer,
        responses={
            201: TopUpSerializer,
            400: OpenApiResponse(ERROR_RESPONSE),
            403: OpenApiResponse(ERROR_RESPONSE),
            404: OpenApiResponse(ERROR_RESPONSE),
            409: OpenApiResponse(ERROR_RESPONSE),
            422: OpenApiResponse(ERROR_RESPONSE),
        },
        tags=[TAG],
    )
    @idempotent(required=True)
    def post(self, request):
        data = _validated(TopUpCreateSerializer, request)
        money = _money(data["amount"], data.get("currency") or request.user.home_currency)
        topup = topup_create(
            request.user, card=data["card"], amount=money, idempotency_key=request_key(request._request)
        )
        return Response(TopUpSerializer(topup).data, status=201)


class TopUpDetailView(APIView):
    @extend_schema(
        summary="One top-up", responses={200: TopUpSerializer, 404: OpenApiResponse(ERROR_RESPONSE)}, tags=[TAG]
    )
    def get(self, request, pk: int):
        return Response(TopUpSerializer(top_up_for_user(request.user, pk)).data)


class CashOutListView(generics.ListAPIView):
    serializer_class = CashOutSerializer
    pagination_class = DefaultCursorPagination
    parser_classes = JSON_ONLY

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CashOut.objects.none()
        return cash_outs_for(self.request.user)

    @extend_schema(summary="List your cash-outs", description="Newest first, cursor-paginated.", tags=[TAG])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Cash out to a linked card",
        description=(
            "`standard`: free; the amount is held in your wallet and paid out in 1–3 business days "
            "(answers 201 with status `pending` and `arrives_by`). `instant`: paid out now for a fee of 1.5% "
            "(min 0.25, max 15.00); answers 201 `completed`, or 422 `card_declined` / `card_network_timeout` "
            "with the money back in your wallet. The amount plus the fee must be available (422 "
            "`insufficient_funds`). Quote first with `POST /api/v1/cash-outs/quote/`. Needs an "
            "`Idempotency-Key` header (same key and body: the first answer; another body: 422)."
        ),
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
        request=CashOutCreateSerializer,
        responses={
            201: CashOutSerializer,
            400: OpenApiResponse(ERROR_RESPONSE),
            403: OpenApiResponse(ERROR_RESPONSE),
            404: OpenApiResponse(ERROR_RESPONSE),
            409: OpenApiResponse(ERROR_RESPONSE),
            422: OpenApiResponse(ERROR_RESPONSE),
        },
        tags=[TAG],
    )
    @idempotent(required=True)
    def post(self, request):
        data = _validated(CashOutCreateSerializer, request)
        money = _money(data["amount"], data.get("currency") or request.user.home_currency)
        cashout = cashout_create(
            request.user,
            card=data["card"],
            amount=money,
            speed=data["speed"],
            idempotency_key=request_key(request._request),
        )
        return Response(CashOutSerializer(cashout).data, status=201)


class CashOutDetailView(APIView):
    @extend_schema(
        summary="One cash-out", responses={200: CashOutSerializer, 404: OpenApiResponse(ERROR_RESPONSE)}, tags=[TAG]
    )
    def get(self, request, pk: int):
        return Response(CashOutSerializer(cash_out_for_user(request.user, pk)).data)


class CashOutQuoteView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Quote a cash-out",
        description=(
            'Body `{"amount": "100.00", "currency": "USD", "speed": "instant"}`: the fee, the total taken from '
            "the wallet and when it arrives. Nothing moves."
        ),
        request=CashOutQuoteRequestSerializer,
        responses={200: CASH_OUT_QUOTE_RESPONSE, 400: OpenApiResponse(ERROR_RESPONSE)},
        tags=[TAG],
    )
    def post(self, request):
        data = _validated(CashOutQuoteRequestSerializer, request)
        money = _money(data["amount"], data.get("currency") or request.user.home_currency)
        quote = cashout_quote(request.user, amount=money, speed=data["speed"])
        return Response(
            {
                "amount": str(quote.amount.decimal),
                "fee": str(quote.fee.decimal),
                "total": str(quote.total.decimal),
                "currency": money.currency,
                "speed": data["speed"],
                "arrives_by": _when(cashout_arrival(data["speed"])),
            }
        )


urlpatterns = [
    path("funding-cards/", FundingCardListView.as_view(), name="api-funding-cards"),
    path("funding-cards/<int:pk>/", FundingCardDetailView.as_view(), name="api-funding-card-detail"),
    path("top-ups/", TopUpListView.as_view(), name="api-top-ups"),
    path("top-ups/<int:pk>/", TopUpDetailView.as_view(), name="api-top-up-detail"),
    path("cash-outs/", CashOutListView.as_view(), name="api-cash-outs"),
    path("cash-outs/quote/", CashOutQuoteView.as_view(), name="api-cash-out-quote"),
    path("cash-outs/<int:pk>/", CashOutDetailView.as_view(), name="api-cash-out-detail"),
]

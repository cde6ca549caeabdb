"""The cardholder's API under /api/v1/cards/: list (masked), request, freeze/unfreeze, limits,
replace, reveal, and a card's authorisations (cursor-paginated).

Thin: parse strictly, call ``cards.services`` / ``cards.selectors``, serialise. Limits are decimal
strings in dollars (``"250.00"``). A card id of someone else's is a 404. The full number and CVV
leave only through ``reveal``, which needs a re-authentication within the last 60 seconds (browser:
allauth's reauthenticate page; headless clients: ``POST /_allauth/app/v1/auth/reauthenticate``).
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import SessionBase
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import DefaultCursorPagination, StrictCharField, decimal_text, error_responses
from core.errors import NotFound, ValidationFailed
from core.parsers import JSON_ONLY

from . import services
from .forms import CURRENCY, parse_dollars
from .models import Authorization, Card
from .views import last_reauthenticated_at

TAG = "cards"


def _dt(value):
    return serializers.DateTimeField().to_representation(value) if value else None


class CardSerializer(serializers.Serializer):
    """A card as the API shows it: never the number, the CVV or the fingerprint."""

    id = serializers.IntegerField()
    last4 = serializers.CharField()
    masked = serializers.CharField(help_text='"•••• 4242"')
    expiry = serializers.CharField(help_text='"MM/YY"')
    exp_month = serializers.IntegerField()
    exp_year = serializers.IntegerField()
    status = serializers.CharField(help_text="active | frozen | cancelled")
    currency = serializers.CharField()
    per_purchase_limit = serializers.CharField(help_text="Decimal string, dollars.")
    daily_limit = serializers.CharField(help_text="Decimal string, dollars.")
    issue_reason = serializers.CharField()
    replaces = serializers.IntegerField(allow_null=True, help_text="The id of the card this one replaced.")
    created_at = serializers.DateTimeField()
    frozen_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, card: Card) -> dict:
        return {
            "id": card.pk,
            "last4": card.last4,
            "masked": card.masked,
            "expiry": card.expiry,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "status": card.status,
            "currency": CURRENCY,
            "per_purchase_limit": decimal_text(card.per_purchase_limit, CURRENCY),
            "daily_limit": decimal_text(card.daily_limit, CURRENCY),
            "issue_reason": card.issue_reason,
            "replaces": card.replaces_id,
            "created_at": _dt(card.created_at),
            "frozen_at": _dt(card.frozen_at),
            "cancelled_at": _dt(card.cancelled_at),
        }


class AuthorizationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    merchant_name = serializers.CharField()
    category_code = serializers.CharField()
    amount = serializers.CharField(help_text="What the merchant asked for, decimal string.")
    currency = serializers.CharField()
    status = serializers.CharField(help_text="pending | partially_captured | captured | reversed | expired | declined")
    decline_reason = serializers.CharField(help_text='"" unless declined.')
    held = serializers.CharField(help_text="Still reserved on the wallet.")
    captured = serializers.CharField()
    refunded = serializers.CharField()
    released = serializers.CharField(help_text="Reversed or expired.")
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def to_representation(self, a: Authorization) -> dict:
        c = a.currency
        return {
            "id": a.pk,
            "merchant_name": a.merchant_name,
            "category_code": a.category_code,
            "amount": decimal_text(a.amount, c),
            "currency": c,
            "status": a.status,
            "decline_reason": a.decline_reason,
            "held": decimal_text(a.held_amount, c),
            "captured": decimal_text(a.captured_amount, c),
            "refunded": decimal_text(a.refunded_amount, c),
            "released": decimal_text(a.released_amount, c),
            "expires_at": _dt(a.expires_at),
            "created_at": _dt(a.created_at),
        }


class LimitsSerializer(serializers.Serializer):
    per_purchase = StrictCharField(max_length=32, help_text='Dollars, e.g. "250.00"; up to the maximum.')
    daily = StrictCharField(max_length=32, help_text='Dollars, e.g. "1000.00"; up to the maximum.')


RevealSerializer = inline_serializer(
    name="RevealedCard",
    fields={
        "number": serializers.CharField(help_text="16 digits."),
        "cvv": serializers.CharField(),
        "exp_month": serializers.IntegerField(),
        "exp_year": serializers.IntegerField(),
        "visible_until": serializers.DateTimeField(help_text="Forget the details after this moment."),
    },
)


def _validated(serializer_class, request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationFailed("The body must be a JSON object.", code="invalid_body")
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _dollars(text: str, field: str) -> int:
    try:
        return parse_dollars(text)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, code=exc.code, fields={field: [exc.message]}) from None


def _own_card(user, pk: int) -> Card:
    card = Card.objects.filter(pk=pk, user_id=user.pk).first()
    if card is None:
        raise NotFound("No such card.", code="card_not_found")
    return card


class CardListView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Your cards",
        description="Every card you have had, newest first (cancelled ones included), masked.",
        responses={200: CardSerializer(many=True)},
        tags=[TAG],
    )
    def get(self, request):
        cards = Card.objects.filter(user_id=request.user.pk).order_by("-id")
        return Response([CardSerializer(c).data for c in cards])

    @extend_schema(
        summary="Ask for a card",
        description="Issues your debit card now (201). 422 `card_not_eligible` below KYC tier 1 or when the USD "
        "balance is under the threshold; 409 `card_exists` if you already have an active or frozen card. "
        "No body.",
        request=None,
        responses={201: CardSerializer, **error_responses(409, 422)},
        tags=[TAG],
    )
    def post(self, request):
        return Response(CardSerializer(services.card_issue(request.user)).data, status=201)


def _card_action(name: str, service, summary: str, description: str, *, status: int = 200):
    @extend_schema(
        summary=summary,
        description=description,
        request=None,
        responses={status: CardSerializer, **error_responses(404, 409)},
        tags=[TAG],
    )
    def post(self, request, pk: int):
        return Response(CardSerializer(service(request.user, card=pk)).data, status=status)

    return type(f"Card{name}View", (APIView,), {"post": post, "parser_classes": JSON_ONLY})


CardFreezeView = _card_action(
    "Freeze",
    lambda user, card: services.card_freeze(user, card=card),
    "Freeze a card",
    "Every purchase is declined (`card_frozen`) until you unfreeze it. 409 `card_not_usable` for a cancelled card.",
)
CardUnfreezeView = _card_action(
    "Unfreeze",
    lambda user, card: services.card_unfreeze(user, card=card),
    "Unfreeze a card",
    "409 `card_not_usable` for a cancelled card.",
)
CardReplaceView = _card_action(
    "Replace",
    lambda user, card: services.card_replace(user, card=card),
    "Replace a card",
    "Cancels this card at once and issues a new one (new number, expiry, CVV; same limits). Answers the new card.",
    status=201,
)


class CardLimitsView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Set spending limits",
        description="Both limits as decimal strings in dollars, from 0.01 up to the maxima "
        "(CARDS_MAX_PURCHASE_LIMIT, CARDS_MAX_DAILY_LIMIT; $5,000.00 and $10,000.00 by default).",
        request=LimitsSerializer,
        responses={200: CardSerializer, **error_responses(400, 404, 409)},
        tags=[TAG],
    )
    def post(self, request, pk: int):
        data = _validated(LimitsSerializer, request)
        card = services.card_limits_set(
            request.user,
            card=pk,
            per_purchase=_dollars(data["per_purchase"], "per_purchase"),
            daily=_dollars(data["daily"], "daily"),
        )
        return Response(CardSerializer(card).data)


def _session(request):
    """The session allauth records (re-)authentications in: the headless token's, or the browser's."""
    if isinstance(request.auth, SessionBase):
        return request.auth
    return getattr(request._request, "session", None)


class CardRevealView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Show the full card number and CVV",
        description="Only within 60 seconds of re-authenticating (password or MFA code) in this session: "
        "otherwise 403 `reauthentication_required` (headless clients: `POST /_allauth/app/v1/auth/reauthenticate` "
        "then retry). Each reveal is written to the audit trail. The answer is never cached.",
        request=None,
        responses={200: RevealSerializer, **error_responses(403, 404, 409)},
        tags=[TAG],
    )
    @method_decorator(sensitive_variables("revealed", "response", "data"))  # never in an error report
    def post(self, request, pk: int):
        revealed = services.card_reveal(
            request.user, card=pk, authenticated_at=last_reauthenticated_at(_session(request), request.user)
        )
        response = Response(
            {
                "number": revealed.number,
                "cvv": revealed.cvv,
                "exp_month": revealed.exp_month,
                "exp_year": revealed.exp_year,
                "visible_until": _dt(revealed.visible_until),
            }
        )
        response["Cache-Control"] = "no-store"
        return response


class CardAuthorizationListView(generics.ListAPIView):
    serializer_class = AuthorizationSerializer
    pagination_class = DefaultCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Authorization.objects.none()
        card = _own_card(self.request.user, self.kwargs["pk"])
        return Authorization.objects.filter(card=card)

    @extend_schema(
        summary="A card's authorisations, newest first",
        description="Approved and declined purchases; cursor-paginated (`next`/`previous` links).",
        responses={200: AuthorizationSerializer(many=True), **error_responses(404)},
        tags=[TAG],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

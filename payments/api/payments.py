"""API of the wallet: balances, payments (list, send, detail, return, cancel), FX quotes, people.

Thin, like the HTML views: parse strictly, call ``payments.services`` or
``payments.selectors``, serialise. Domain errors become ``{"error": {...}}``
through ``core.api.exception_handler``. Sending money needs an
``Idempotency-Key`` header; the key is also handed to ``payment_send`` so a
retry after a late failure moves nothing twice.
"""

from __future__ import annotations

from decimal import Decimal

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    ERROR_RESPONSE,
    IDEMPOTENCY_KEY_OPTIONAL,
    IDEMPOTENCY_KEY_REQUIRED,
    DefaultCursorPagination,
    decimal_text,
)
from core.errors import DomainError, NotFound, NotPermitted, ValidationFailed
from core.idempotency import idempotent, request_key
from core.money import CURRENCIES, CURRENCY_CHOICES, Money

from ..models import Payment, PaymentKind
from ..selectors import payment_visible_to, payments_visible_to, people_search, wallet_balances
from ..services.fx import fx_quote
from ..services.send import (
    payment_cancel,
    payment_for_user,
    payment_quote,
    payment_return,
    payment_send,
    safety_delay_for,
)
from .parsers import JSON_ONLY, PARSERS

TAG = "wallet"


# --- Serializers -----------------------------------------------------------------------


class BalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    balance = serializers.CharField(help_text="Posted balance, a decimal string.")
    available = serializers.CharField(help_text="What can be spent now (balance less outgoing holds).")
    pending_in = serializers.CharField(help_text="Money on its way in (e.g. a payment in its safety delay).")
    pending_out = serializers.CharField(help_text="Money on its way out (held payments, standard cash-outs).")

    def to_representation(self, b):
        return {
            "currency": b.currency,
            "balance": decimal_text(b.balance, b.currency),
            "available": decimal_text(b.available, b.currency),
            "pending_in": decimal_text(b.pending_in, b.currency),
            "pending_out": decimal_text(b.pending_out, b.currency),
        }


class WalletSerializer(serializers.Serializer):
    home_currency = serializers.CharField()
    balances = BalanceSerializer(many=True)
    safety_delay_seconds = serializers.IntegerField(
        help_text="0 (off), 600, 3600 or 86400: the delay of a first payment to someone new."
    )


class PaymentEventSerializer(serializers.Serializer):
    status = serializers.CharField()
    message = serializers.CharField()
    actor = serializers.CharField(allow_null=True, help_text='"@handle", or null for the system.')
    created = serializers.DateTimeField()

    def to_representation(self, event):
        return {
            "status": event.status,
            "message": event.message,
            "actor": f"@{event.actor.handle}" if event.actor_id else None,
            "created": serializers.DateTimeField().to_representation(event.created_at),
        }


class PaymentSerializer(serializers.Serializer):
    """A payment as one of its parties sees it. Amounts are decimal strings in major units."""

    id = serializers.IntegerField()
    status = serializers.CharField(
        help_text="arriving (safety delay), in_review, completed, returned, cancelled or rejected."
    )
    kind = serializers.ChoiceField(choices=PaymentKind.values)
    direction = serializers.ChoiceField(choices=["sent", "received"], help_text="From the caller's side.")
    amount = serializers.CharField(help_text="What left the sender.")
    currency = serializers.CharField()
    received_amount = serializers.CharField(help_text="What arrives (differs when currencies differ).")
    received_currency = serializers.CharField()
    fx_rate = serializers.CharField(allow_null=True, help_text="Applied rate incl. the spread, or null.")
    to = serializers.CharField(help_text='"@handle" of the recipient.')
    note = serializers.CharField()
    created = serializers.DateTimeField()
    completed = serializers.DateTimeField(allow_null=True)
    returned = serializers.DateTimeField(allow_null=True)
    release_at = serializers.DateTimeField(allow_null=True, help_text="Safety delay: when it arrives.")
    review_reason = serializers.CharField(allow_null=True, help_text="Held for review (sender only): the category.")
    review_deadline = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField(help_text="The payment's page on the site.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(help_text='"@handle" of the sender.')  # a keyword in Python
        return fields

    def to_representation(self, p: Payment):
        user = self.context["request"].user
        when = serializers.DateTimeField().to_representation
        sent = p.sender_id == user.pk
        return {
            "id": p.pk,
            "status": p.status,
            "kind": p.kind,
            "direction": "sent" if sent else "received",
            "amount": decimal_text(p.amount, p.currency),
            "currency": p.currency,
            "received_amount": decimal_text(p.received_amount, p.received_currency),
            "received_currency": p.received_currency,
            "fx_rate": f"{p.fx_rate.normalize():f}" if p.fx_rate is not None and p.is_fx else None,
            "to": f"@{p.recipient.handle}",
            "from": f"@{p.sender.handle}",
            "note": p.note,
            "created": when(p.created_at),
            "completed": when(p.completed_at) if p.completed_at else None,
            "returned": when(p.returned_at) if p.returned_at else None,
            "release_at": when(p.release_at) if p.release_at else None,
            "review_reason": (p.review_reason or None) if sent else None,
            "review_deadline": when(p.review_deadline) if sent and p.review_deadline else None,
            "url": f"/wallet/payments/{p.pk}/",
        }


class PaymentDetailSerializer(PaymentSerializer):
    events = PaymentEventSerializer(many=True, help_text="The status history, oldest first.")

    def to_representation(self, p: Payment):
        data = super().to_representation(p)
        events = p.events.select_related("actor").order_by("id")
        data["events"] = [PaymentEventSerializer().to_representation(e) for e in events]
        return data


class SendRequestSerializer(serializers.Serializer):
    """For the schema only: the body is checked strictly by hand (types matter for money)."""

    to = serializers.CharField(help_text='"@handle" of the person to pay.')
    amount = serializers.CharField(
        help_text='A decimal string in major units, like "12.34" (a JSON number is accepted).'
    )
    currency = serializers.ChoiceField(
        choices=CURRENCY_CHOICES, required=False, help_text="Default: your home currency."
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=280)


class FxQuoteRequestSerializer(serializers.Serializer):
    to_field = serializers.CharField(required=False, help_text=f"The currency to convert to: {', '.join(CURRENCIES)}.")
    to_handle = serializers.CharField(required=False, help_text='Or "@handle": quote for paying that person.')
    amount = serializers.CharField(help_text="What you would send, a decimal string.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(
            required=False, help_text="The currency you send (default: your home currency)."
        )
        fields["to"] = fields.pop("to_field")  # "from" and "to" are the body's names; "from" is a Python keyword
        return fields


_MONEY = inline_serializer(
    name="QuoteMoney", fields={"amount": serializers.CharField(), "currency": serializers.CharField()}
)
FX_QUOTE_RESPONSE = inline_serializer(
    name="FxQuote",
    fields={
        "send": _MONEY,
        "receive": _MONEY,
        "mid_rate": serializers.CharField(),
        "rate": serializers.CharField(help_text="Applied rate: the mid rate less the spread."),
        "spread": serializers.CharField(),
        "as_of": serializers.DateTimeField(allow_null=True),
        "to_handle": serializers.CharField(required=False),
        "fee": _MONEY,
        "first_to_recipient": serializers.BooleanField(required=False),
        "safety_delay_seconds": serializers.IntegerField(required=False),
    },
)


class PersonSerializer(serializers.Serializer):
    handle = serializers.CharField()
    name = serializers.CharField()
    avatar_url = serializers.CharField(allow_null=True)

    def to_representation(self, user):
        request = self.context.get("request")
        url = None
        if user.avatar:
            url = request.build_absolute_uri(user.avatar.url) if request is not None else user.avatar.url
        return {"handle": user.handle, "name": user.name, "avatar_url": url}


# --- Strict input parsing --------------------------------------------------------------------


def _body(request) -> dict:
    data = request.data
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be a JSON object.", code="invalid_body")
    return data


def _text(data: dict, name: str, errors: dict, *, required: bool, hint: str) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            errors[name] = ["This field is required."]
        return None
    if not isinstance(value, str):
        errors[name] = [hint]
        return None
    return value


def _currency(data: dict, name: str, errors: dict, *, default: str) -> str | None:
    value = data.get(name, default)
    if not isinstance(value, str) or value.strip().upper() not in CURRENCIES:
        errors[name] = [f"One of {', '.join(CURRENCIES)}."]
        return None
    return value.strip().upper()


def _amount(data: dict, errors: dict):
    value = data.get("amount")
    if value is None:
        errors["amount"] = ["This field is required."]
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        errors["amount"] = ['A decimal string like "12.34".']
        return None
    text = value if isinstance(value, str) else str(value)  # numbers go through the same text rules
    if not text.isascii():  # "١٢" or "৪" (a Bengali 4 that reads as 8): only ASCII digits are money here
        errors["amount"] = ['A decimal string like "12.34", in ASCII digits.']
        return None
    return text


def _money(text: str, currency: str) -> Money:
    try:
        return Money.parse(text, currency)
    except DomainError as exc:
        raise ValidationFailed(exc.message, code=exc.code, fields={"amount": [exc.message]}) from None


def _raise_if(errors: dict) -> None:
    if errors:
        raise ValidationFailed("Some of the information given is not valid.", fields=errors)


def _payment_or_404(user, pk) -> Payment:
    payment = payment_for_user(user, pk)
    if not payment_visible_to(user, payment):
        raise NotFound("That payment does not exist.", code="payment_not_found")
    return payment


# --- Views -------------------------------------------------------------------------------------


class WalletView(APIView):
    @extend_schema(
        summary="Your wallet",
        description="Balances per currency (decimal strings; home currency first) and your safety-delay setting.",
        responses={200: WalletSerializer},
        tags=[TAG],
    )
    def get(self, request):
        balances = wallet_balances(request.user)
        return Response(
            {
                "home_currency": request.user.home_currency,
                "balances": BalanceSerializer(balances, many=True).data,
                "safety_delay_seconds": safety_delay_for(request.user),
            }
        )


class PaymentListView(generics.ListAPIView):
    serializer_class = PaymentSerializer
    pagination_class = DefaultCursorPagination
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="List your payments",
        description="Payments you sent or received, newest first, cursor-paginated.",
        parameters=[
            OpenApiParameter("direction", OpenApiTypes.STR, enum=["sent", "received"], description="Only one side."),
            OpenApiParameter("kind", OpenApiTypes.STR, enum=PaymentKind.values, description="Only this kind."),
        ],
        tags=[TAG],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Payment.objects.none()
        user = self.request.user
        rows = payments_visible_to(user)
        direction = self.request.query_params.get("direction")
        if direction is not None:
            if direction == "sent":
                rows = rows.filter(sender=user)
            elif direction == "received":
                rows = rows.filter(recipient=user)
            else:
                raise ValidationFailed("direction is sent or received.", fields={"direction": ["sent or received."]})
        kind = self.request.query_params.get("kind")
        if kind is not None:
            if kind not in PaymentKind.values:
                raise ValidationFailed(
                    f"kind is one of {', '.join(PaymentKind.values)}.", fields={"kind": ["Not a kind."]}
                )
            rows = rows.filter(kind=kind)
        return rows

    @extend_schema(
        summary="Send money",
        description=(
            'Pay "@handle" an amount in a currency you hold (default: your home currency); it arrives in '
            "their home currency at the disclosed rate. Needs an `Idempotency-Key` header: the same key and "
            "body return the first payment (with `Idempotent-Replayed: true`) and move nothing; the same key "
            "with another body answers 422 `idempotency_key_reused`. Refusals: 400 (bad input, unknown person), "
            "403 (frozen, unverified, region), 422 (insufficient funds, limits, no FX rate)."
        ),
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
        request=SendRequestSerializer,
        responses={
            201: PaymentSerializer,
            400: OpenApiResponse(ERROR_RESPONSE),
            403: OpenApiResponse(ERROR_RESPONSE),
            409: OpenApiResponse(ERROR_RESPONSE),
            422: OpenApiResponse(ERROR_RESPONSE),
        },
        tags=[TAG],
    )
    @idempotent(required=True)
    def post(self, request):
        data = _body(request)
        errors: dict = {}
        to = _text(data, "to", errors, required=True, hint='A string like "@bob".')
        currency = _currency(data, "currency", errors, default=request.user.home_currency)
        amount = _amount(data, errors)
        note = _text(data, "note", errors, required=False, hint="Must be text.") or ""
        _raise_if(errors)
        payment = payment_send(
            request.user,
            to=to,
            amount=_money(amount, currency),
            note=note,
            idempotency_key=request_key(request._request),
        )
        return Response(PaymentSerializer(payment, context={"request": request}).data, status=201)


class PaymentDetailView(APIView):
    @extend_schema(
        summary="One payment, with its status history",
        responses={200: PaymentDetailSerializer, 404: OpenApiResponse(ERROR_RESPONSE)},
        tags=[TAG],
    )
    def get(self, request, pk: int):
        payment = _payment_or_404(request.user, pk)
        return Response(PaymentDetailSerializer(payment, context={"request": request}).data)


class _PaymentActionView(APIView):
    parser_classes = PARSERS  # the body is not read; a malformed one is still a 400
    action_name = ""
    only_message = ""

    def act(self, user, payment):  # pragma: no cover - overridden
        raise NotImplementedError

    def _run(self, request, pk: int):
        payment = _payment_or_404(request.user, pk)
        try:
            payment = self.act(request.user, payment)
        except NotFound:  # a party, but the other one
            raise NotPermitted(self.only_message, code="not_allowed") from None
        return Response(PaymentSerializer(payment, context={"request": request}).data)


class PaymentReturnView(_PaymentActionView):
    only_message = "Only the person who received this payment can return it."

    def act(self, user, payment):
        return payment_return(user, payment=payment)

    @extend_schema(
        summary="Return a payment you received",
        description=(
            "Sends a completed payment back to its sender by reversing it in the ledger (no new payment). "
            "Once only: a second return answers 409 `payment_not_returnable`."
        ),
        request=None,
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        responses={
            200: PaymentSerializer,
            403: OpenApiResponse(ERROR_RESPONSE),
            404: OpenApiResponse(ERROR_RESPONSE),
            409: OpenApiResponse(ERROR_RESPONSE),
            422: OpenApiResponse(ERROR_RESPONSE),
        },
        tags=[TAG],
    )
    @idempotent
    def post(self, request, pk: int):
        return self._run(request, pk)


class PaymentCancelView(_PaymentActionView):
    only_message = "Only the person who sent this payment can cancel it."

    def act(self, user, payment):
        return payment_cancel(user, payment=payment)

    @extend_schema(
        summary="Cancel a payment still arriving",
        description="During the safety delay the sender may cancel: the hold is voided and nothing moves.",
        request=None,
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        responses={
            200: PaymentSerializer,
            403: OpenApiResponse(ERROR_RESPONSE),
            404: OpenApiResponse(ERROR_RESPONSE),
            409: OpenApiResponse(ERROR_RESPONSE),
        },
        tags=[TAG],
    )
    @idempotent
    def post(self, request, pk: int):
        return self._run(request, pk)


class FxQuoteView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Quote a currency conversion",
        description=(
            'Body `{"from": "USD", "to": "EUR", "amount": "10.00"}`, or `"to_handle": "@bob"` instead of `to` '
            "to quote paying that person (their home currency; also says whether it is your first payment to "
            "them and the safety delay that would apply). Nothing moves."
        ),
        request=FxQuoteRequestSerializer,
        responses={200: FX_QUOTE_RESPONSE, 400: OpenApiResponse(ERROR_RESPONSE), 422: OpenApiResponse(ERROR_RESPONSE)},
        tags=[TAG],
    )
    def post(self, request):
        data = _body(request)
        errors: dict = {}
        source = _currency(data, "from", errors, default=request.user.home_currency)
        amount = _amount(data, errors)
        handle = _text(data, "to_handle", errors, required=False, hint='A string like "@bob".')
        target = None
        if "to" in data and "to_handle" in data:
            errors["to"] = ["Give either to or to_handle, not both."]
        elif handle is None and "to_handle" not in data:
            target = _currency(data, "to", errors, default=None)
        _raise_if(errors)
        money = _money(amount, source)
        if handle is not None:
            quote = payment_quote(request.user, to=handle, amount=money)
            body = quote.fx.as_dict()
            body.update(
                {
                    "to_handle": f"@{quote.recipient.handle}",
                    "fee": {"amount": str(quote.fee.decimal), "currency": quote.fee.currency},
                    "first_to_recipient": quote.first_to_recipient,
                    "safety_delay_seconds": int(quote.arrives_after.total_seconds()) if quote.arrives_after else 0,
                }
            )
            return Response(body)
        body = fx_quote(send=money, to_currency=target).as_dict()
        body["fee"] = {"amount": str(Money(0, source).decimal), "currency": source}
        return Response(body)


class PeopleView(APIView):
    @extend_schema(
        summary="Find people to pay",
        description="Up to 8 active people (not you) whose handle starts with, or name contains, `q`.",
        parameters=[OpenApiParameter("q", OpenApiTypes.STR, description="Handle (with or without @) or name.")],
        responses={200: inline_serializer(name="People", fields={"results": PersonSerializer(many=True)})},
        tags=[TAG],
    )
    def get(self, request):
        # NUL is dropped: PostgreSQL refuses it in a query (a 500, not "no one found").
        found = people_search(request.user, (request.query_params.get("q") or "").replace("\x00", ""))
        return Response({"results": PersonSerializer(found, many=True, context={"request": request}).data})


urlpatterns = [
    path("wallet/", WalletView.as_view(), name="api-wallet"),
    path("payments/", PaymentListView.as_view(), name="api-payments"),
    path("payments/<int:pk>/", PaymentDetailView.as_view(), name="api-payment-detail"),
    path("payments/<int:pk>/return/", PaymentReturnView.as_view(), name="api-payment-return"),
    path("payments/<int:pk>/cancel/", PaymentCancelView.as_view(), name="api-payment-cancel"),
    path("fx/quotes/", FxQuoteView.as_view(), name="api-fx-quotes"),
    path("people/", PeopleView.as_view(), name="api-people"),
]

"""API: money requests, bill splits and tips (mounted at /api/v1/).

- ``GET/POST /requests/``: your requests (``?role=incoming|outgoing``), ask people for money;
- ``GET /requests/{id}/``; ``POST /requests/{id}/pay/`` (Idempotency-Key required), ``/decline/``,
  ``/cancel/``, ``/remind/``;
- ``GET/POST /splits/``, ``GET /splits/{id}/``;
- ``POST /tips/`` (Idempotency-Key required).

Money is a decimal string in major units ("12.50") beside its ISO currency. Bodies
are typed strictly: a number where a string is expected, or a string where a
boolean is, is a 400 naming the field — never a 500, and never money moved.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    IDEMPOTENCY_KEY_OPTIONAL,
    IDEMPOTENCY_KEY_REQUIRED,
    DefaultCursorPagination,
    StrictBooleanField,
    StrictCharField,
    decimal_text,
    error_responses,
)
from core.errors import DomainError, ValidationFailed
from core.idempotency import idempotent, request_key
from core.money import Money, check_currency

from ..models import Payment, PaymentRequest, Split, SplitMethod
from ..services.requests import (
    MAX_PAYERS,
    effective_status,
    remind_available_at,
    request_cancel,
    request_create,
    request_decline,
    request_for_user,
    request_pay,
    request_remind,
    requests_for_user,
    split_create,
    split_for_user,
    splits_for_user,
)
from ..services.send import NOTE_MAX_LENGTH
from ..services.tips import tip_send
from .parsers import PARSERS
from .payments import PaymentSerializer, PersonSerializer

TAGS = ["requests"]


def _money(amount: str, currency: str | None, *, user, amount_field: str = "amount") -> Money:
    """Parse major-unit text in ``currency`` (default: the user's home currency), naming the bad field."""
    currency = currency or user.home_currency
    try:
        currency = check_currency(currency)
    except DomainError as error:
        raise ValidationFailed(error.message, code=error.code, fields={"currency": ["Not supported."]}) from None
    if not amount.isascii():  # "١٢" or "৪" (a Bengali 4 that reads as 8): only ASCII digits are money here
        message = 'Enter an amount in ASCII digits, like "12.50".'
        raise ValidationFailed(message, code="invalid_amount", fields={amount_field: [message]})
    try:
        return Money.parse(amount, currency)
    except DomainError as error:
        raise ValidationFailed(error.message, code=error.code, fields={amount_field: [error.message]}) from None


def _key(request: Request) -> str | None:
    return request_key(getattr(request, "_request", request))


# --- Output shapes ---------------------------------------------------------------------------
# People and payments look exactly as in the wallet API (payments.api.payments).


def _person(user, request: Request) -> dict:
    return PersonSerializer(context={"request": request}).to_representation(user)


class PaymentRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=["open", "paid", "declined", "cancelled", "expired"],
        help_text="An open request past its expiry is reported as expired.",
    )
    role = serializers.ChoiceField(
        choices=["incoming", "outgoing"], help_text="incoming: you are asked to pay; outgoing: you asked."
    )
    amount = serializers.CharField(help_text='Major units, e.g. "10.00".')
    currency = serializers.CharField()
    note = serializers.CharField()
    requester = PersonSerializer()
    payer = PersonSerializer()
    split = serializers.IntegerField(allow_null=True)
    created = serializers.DateTimeField()
    expires = serializers.DateTimeField()
    last_reminded = serializers.DateTimeField(allow_null=True)
    can_remind_after = serializers.DateTimeField(allow_null=True, help_text="Null: a reminder may be sent now.")
    resolved = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField(help_text="The request's page on the site.")

    def to_representation(self, row: PaymentRequest) -> dict:
        request = self.context["request"]
        now = self.context.get("now") or timezone.now()
        when = serializers.DateTimeField().to_representation
        again = remind_available_at(row)
        return {
            "id": row.pk,
            "status": effective_status(row, now),
            "role": "incoming" if row.payer_id == request.user.pk else "outgoing",
            "amount": decimal_text(row.amount, row.currency),
            "currency": row.currency,
            "note": row.note,
            "requester": _person(row.requester, request),
            "payer": _person(row.payer, request),
            "split": row.split_id,
            "created": when(row.created_at),
            "expires": when(row.expires_at),
            "last_reminded": when(row.last_reminded_at) if row.last_reminded_at else None,
            "can_remind_after": when(again) if again and again > now else None,
            "resolved": when(row.resolved_at) if row.resolved_at else None,
            "url": f"/wallet/requests/{row.pk}/",
        }


def _requests_out(rows, request: Request, *, many: bool = True):
    return PaymentRequestSerializer(rows, many=many, context={"request": request, "now": timezone.now()}).data


class RequestPaymentSerializer(PaymentSerializer):
    """The wallet's payment shape, plus what a paid request or a tip adds."""

    request = serializers.IntegerField(allow_null=True, help_text="The request this payment paid, if any.")
    tip_target = serializers.CharField(help_text='What a tip was for ("profile", "post:12"); empty otherwise.')

    def to_representation(self, payment: Payment) -> dict:
        data = super().to_representation(payment)
        data["request"] = payment.request_id
        data["tip_target"] = payment.tip_target
        return data


def _payment_out(payment: Payment, request: Request) -> dict:
    return RequestPaymentSerializer(payment, context={"request": request}).data


# --- Requests ---------------------------------------------------------------------------------------


class RequestCreateSerializer(serializers.Serializer):
    payers = serializers.ListField(
        child=StrictCharField(max_length=64),
        min_length=1,
        max_length=MAX_PAYERS,
        help_text=f'Who should pay: "@handles", 1 to {MAX_PAYERS}. Sent as "from".',
    )
    amount = StrictCharField(max_length=32, help_text='Each person\'s amount in major units, e.g. "10.00".')
    currency = StrictCharField(max_length=3, required=False, help_text="Default: your home currency.")
    note = StrictCharField(max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True, default="")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("payers")
        return fields


class RequestListCreateView(APIView):
    parser_classes = PARSERS
    pagination_class = DefaultCursorPagination

    @extend_schema(
        operation_id="requests_list",
        summary="Your money requests, newest first",
        parameters=[
            OpenApiParameter(
                "role",
                str,
                enum=["incoming", "outgoing"],
                description="incoming: requests you are asked to pay; outgoing: requests you made. Default: both.",
            )
        ],
        responses={200: PaymentRequestSerializer(many=True), **error_responses(400, 403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        role = request.query_params.get("role") or None
        if role not in (None, "incoming", "outgoing"):
            raise ValidationFailed("role is incoming or outgoing.", fields={"role": ["incoming or outgoing."]})
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(requests_for_user(request.user, role=role), request, view=self)
        return paginator.get_paginated_response(_requests_out(page, request))

    @extend_schema(
        operation_id="requests_create",
        summary="Ask one or more people for money",
        description=(
            'One request per person in "from" (at most 20, no duplicates, not yourself); each expires after '
            "30 days and its payer is notified live. Answers 201 with the created requests."
        ),
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        request=RequestCreateSerializer,
        responses={
            201: inline_serializer(name="RequestsCreated", fields={"results": PaymentRequestSerializer(many=True)}),
            **error_responses(400, 403, 409, 422),
        },
        tags=TAGS,
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = RequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        made = request_create(
            request.user,
            payers=data["from"],
            amount=_money(data["amount"], data.get("currency"), user=request.user),
            note=data.get("note", ""),
        )
        return Response({"results": _requests_out(made, request)}, status=201)


class RequestDetailView(APIView):
    @extend_schema(
        operation_id="requests_retrieve",
        summary="One of your requests",
        responses={200: PaymentRequestSerializer, **error_responses(403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_requests_out(request_for_user(request.user, pk), request, many=False))


class RequestPayView(APIView):
    parser_classes = PARSERS

    @extend_schema(
        operation_id="requests_pay",
        summary="Pay a request you were sent",
        description=(
            "Only the payer, only an open request. Sends the requested amount (in the request's currency, "
            "converted to the requester's home currency if needed) and marks the request paid, atomically. "
            "Requires an Idempotency-Key: a retry returns the same payment and moves nothing. "
            "Answers 201 with the payment."
        ),
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
        request=None,
        responses={201: RequestPaymentSerializer, **error_responses(400, 403, 404, 409, 422)},
        tags=TAGS,
    )
    @idempotent(required=True)
    def post(self, request: Request, pk: int) -> Response:
        payment = request_pay(request.user, request=pk, idempotency_key=_key(request))
        return Response(_payment_out(payment, request), status=status.HTTP_201_CREATED)


def _action_view(name: str, action, summary: str, description: str):
    @extend_schema(
        operation_id=f"requests_{name}",
        summary=summary,
        description=description,
        request=None,
        responses={200: PaymentRequestSerializer, **error_responses(403, 404, 409)},
        tags=TAGS,
    )
    def post(self, request: Request, pk: int) -> Response:
        return Response(_requests_out(action(request.user, request=pk), request, many=False))

    return type(f"Request{name.title()}View", (APIView,), {"post": post, "parser_classes": PARSERS})


RequestDeclineView = _action_view(
    "decline", request_decline, "Decline a request you were sent", "Only the payer, only an open request."
)
RequestCancelView = _action_view(
    "cancel", request_cancel, "Cancel a request you made", "Only the requester, only an open request."
)
RequestRemindView = _action_view(
    "remind",
    request_remind,
    "Remind the payer",
    "Only the requester, only an open request, at most once per 24 hours (else 409 remind_too_soon).",
)


# --- Splits ---------------------------------------------------------------------------------------------


class SplitShareSerializer(serializers.Serializer):
    request = serializers.IntegerField()
    payer = PersonSerializer()
    amount = serializers.CharField()
    status = serializers.CharField()


class SplitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    total = serializers.CharField()
    currency = serializers.CharField()
    method = serializers.ChoiceField(choices=SplitMethod.values)
    creator = PersonSerializer()
    creator_share = serializers.CharField(help_text="The creator's own part (not requested).")
    paid = serializers.CharField(help_text="How much of the requested shares has been paid.")
    shares = SplitShareSerializer(many=True, help_text="One per participant, in the order given.")
    created = serializers.DateTimeField()

    url = serializers.CharField(help_text="The split's page on the site.")

    def to_representation(self, split) -> dict:
        request = self.context["request"]
        now = self.context.get("now") or timezone.now()
        rows = list(split.requests.all())  # prefetched, ordered by id
        paid = sum(row.amount for row in rows if row.status == "paid")
        return {
            "id": split.pk,
            "title": split.title,
            "total": decimal_text(split.total, split.currency),
            "currency": split.currency,
            "method": split.method,
            "creator": _person(split.creator, request),
            "creator_share": decimal_text(split.creator_share, split.currency),
            "paid": decimal_text(paid, split.currency),
            "shares": [
                {
                    "request": row.pk,
                    "payer": _person(row.payer, request),
                    "amount": decimal_text(row.amount, row.currency),
                    "status": effective_status(row, now),
                }
                for row in rows
            ],
            "created": serializers.DateTimeField().to_representation(split.created_at),
            "url": f"/wallet/splits/{split.pk}/",
        }


def _splits_out(splits, request: Request, *, many: bool = True):
    return SplitSerializer(splits, many=many, context={"request": request, "now": timezone.now()}).data


def _with_shares(queryset):
    return queryset.prefetch_related(
        Prefetch("requests", queryset=PaymentRequest.objects.select_related("payer").order_by("id"))
    )


class SplitCreateSerializer(serializers.Serializer):
    title = StrictCharField(max_length=280)
    total = StrictCharField(max_length=32, help_text='Major units, e.g. "100.00".')
    currency = StrictCharField(max_length=3, required=False, help_text="Default: your home currency.")
    participants = serializers.ListField(
        child=StrictCharField(max_length=64),
        min_length=1,
        max_length=MAX_PAYERS,
        help_text='The others, as "@handles" (not yourself), in the order leftover units are given.',
    )
    method = serializers.ChoiceField(choices=SplitMethod.values, required=False, default=SplitMethod.EQUAL)
    shares = serializers.DictField(
        child=StrictCharField(max_length=32),
        required=False,
        allow_null=True,
        help_text='Custom only: {"@handle": "12.50", ...} for every participant, and your own handle when '
        "include_me; they must add up exactly to the total.",
    )
    include_me = StrictBooleanField(required=False, default=True, help_text="Count yourself as one share.")

    def validate_shares(self, shares):
        if shares and not all(amount.isascii() for amount in shares.values()):
            raise serializers.ValidationError('Amounts are in ASCII digits, like "12.50".')
        return shares


class SplitListCreateView(APIView):
    parser_classes = PARSERS
    pagination_class = DefaultCursorPagination

    @extend_schema(
        operation_id="splits_list",
        summary="Splits you created or take part in, newest first",
        responses={200: SplitSerializer(many=True), **error_responses(403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(_with_shares(splits_for_user(request.user)), request, view=self)
        return paginator.get_paginated_response(_splits_out(page, request))

    @extend_schema(
        operation_id="splits_create",
        summary="Split a bill",
        description=(
            "One request per participant. equal: the total in minor units divided among everyone (you too when "
            "include_me); the leftover units go one each to the participants in the order given, you last "
            "(100.00 among two others and you: 33.34, 33.33, 33.33). custom: shares must be positive and add "
            "up exactly to the total, else 400 stating the difference."
        ),
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        request=SplitCreateSerializer,
        responses={201: SplitSerializer, **error_responses(400, 403, 422)},
        tags=TAGS,
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = SplitCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        split = split_create(
            request.user,
            title=data["title"],
            total=_money(data["total"], data.get("currency"), user=request.user, amount_field="total"),
            participants=data["participants"],
            method=data["method"],
            shares=data.get("shares"),
            include_me=data["include_me"],
        )
        split = _with_shares(splits_for_user(request.user)).get(pk=split.pk)
        return Response(_splits_out(split, request, many=False), status=status.HTTP_201_CREATED)


class SplitDetailView(APIView):
    @extend_schema(
        operation_id="splits_retrieve",
        summary="One split: each participant's share and whether they paid",
        responses={200: SplitSerializer, **error_responses(403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, pk: int) -> Response:
        split = split_for_user(request.user, pk)
        split = _with_shares(Split.objects.select_related("creator")).get(pk=split.pk)
        return Response(_splits_out(split, request, many=False))


# --- Tips -------------------------------------------------------------------------------------------------


class TipCreateSerializer(serializers.Serializer):
    to = StrictCharField(max_length=64, help_text='The creator, "@handle".')
    amount = StrictCharField(max_length=32, help_text='Major units, e.g. "3.00".')
    currency = StrictCharField(max_length=3, required=False, help_text="Default: your home currency.")
    note = StrictCharField(max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True, default="")
    target = StrictCharField(
        max_length=64, required=False, allow_blank=True, default="", help_text='What was tipped: "profile", "post:12".'
    )


class TipCreateView(APIView):
    parser_classes = PARSERS

    @extend_schema(
        operation_id="tips_create",
        summary="Tip a creator",
        description=(
            "A payment of kind tip, converted to the creator's home currency if needed; the creator is "
            "notified. Requires an Idempotency-Key. Answers 201 with the payment."
        ),
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
        request=TipCreateSerializer,
        responses={201: RequestPaymentSerializer, **error_responses(400, 403, 404, 409, 422)},
        tags=["tips"],
    )
    @idempotent(required=True)
    def post(self, request: Request) -> Response:
        serializer = TipCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        payment = tip_send(
            request.user,
            creator=data["to"],
            amount=_money(data["amount"], data.get("currency"), user=request.user),
            note=data.get("note", ""),
            target=data.get("target", ""),
            idempotency_key=_key(request),
        )
        return Response(_payment_out(payment, request), status=status.HTTP_201_CREATED)


urlpatterns = [
    path("requests/", RequestListCreateView.as_view(), name="api-requests"),
    path("requests/<int:pk>/", RequestDetailView.as_view(), name="api-request-detail"),
    path("requests/<int:pk>/pay/", RequestPayView.as_view(), name="api-request-pay"),
    path("requests/<int:pk>/decline/", RequestDeclineView.as_view(), name="api-request-decline"),
    path("requests/<int:pk>/cancel/", RequestCancelView.as_view(), name="api-request-cancel"),
    path("requests/<int:pk>/remind/", RequestRemindView.as_view(), name="api-request-remind"),
    path("splits/", SplitListCreateView.as_view(), name="api-splits"),
    path("splits/<int:pk>/", SplitDetailView.as_view(), name="api-split-detail"),
    path("tips/", TipCreateView.as_view(), name="api-tips"),
]

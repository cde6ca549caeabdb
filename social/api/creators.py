"""API: creator mode, earnings, tipping a post and a post's revenue split (mounted at /api/v1/).

- ``GET/PATCH /creator/``: your creator mode and tagline;
- ``GET /creator/earnings/?days=30``: earnings per day, totals, top supporters, balances;
- ``POST /posts/{id}/tips/`` (Idempotency-Key required): tip a post's author;
- ``GET/PUT /posts/{id}/split/``: who shares the post's tips (PUT: the author only).

Money is a decimal string in major units ("12.50") beside its ISO currency. A post the caller
may not see is a 404 (never "forbidden"), whatever the endpoint.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    IDEMPOTENCY_KEY_REQUIRED,
    StrictBooleanField,
    StrictCharField,
    decimal_text,
    error_responses,
)
from core.errors import DomainError, NotFound, ValidationFailed
from core.idempotency import idempotent, request_key
from core.money import Money, check_currency
from core.parsers import PARSERS
from payments.api.payments import PersonSerializer
from payments.services.send import NOTE_MAX_LENGTH

from ..earnings import MAX_DAYS, earnings_as_dict, earnings_for
from ..models import Post, PostTip
from ..services.creators import (
    MAX_AUTHORS,
    TAGLINE_MAX_LENGTH,
    creator_mode_set,
    creator_profile_for,
    post_authors_of,
    post_authors_set,
)
from ..services.posts import post_path
from ..services.tips import post_tip_send
from ..visibility import visible_posts

TAGS = ["creators"]


def _post_or_404(request: Request, pk: int) -> Post:
    post = visible_posts(request.user, Post.objects.select_related("author").filter(pk=pk)).first()
    if post is None:
        raise NotFound("That post does not exist.", code="post_not_found")
    return post


def _person(user, request: Request) -> dict:
    return PersonSerializer(context={"request": request}).to_representation(user)


# --- Creator mode ---------------------------------------------------------------------------


class CreatorSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="Creator mode: Tip buttons on your posts and profile.")
    tagline = serializers.CharField()
    savings_sweep_bps = serializers.IntegerField(help_text="Share of each earning to sweep into savings (0 = off).")
    savings_sweep_available = serializers.BooleanField(help_text="False until the Savings app launches.")
    dashboard_url = serializers.CharField()


class CreatorUpdateSerializer(serializers.Serializer):
    enabled = StrictBooleanField(required=False)
    tagline = StrictCharField(max_length=TAGLINE_MAX_LENGTH, required=False, allow_blank=True)


def _creator_out(profile) -> dict:
    return {
        "enabled": bool(profile and profile.is_enabled),
        "tagline": profile.tagline if profile else "",
        "savings_sweep_bps": profile.savings_sweep_bps if profile else 0,
        "savings_sweep_available": False,
        "dashboard_url": "/creator/",
    }


class CreatorView(APIView):
    parser_classes = PARSERS

    @extend_schema(
        operation_id="creator_retrieve",
        summary="Your creator mode",
        responses={200: CreatorSerializer, **error_responses(401, 403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        return Response(_creator_out(creator_profile_for(request.user)))

    @extend_schema(
        operation_id="creator_update",
        summary="Turn creator mode on or off, set the tagline",
        description="No identity verification is needed: receiving tips is open to every account.",
        request=CreatorUpdateSerializer,
        responses={200: CreatorSerializer, **error_responses(400, 401, 403)},
        tags=TAGS,
    )
    def patch(self, request: Request) -> Response:
        serializer = CreatorUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        current = creator_profile_for(request.user)
        enabled = data.get("enabled", bool(current and current.is_enabled))
        profile = creator_mode_set(request.user, enabled=enabled, tagline=data.get("tagline"))
        return Response(_creator_out(profile))


# --- Earnings -------------------------------------------------------------------------------

_AMOUNTS = {key: serializers.CharField() for key in ("tips", "subscriptions", "shares", "sales")}

EarningsSerializer = inline_serializer(
    name="CreatorEarnings",
    fields={
        "currency": serializers.CharField(help_text="The chart's currency (your home currency)."),
        "days": serializers.IntegerField(),
        "start": serializers.DateField(),
        "end": serializers.DateField(),
        "per_day": inline_serializer(
            name="CreatorEarningsDay",
            fields={"date": serializers.DateField(), **_AMOUNTS, "total": serializers.CharField()},
            many=True,
        ),
        "window_totals": inline_serializer(name="CreatorEarningsWindow", fields=_AMOUNTS),
        "other_currencies": serializers.ListField(child=serializers.CharField()),
        "totals": inline_serializer(
            name="CreatorEarningsTotal",
            fields={
                "currency": serializers.CharField(),
                "this_month": serializers.CharField(),
                "all_time": serializers.CharField(),
            },
            many=True,
        ),
        "top_supporters": inline_serializer(
            name="CreatorSupporter",
            fields={
                "handle": serializers.CharField(),
                "name": serializers.CharField(),
                "count": serializers.IntegerField(),
                "total": serializers.CharField(help_text='Formatted, e.g. "$12.00" or "$12.00 + €3.00".'),
            },
            many=True,
        ),
        "balances": inline_serializer(
            name="CreatorBalance",
            fields={"currency": serializers.CharField(), "available": serializers.CharField()},
            many=True,
        ),
    },
)


class CreatorEarningsView(APIView):
    @extend_schema(
        operation_id="creator_earnings",
        summary="Your earnings per day, totals and top supporters",
        description="Tips (net of the shares your splits passed on), subscriptions, tip shares received; "
        "sales arrive with the shop. Earnings are already in your wallet.",
        parameters=[OpenApiParameter("days", int, description=f"1–{MAX_DAYS}, default 30.")],
        responses={200: EarningsSerializer, **error_responses(400, 401)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("days", "30")
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
            raise ValidationFailed(f"days is a whole number from 1 to {MAX_DAYS}.", fields={"days": ["Out of range."]})
        return Response(earnings_as_dict(earnings_for(request.user, days=int(raw))))


# --- Tips on a post -------------------------------------------------------------------------


class PostTipCreateSerializer(serializers.Serializer):
    amount = StrictCharField(max_length=32, help_text='Major units, e.g. "2.00".')
    currency = StrictCharField(max_length=3, required=False, help_text="Default: your home currency.")
    note = StrictCharField(max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True, default="")


class PostTipSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    post = serializers.IntegerField()
    payment_id = serializers.IntegerField()
    status = serializers.CharField(help_text="completed, arriving (safety delay), in_review...")
    amount = serializers.CharField(help_text="What left your wallet, major units.")
    currency = serializers.CharField()
    received_amount = serializers.CharField(help_text="What the creator receives, in their currency.")
    received_currency = serializers.CharField()
    note = serializers.CharField()
    creator = PersonSerializer()
    created = serializers.DateTimeField()
    post_url = serializers.CharField()
    payment_url = serializers.CharField()


def _tip_out(tip: PostTip, request: Request) -> dict:
    payment = tip.payment
    return {
        "id": tip.pk,
        "post": tip.post_id,
        "payment_id": payment.pk,
        "status": payment.status,
        "amount": decimal_text(payment.amount, payment.currency),
        "currency": payment.currency,
        "received_amount": decimal_text(payment.received_amount, payment.received_currency),
        "received_currency": payment.received_currency,
        "note": payment.note,
        "creator": _person(payment.recipient, request),
        "created": serializers.DateTimeField().to_representation(payment.created_at),
        "post_url": post_path(tip.post_id),
        "payment_url": f"/wallet/payments/{payment.pk}/",
    }


def _money(amount: str, currency: str | None, *, user) -> Money:
    currency = currency or user.home_currency
    try:
        currency = check_currency(currency)
    except DomainError as error:
        raise ValidationFailed(error.message, code=error.code, fields={"currency": ["Not supported."]}) from None
    if not amount.isascii():
        message = 'Enter an amount in ASCII digits, like "2.50".'
        raise ValidationFailed(message, code="invalid_amount", fields={"amount": [message]})
    try:
        return Money.parse(amount, currency)
    except DomainError as error:
        raise ValidationFailed(error.message, code=error.code, fields={"amount": [error.message]}) from None


class PostTipCreateView(APIView):
    parser_classes = PARSERS

    @extend_schema(
        operation_id="posts_tips_create",
        summary="Tip a post's author",
        description=(
            "A payments tip (target post:{id}) converted to the creator's home currency if needed; the "
            "creator is notified live, and co-authors get their shares once it completes. Requires an "
            "Idempotency-Key: the same key and body answer the same tip; another body, 422. Refused: your "
            "own post (403), a creator with tips off (403 not_a_creator), a post you cannot see (404), "
            "insufficient funds, limits, frozen accounts (422/403)."
        ),
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
        request=PostTipCreateSerializer,
        responses={201: PostTipSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
        tags=TAGS,
    )
    @idempotent(required=True)
    def post(self, request: Request, pk: int) -> Response:
        post = _post_or_404(request, pk)
        serializer = PostTipCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tip = post_tip_send(
            request.user,
            post=post,
            amount=_money(data["amount"], data.get("currency"), user=request.user),
            note=data.get("note", ""),
            idempotency_key=request_key(request._request),
        )
        return Response(_tip_out(tip, request), status=status.HTTP_201_CREATED)


# --- Revenue split --------------------------------------------------------------------------


class PostSplitShareInSerializer(serializers.Serializer):
    user = StrictCharField(max_length=64, help_text='"@handle"; the first share is the post\'s author.')
    bps = serializers.IntegerField(min_value=1, max_value=10_000, help_text="Basis points: 2500 = 25%.")

    def to_internal_value(self, data):
        if isinstance(data, dict) and (isinstance(data.get("bps"), bool) or not isinstance(data.get("bps"), int)):
            raise serializers.ValidationError({"bps": ["A whole number of basis points."]})
        return super().to_internal_value(data)


class PostSplitUpdateSerializer(serializers.Serializer):
    shares = PostSplitShareInSerializer(many=True, max_length=MAX_AUTHORS, allow_empty=True)


class PostSplitShareSerializer(serializers.Serializer):
    user = PersonSerializer()
    position = serializers.IntegerField()
    bps = serializers.IntegerField()


class PostSplitSerializer(serializers.Serializer):
    post = serializers.IntegerField()
    shared = serializers.BooleanField(help_text="False: the author keeps every tip.")
    shares = PostSplitShareSerializer(many=True)


def _split_out(post: Post, request: Request) -> dict:
    rows = post_authors_of(post)
    return {
        "post": post.pk,
        "shared": len(rows) > 1,
        "shares": [
            {"user": _person(row.user, request), "position": row.position, "bps": row.share_bps} for row in rows
        ],
    }


class PostSplitView(APIView):
    parser_classes = PARSERS

    @extend_schema(
        operation_id="posts_split_retrieve",
        summary="Who shares a post's tips",
        description="Anyone who can see the post can see its split (tippers are shown it before they confirm).",
        responses={200: PostSplitSerializer, **error_responses(401, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_split_out(_post_or_404(request, pk), request))

    @extend_schema(
        operation_id="posts_split_update",
        summary="Share a post's future tips among co-authors",
        description=(
            "The post's author only. The first share is the author; distinct active people, no blocks, "
            f"each ≥ 1 bps, exactly 10000 in total, at most {MAX_AUTHORS} people. An empty list (or only "
            "the author at 10000) removes the split. Replaces the split atomically."
        ),
        request=PostSplitUpdateSerializer,
        responses={200: PostSplitSerializer, **error_responses(400, 401, 403, 404)},
        tags=TAGS,
    )
    def put(self, request: Request, pk: int) -> Response:
        post = _post_or_404(request, pk)
        serializer = PostSplitUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        shares = [(row["user"], row["bps"]) for row in serializer.validated_data["shares"]]
        post_authors_set(request.user, post=post, shares=shares)
        return Response(_split_out(post, request))


urlpatterns = [
    path("creator/", CreatorView.as_view(), name="api-creator"),
    path("creator/earnings/", CreatorEarningsView.as_view(), name="api-creator-earnings"),
    path("posts/<int:pk>/tips/", PostTipCreateView.as_view(), name="api-post-tips"),
    path("posts/<int:pk>/split/", PostSplitView.as_view(), name="api-post-split"),
]

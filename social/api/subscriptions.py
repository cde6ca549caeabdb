"""Social API: creator tiers and subscriptions.

Thin: parse strictly, call ``social.services.subscriptions``, serialise. Domain errors become
``{"error": {...}}`` through ``core.api.exception_handler``. Subscribing moves money: it needs
an ``Idempotency-Key`` header, which is also the first payment's key, so a retry after a late
failure charges nothing twice. Someone else's tier or subscription is a 404.
"""

from __future__ import annotations

from django.db.models import Count, Q
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_for_handle
from core.api import (
    IDEMPOTENCY_KEY_OPTIONAL,
    IDEMPOTENCY_KEY_REQUIRED,
    DefaultCursorPagination,
    decimal_text,
    error_responses,
)
from core.errors import DomainError, ValidationFailed
from core.idempotency import idempotent, request_key
from core.money import CURRENCIES, CURRENCY_CHOICES, Money
from core.parsers import JSON_ONLY, PARSERS

from ..models import LIVE_SUBSCRIPTION_STATUSES, Subscription, SubscriptionStatus, Tier
from ..services.subscriptions import (
    creator_mode_on,
    subscribers_of,
    subscription_cancel,
    subscription_for_fan,
    subscription_resume,
    subscription_start,
    subscriptions_of_fan,
    tier_archive,
    tier_create,
    tier_for_creator,
    tier_update,
    tiers_of,
)

TAG = "subscriptions"


# --- Serializers ---------------------------------------------------------------------------


class PersonRefSerializer(serializers.Serializer):
    handle = serializers.CharField()
    name = serializers.CharField()

    def to_representation(self, user):
        return {"handle": user.handle, "name": user.name}


class TierSerializer(serializers.Serializer):
    """A tier; ``price`` is a decimal string in major units, a month."""

    id = serializers.IntegerField()
    creator = serializers.CharField(help_text='"@handle" of the creator.')
    name = serializers.CharField()
    price = serializers.CharField(help_text='Monthly price, a decimal string like "5.00".')
    currency = serializers.CharField()
    perks = serializers.CharField()
    is_active = serializers.BooleanField(help_text="Open to new subscribers (false: archived).")
    subscribers = serializers.IntegerField(
        required=False, help_text="Live subscribers (only in the creator's own list)."
    )

    def to_representation(self, tier: Tier):
        data = {
            "id": tier.pk,
            "creator": f"@{tier.creator.handle}",
            "name": tier.name,
            "price": decimal_text(tier.price, tier.currency),
            "currency": tier.currency,
            "perks": tier.perks,
            "is_active": tier.is_active,
        }
        if hasattr(tier, "live_subscribers"):
            data["subscribers"] = tier.live_subscribers
        return data


class SubscriptionSerializer(serializers.Serializer):
    """A subscription as its fan or its creator sees it."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=SubscriptionStatus.values)
    creator = PersonRefSerializer()
    fan = PersonRefSerializer()
    tier = TierSerializer()
    started = serializers.DateTimeField()
    periods_paid = serializers.IntegerField()
    paid_until = serializers.DateTimeField(help_text="Access lasts until then.")
    has_access = serializers.BooleanField()
    next_renewal = serializers.DateTimeField(allow_null=True, help_text="When the next month is charged (if it is).")
    retry_until = serializers.DateTimeField(allow_null=True, help_text="Past due: lapses if still unpaid then.")
    cancelled = serializers.DateTimeField(allow_null=True)
    ended = serializers.DateTimeField(allow_null=True)

    def to_representation(self, sub: Subscription):
        when = serializers.DateTimeField().to_representation
        renews = sub.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE) and sub.next_attempt_at
        return {
            "id": sub.pk,
            "status": sub.status,
            "creator": PersonRefSerializer().to_representation(sub.creator),
            "fan": PersonRefSerializer().to_representation(sub.fan),
            "tier": TierSerializer().to_representation(sub.tier),
            "started": when(sub.anchor),
            "periods_paid": sub.periods_paid,
            "paid_until": when(sub.paid_until),
            "has_access": sub.paid_until > timezone.now(),
            "next_renewal": when(sub.next_attempt_at) if renews else None,
            "retry_until": when(sub.retry_until) if sub.status == SubscriptionStatus.PAST_DUE else None,
            "cancelled": when(sub.cancelled_at) if sub.cancelled_at else None,
            "ended": when(sub.ended_at) if sub.ended_at else None,
        }


class TierCreateSerializer(serializers.Serializer):
    """For the schema only: the body is checked strictly by hand."""

    name = serializers.CharField(max_length=50)
    price = serializers.CharField(help_text='Monthly price, a decimal string like "5.00". Never changes.')
    currency = serializers.ChoiceField(
        choices=CURRENCY_CHOICES, required=False, help_text="Default: your home currency."
    )
    perks = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class TierUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=50)
    perks = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class SubscribeSerializer(serializers.Serializer):
    tier = serializers.IntegerField(help_text="The id of the tier to subscribe to.")


TIER_LIST = inline_serializer(name="TierList", fields={"results": TierSerializer(many=True)})


# --- Parsing ---------------------------------------------------------------------------------


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationFailed("The body must be a JSON object.", code="invalid_body")
    return request.data


def _string(data: dict, name: str, errors: dict, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            errors[name] = ["This field is required."]
        return None
    if not isinstance(value, str):
        errors[name] = ["Must be text."]
        return None
    return value


def _raise_if(errors: dict) -> None:
    if errors:
        raise ValidationFailed("Some of the information given is not valid.", fields=errors)


def _price(data: dict, errors: dict, default_currency: str) -> Money | None:
    currency = data.get("currency", default_currency)
    if not isinstance(currency, str) or currency.strip().upper() not in CURRENCIES:
        errors["currency"] = [f"One of {', '.join(CURRENCIES)}."]
        return None
    value = data.get("price")
    if value is None:
        errors["price"] = ["This field is required."]
        return None
    if not isinstance(value, str) or not value.isascii():
        errors["price"] = ['A decimal string like "5.00".']
        return None
    try:
        return Money.parse(value, currency.strip().upper())
    except DomainError as error:
        errors["price"] = [error.message]
        return None


def _live_counts(queryset):
    return queryset.annotate(
        live_subscribers=Count("subscriptions", filter=Q(subscriptions__status__in=LIVE_SUBSCRIPTION_STATUSES))
    )


# --- Views -----------------------------------------------------------------------------------


class PublicTiersView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="A creator's open tiers",
        description="The tiers anyone may subscribe to (empty when creator mode is off). No sign-in needed.",
        responses={200: TIER_LIST, **error_responses(404)},
        tags=[TAG],
    )
    def get(self, request, handle: str):
        creator = user_for_handle(handle)
        rows = tiers_of(creator).select_related("creator") if creator_mode_on(creator) else Tier.objects.none()
        return Response({"results": TierSerializer(rows, many=True).data})


class CreatorTiersView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Your tiers",
        description="All your tiers, open first then archived, each with its live subscriber count.",
        responses={200: TIER_LIST},
        tags=[TAG],
    )
    def get(self, request):
        rows = _live_counts(tiers_of(request.user, active_only=False).select_related("creator"))
        return Response({"results": TierSerializer(rows, many=True).data})

    @extend_schema(
        summary="Create a tier",
        description=(
            'Body `{"name": "Supporter", "price": "5.00", "currency": "USD", "perks": "..."}`. Creator mode must '
            "be on (403 `creator_mode_off`). The price is more than zero, at most 1,000.00 USD a month (or the "
            "same in another currency), and never changes: to change it, archive the tier and create another."
        ),
        request=TierCreateSerializer,
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        responses={201: TierSerializer, **error_responses(400, 403, 422)},
        tags=[TAG],
    )
    @idempotent
    def post(self, request):
        data = _body(request)
        errors: dict = {}
        name = _string(data, "name", errors, required=True)
        perks = _string(data, "perks", errors) or ""
        price = _price(data, errors, request.user.home_currency)
        _raise_if(errors)
        tier = tier_create(request.user, name=name, price=price, perks=perks)
        return Response(TierSerializer(tier).data, status=201)


class CreatorTierView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Rename a tier or change its perks",
        description='Body `{"name": ..., "perks": ...}` (either). The price never changes (400 if sent).',
        request=TierUpdateSerializer,
        responses={200: TierSerializer, **error_responses(400, 404)},
        tags=[TAG],
    )
    def patch(self, request, pk: int):
        tier = tier_for_creator(request.user, pk)
        data = _body(request)
        errors: dict = {}
        if "price" in data or "currency" in data:
            errors["price"] = ["A tier's price never changes: archive it and create a new tier."]
        name = _string(data, "name", errors)
        perks = _string(data, "perks", errors)
        _raise_if(errors)
        tier = tier_update(request.user, tier=tier, name=name, perks=perks)
        return Response(TierSerializer(tier).data)


class CreatorTierArchiveView(APIView):
    parser_classes = PARSERS

    @extend_schema(
        summary="Archive a tier",
        description="Closed to new subscribers; existing subscribers keep renewing at its price. Idempotent.",
        request=None,
        responses={200: TierSerializer, **error_responses(404)},
        tags=[TAG],
    )
    def post(self, request, pk: int):
        return Response(TierSerializer(tier_archive(request.user, tier=pk)).data)


class SubscriptionListView(generics.ListAPIView):
    serializer_class = SubscriptionSerializer
    pagination_class = DefaultCursorPagination
    parser_classes = JSON_ONLY

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Subscription.objects.none()
        return subscriptions_of_fan(self.request.user).select_related("fan", "tier__creator")

    @extend_schema(
        summary="Your subscriptions",
        description="Subscriptions you pay for (all statuses), newest first, cursor-paginated.",
        tags=[TAG],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Subscribe to a tier",
        description=(
            'Body `{"tier": 12}`. Charges the first month now (kind "subscription") and renews monthly. '
            "Needs an `Idempotency-Key` header: the same key and body return the first subscription and "
            "charge nothing more. A cancelled subscription that is still paid is resumed without a charge. "
            "Refusals: 400 (bad input, yourself), 403 (blocked, protected account, frozen, unverified), "
            "404 (unknown tier), 409 (already subscribed, tier closed, not taking subscriptions), "
            "422 (insufficient funds, limits). A payment held for review gives access once approved."
        ),
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
        request=SubscribeSerializer,
        responses={201: SubscriptionSerializer, **error_responses(400, 403, 404, 409, 422)},
        tags=[TAG],
    )
    @idempotent(required=True)
    def post(self, request):
        data = _body(request)
        tier = data.get("tier")
        if isinstance(tier, bool) or not isinstance(tier, int) or not 0 < tier < 2**63:
            raise ValidationFailed("Choose a tier.", fields={"tier": ["A tier id (a whole number)."]})
        sub = subscription_start(request.user, tier=tier, idempotency_key=request_key(request._request))
        sub = subscription_for_fan(request.user, sub.pk)
        return Response(SubscriptionSerializer(sub).data, status=201)


class _SubscriptionActionView(APIView):
    parser_classes = PARSERS

    def act(self, user, pk):  # pragma: no cover - overridden
        raise NotImplementedError

    def post(self, request, pk: int):
        self.act(request.user, pk)
        return Response(SubscriptionSerializer(subscription_for_fan(request.user, pk)).data)


class SubscriptionCancelView(_SubscriptionActionView):
    def act(self, user, pk):
        return subscription_cancel(user, subscription=pk)

    @extend_schema(
        summary="Cancel a subscription",
        description=(
            "No more renewals; access lasts until `paid_until`; nothing is refunded. Idempotent. "
            "409 if it already ended or a payment of it is being reviewed."
        ),
        request=None,
        responses={200: SubscriptionSerializer, **error_responses(404, 409)},
        tags=[TAG],
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class SubscriptionResumeView(_SubscriptionActionView):
    def act(self, user, pk):
        return subscription_resume(user, subscription=pk)

    @extend_schema(
        summary="Resume a cancelled subscription",
        description="While still paid: renewals start again at `paid_until`. Nothing is charged now.",
        request=None,
        responses={200: SubscriptionSerializer, **error_responses(403, 404, 409)},
        tags=[TAG],
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class SubscriberListView(generics.ListAPIView):
    serializer_class = SubscriptionSerializer
    pagination_class = DefaultCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Subscription.objects.none()
        return subscribers_of(self.request.user).select_related("creator", "tier__creator")

    @extend_schema(
        summary="Your subscribers",
        description="Live subscriptions to you (active, past due, cancelled but paid), newest first.",
        tags=[TAG],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("users/<str:handle>/tiers/", PublicTiersView.as_view(), name="api-user-tiers"),
    path("creator/tiers/", CreatorTiersView.as_view(), name="api-creator-tiers"),
    path("creator/tiers/<int:pk>/", CreatorTierView.as_view(), name="api-creator-tier"),
    path("creator/tiers/<int:pk>/archive/", CreatorTierArchiveView.as_view(), name="api-creator-tier-archive"),
    path("creator/subscribers/", SubscriberListView.as_view(), name="api-creator-subscribers"),
    path("subscriptions/", SubscriptionListView.as_view(), name="api-subscriptions"),
    path("subscriptions/<int:pk>/cancel/", SubscriptionCancelView.as_view(), name="api-subscription-cancel"),
    path("subscriptions/<int:pk>/resume/", SubscriptionResumeView.as_view(), name="api-subscription-resume"),
]

"""The accounts API: the signed-in person's own account (``GET``/``PATCH /api/v1/me/``),
public profiles (``/api/v1/users/{handle}/``), follows and blocks."""

from __future__ import annotations

from django_countries import countries
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ERROR_RESPONSE
from core.errors import ValidationFailed
from core.money import CURRENCY_CHOICES

from . import selectors, services, social
from .models import TIME_ZONE_CHOICES, US_STATES, MessagePolicy, User


class MeSerializer(serializers.ModelSerializer):
    avatar_url = serializers.SerializerMethodField()
    initials = serializers.CharField(read_only=True)
    country = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "handle",
            "display_name",
            "email",
            "avatar_url",
            "initials",
            "bio",
            "home_currency",
            "country",
            "state",
            "time_zone",
            "message_policy",
            "date_joined",
        ]
        read_only_fields = fields

    def get_avatar_url(self, user: User) -> str | None:
        if not user.avatar:
            return None
        request = self.context.get("request")
        url = user.avatar.url
        return request.build_absolute_uri(url) if request is not None else url

    def get_country(self, user: User) -> str:
        """ISO 3166-1 alpha-2 code, or an empty string."""
        return str(user.country or "")


class MeUpdateSerializer(serializers.Serializer):
    """The fields a person may change about themself; all optional (PATCH)."""

    display_name = serializers.CharField(max_length=50, allow_blank=True, required=False)
    bio = serializers.CharField(max_length=160, allow_blank=True, required=False)
    home_currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, required=False)
    country = serializers.ChoiceField(choices=list(countries), allow_blank=True, required=False)
    state = serializers.ChoiceField(choices=US_STATES, allow_blank=True, required=False)
    time_zone = serializers.ChoiceField(choices=TIME_ZONE_CHOICES, required=False)
    message_policy = serializers.ChoiceField(
        choices=MessagePolicy.choices,
        required=False,
        help_text="Whose new conversations reach you: everyone, people you follow (following), or nobody.",
    )


class MeView(APIView):
    permission_classes = [IsAuthenticated]
    serializer_class = MeSerializer

    @extend_schema(
        operation_id="me_retrieve",
        summary="The signed-in account",
        responses={200: MeSerializer, 401: OpenApiResponse(ERROR_RESPONSE), 403: OpenApiResponse(ERROR_RESPONSE)},
        tags=["accounts"],
    )
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user, context={"request": request}).data)

    @extend_schema(
        operation_id="me_partial_update",
        summary="Change the signed-in account's profile",
        description=(
            "Only the fields sent change. A US address needs a state; other countries none. "
            "`message_policy` is everyone, following or nobody. "
            "Validation errors answer 400 with {error: {code, message, fields}}."
        ),
        request=MeUpdateSerializer,
        responses={
            200: MeSerializer,
            400: OpenApiResponse(ERROR_RESPONSE),
            401: OpenApiResponse(ERROR_RESPONSE),
            403: OpenApiResponse(ERROR_RESPONSE),
        },
        tags=["accounts"],
    )
    def patch(self, request: Request) -> Response:
        serializer = MeUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.profile_update(request.user, **serializer.validated_data)
        return Response(MeSerializer(user, context={"request": request}).data)


# ---- people and the social graph -------------------------------------------------------------


class UserSummarySerializer(serializers.Serializer):
    """Who someone is, in lists: no relationship, no counts."""

    id = serializers.IntegerField(read_only=True)
    handle = serializers.CharField(read_only=True)
    display_name = serializers.CharField(read_only=True)
    avatar_url = serializers.SerializerMethodField()
    initials = serializers.CharField(read_only=True)

    def get_avatar_url(self, user: User) -> str | None:
        return _avatar_url(user, self.context.get("request"))


class PublicProfileSerializer(serializers.Serializer):
    """A person's public profile as the caller sees it (``accounts.selectors.Profile``)."""

    id = serializers.IntegerField(source="user.id", read_only=True)
    handle = serializers.CharField(source="user.handle", read_only=True)
    display_name = serializers.CharField(source="user.display_name", read_only=True)
    avatar_url = serializers.SerializerMethodField()
    initials = serializers.CharField(source="user.initials", read_only=True)
    bio = serializers.CharField(source="user.bio", read_only=True)
    date_joined = serializers.DateTimeField(source="user.date_joined", read_only=True)
    followers_count = serializers.IntegerField(read_only=True)
    following_count = serializers.IntegerField(read_only=True)
    is_self = serializers.BooleanField(read_only=True, help_text="This is the caller's own profile.")
    is_following = serializers.BooleanField(read_only=True, help_text="The caller follows them.")
    follows_you = serializers.BooleanField(read_only=True, help_text="They follow the caller.")
    mutual = serializers.BooleanField(read_only=True, help_text="They and the caller follow each other.")
    blocked = serializers.BooleanField(source="you_blocked", read_only=True, help_text="The caller blocked them.")
    can_interact = serializers.BooleanField(
        read_only=True,
        help_text=(
            "Whether to offer Message and Pay: false when signed out, on your own profile, "
            "or when either of you blocked the other."
        ),
    )

    def get_avatar_url(self, profile) -> str | None:
        return _avatar_url(profile.user, self.context.get("request"))


class BlockedPersonSerializer(serializers.Serializer):
    user = UserSummarySerializer(source="blocked", read_only=True)
    blocked_at = serializers.DateTimeField(source="created_at", read_only=True)


def _avatar_url(user: User, request) -> str | None:
    if not user.avatar:
        return None
    url = user.avatar.url
    return request.build_absolute_uri(url) if request is not None else url


def _no_fields(request: Request) -> None:
    """Strict input for actions that take no body: any field is refused (400), never ignored."""
    data = request.data
    if not hasattr(data, "keys"):  # a JSON list, string, number, true/false/null
        raise ValidationFailed("This request takes no body.", code="invalid")
    if not data:
        return
    names = [str(name)[:64] for name in list(data.keys())[:20]]
    raise ValidationFailed(
        "This request takes no fields.", code="invalid", fields={name: ["Unknown field."] for name in names}
    )


def _profile_response(request: Request, handle: str) -> Response:
    profile = selectors.profile_for(handle, request.user)
    return Response(PublicProfileSerializer(profile, context={"request": request}).data)


_HANDLE = OpenApiParameter(
    "handle", OpenApiTypes.STR, OpenApiParameter.PATH, description="A handle, with or without the leading @."
)
_NOT_FOUND = OpenApiResponse(ERROR_RESPONSE, description="No active person has that handle.")


class UserProfileView(APIView):
    """``GET /api/v1/users/{handle}/``: anyone's public profile (signing in adds the relationship)."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="users_retrieve",
        summary="A person's public profile",
        description=(
            "Public: signed out, every relationship field is false. Deactivated and unknown "
            "handles answer 404. A profile is shown even when a block stands either way; "
            "`can_interact` says whether to offer Message and Pay."
        ),
        parameters=[_HANDLE],
        responses={200: PublicProfileSerializer, 404: _NOT_FOUND},
        tags=["people"],
    )
    def get(self, request: Request, handle: str) -> Response:
        return _profile_response(request, handle)


class FollowView(APIView):
    """``POST``/``DELETE /api/v1/users/{handle}/follow/``."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="users_follow_create",
        summary="Follow a person",
        description=(
            "Idempotent: following someone you already follow changes nothing (and notifies "
            "no one again). No body. Refused: yourself (400 `cannot_follow_self`), someone "
            "blocked either way (403 `blocked`). Answers with their profile."
        ),
        parameters=[_HANDLE],
        request=None,
        responses={
            200: PublicProfileSerializer,
            400: OpenApiResponse(ERROR_RESPONSE),
            403: OpenApiResponse(ERROR_RESPONSE),
            404: _NOT_FOUND,
        },
        tags=["people"],
    )
    def post(self, request: Request, handle: str) -> Response:
        _no_fields(request)
        social.follow_create(request.user, followee=selectors.user_for_handle(handle))
        return _profile_response(request, handle)

    @extend_schema(
        operation_id="users_follow_destroy",
        summary="Unfollow a person",
        description="Idempotent: 204 whether or not you followed them. No body. Yourself: 400.",
        parameters=[_HANDLE],
        request=None,
        responses={
            204: None,
            400: OpenApiResponse(ERROR_RESPONSE),
            403: OpenApiResponse(ERROR_RESPONSE),
            404: _NOT_FOUND,
        },
        tags=["people"],
    )
    def delete(self, request: Request, handle: str) -> Response:
        _no_fields(request)
        social.follow_delete(request.user, followee=selectors.user_for_handle(handle, active_only=False))
        return Response(status=status.HTTP_204_NO_CONTENT)


class BlockView(APIView):
    """``POST``/``DELETE /api/v1/users/{handle}/block/``."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="users_block_create",
        summary="Block a person",
        description=(
            "They can no longer message you, pay you or request money from you, your "
            "conversation with them is hidden, and follows both ways are removed. They are "
            "not told. Idempotent. No body. Yourself: 400 `cannot_block_self`. Answers with "
            "their profile (`blocked: true`)."
        ),
        parameters=[_HANDLE],
        request=None,
        responses={
            200: PublicProfileSerializer,
            400: OpenApiResponse(ERROR_RESPONSE),
            403: OpenApiResponse(ERROR_RESPONSE),
            404: _NOT_FOUND,
        },
        tags=["people"],
    )
    def post(self, request: Request, handle: str) -> Response:
        _no_fields(request)
        social.block_create(request.user, blocked=selectors.user_for_handle(handle))
        return _profile_response(request, handle)

    @extend_schema(
        operation_id="users_block_destroy",
        summary="Unblock a person",
        description=(
            "Idempotent: 204 whether or not you had blocked them. Restores nothing else "
            "(follows removed by the block stay removed). No body. Yourself: 400."
        ),
        parameters=[_HANDLE],
        request=None,
        responses={
            204: None,
            400: OpenApiResponse(ERROR_RESPONSE),
            403: OpenApiResponse(ERROR_RESPONSE),
            404: _NOT_FOUND,
        },
        tags=["people"],
    )
    def delete(self, request: Request, handle: str) -> Response:
        _no_fields(request)
        social.block_delete(request.user, blocked=selectors.user_for_handle(handle, active_only=False))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyBlockedView(ListAPIView):
    """``GET /api/v1/me/blocked/``: the people the caller blocked, newest first."""

    permission_classes = [IsAuthenticated]
    serializer_class = BlockedPersonSerializer

    def get_queryset(self):
        return selectors.blocks_made_by(self.request.user)

    @extend_schema(
        operation_id="me_blocked_list",
        summary="People you blocked",
        description="Cursor-paginated, newest first.",
        responses={200: BlockedPersonSerializer(many=True), 403: OpenApiResponse(ERROR_RESPONSE)},
        tags=["people"],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

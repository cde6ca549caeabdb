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

from core.api import ERROR_RESPONSE, DefaultCursorPagination, StrictBooleanField
from core.errors import NotPermitted, ValidationFailed
from core.money import CURRENCY_CHOICES

from . import selectors, services, social
from .models import TIME_ZONE_CHOICES, US_STATES, MessagePolicy, User


class MeSerializer(serializers.ModelSerializer):
    avatar_url = serializers.SerializerMethodField()
    website = serializers.CharField(read_only=True, help_text="An http(s) link, or empty.")
    initials = serializers.CharField(read_only=True)
    country = serializers.SerializerMethodField()
    # Blank outside the US: the model's choices alone would document only the 51 codes.
    state = serializers.ChoiceField(
        choices=US_STATES, allow_blank=True, read_only=True, help_text="US state, or empty."
    )

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
            "website",
            "is_protected",
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
    website = serializers.URLField(max_length=200, allow_blank=True, required=False, help_text="An http(s) link.")
    is_protected = StrictBooleanField(
        required=False,
        help_text="New followers ask first and you approve them; turning it off approves everyone waiting.",
    )
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
            "`message_policy` is everyone, following or nobody. `is_protected` makes new followers ask "
            "for approval (turning it off approves every pending request). "
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
    website = serializers.CharField(source="user.website", read_only=True, help_text="Their link, or empty.")
    is_protected = serializers.BooleanField(
        source="user.is_protected", read_only=True, help_text="They approve their followers."
    )
    date_joined = serializers.DateTimeField(source="user.date_joined", read_only=True)
    followers_count = serializers.IntegerField(read_only=True)
    following_count = serializers.IntegerField(read_only=True)
    is_self = serializers.BooleanField(read_only=True, help_text="This is the caller's own profile.")
    is_following = serializers.BooleanField(read_only=True, help_text="The caller follows them.")
    follows_you = serializers.BooleanField(read_only=True, help_text="They follow the caller.")
    mutual = serializers.BooleanField(read_only=True, help_text="They and the caller follow each other.")
    requested = serializers.BooleanField(
        read_only=True, help_text="The caller asked to follow them (a protected account) and waits for approval."
    )
    blocked = serializers.BooleanField(source="you_blocked", read_only=True, help_text="The caller blocked them.")
    connections_visible = serializers.BooleanField(
        read_only=True,
        help_text="Whether the caller may list their followers and following (false for a protected account "
        "the caller does not follow, and when a block stands either way).",
    )
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


class FollowResultSerializer(PublicProfileSerializer):
    status = serializers.ChoiceField(
        choices=["following", "requested"],
        read_only=True,
        help_text="following: you follow them now; requested: they approve followers, your request waits.",
    )


class FollowView(APIView):
    """``POST``/``DELETE /api/v1/users/{handle}/follow/``."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="users_follow_create",
        summary="Follow a person (or ask to, if they approve followers)",
        description=(
            "A public account is followed at once (`status: following`). A protected account gets a "
            "follow request instead (`status: requested`, `requested: true`) and they are notified; you "
            "follow them once they approve. Idempotent: asking again changes nothing and notifies no one "
            "again. No body. Refused: yourself (400 `cannot_follow_self`), someone blocked either way "
            "(403 `blocked`). Answers with their profile and the status."
        ),
        parameters=[_HANDLE],
        request=None,
        responses={
            200: FollowResultSerializer,
            400: OpenApiResponse(ERROR_RESPONSE),
            403: OpenApiResponse(ERROR_RESPONSE),
            404: _NOT_FOUND,
        },
        tags=["people"],
    )
    def post(self, request: Request, handle: str) -> Response:
        _no_fields(request)
        result = social.follow_start(request.user, followee=selectors.user_for_handle(handle))
        profile = selectors.profile_for(handle, request.user)
        data = FollowResultSerializer(profile, context={"request": request}).data
        data["status"] = result.status
        return Response(data)

    @extend_schema(
        operation_id="users_follow_destroy",
        summary="Unfollow a person, or cancel your follow request",
        description="Idempotent: 204 whether or not you followed them or had asked to. No body. Yourself: 400.",
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


# ---- follow requests (protected accounts) ----------------------------------------------------


class FollowRequestSerializer(serializers.Serializer):
    user = UserSummarySerializer(source="requester", read_only=True)
    requested_at = serializers.DateTimeField(source="created_at", read_only=True)


class MyFollowRequestsView(ListAPIView):
    """``GET /api/v1/me/follow-requests/``: who waits for the caller's approval, newest first."""

    permission_classes = [IsAuthenticated]
    serializer_class = FollowRequestSerializer

    def get_queryset(self):
        return selectors.follow_requests_for(self.request.user)

    @extend_schema(
        operation_id="me_follow_requests_list",
        summary="Follow requests waiting for your approval",
        description="Cursor-paginated, newest first. Approve or decline each with the two actions below.",
        responses={200: FollowRequestSerializer(many=True), 403: OpenApiResponse(ERROR_RESPONSE)},
        tags=["people"],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class FollowRequestApproveView(APIView):
    """``POST /api/v1/me/follow-requests/{handle}/approve/``."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="me_follow_requests_approve",
        summary="Approve a follow request",
        description=(
            "They follow you from now on and are notified. Idempotent: approving someone who already "
            "follows you answers the same. No body. No pending request from them: 404 "
            "`follow_request_not_found`. Answers with their profile (`follows_you: true`)."
        ),
        parameters=[_HANDLE],
        request=None,
        responses={200: PublicProfileSerializer, 400: OpenApiResponse(ERROR_RESPONSE), 404: _NOT_FOUND},
        tags=["people"],
    )
    def post(self, request: Request, handle: str) -> Response:
        _no_fields(request)
        social.follow_request_approve(request.user, requester=selectors.user_for_handle(handle))
        return _profile_response(request, handle)


class FollowRequestDeclineView(APIView):
    """``POST /api/v1/me/follow-requests/{handle}/decline/``."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="me_follow_requests_decline",
        summary="Decline a follow request",
        description="They are not told, and may ask again. Idempotent: 204 whether or not a request waited. No body.",
        parameters=[_HANDLE],
        request=None,
        responses={204: None, 400: OpenApiResponse(ERROR_RESPONSE), 404: _NOT_FOUND},
        tags=["people"],
    )
    def post(self, request: Request, handle: str) -> Response:
        _no_fields(request)
        social.follow_request_decline(request.user, requester=selectors.user_for_handle(handle, active_only=False))
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---- followers / following lists -------------------------------------------------------------


class PeoplePagination(DefaultCursorPagination):
    ordering = "-link_id"  # the follow's id: newest follow first, stable while people follow


class ListsPrivate(NotPermitted):
    code = "lists_private"
    default_message = "These are private: they approve their followers, and only followers may see these lists."


class _PeopleView(ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = PublicProfileSerializer
    pagination_class = PeoplePagination
    people = staticmethod(selectors.followers_people)

    def get_queryset(self):
        profile = selectors.profile_for(self.kwargs["handle"], self.request.user)
        if not profile.connections_visible:
            if profile.blocked_either_way:
                raise ListsPrivate("You cannot see these lists.")
            raise ListsPrivate()
        return self.people(profile.user, self.request.user)

    def list(self, request: Request, *args, **kwargs) -> Response:
        rows = self.paginate_queryset(self.get_queryset())
        profiles = [selectors.profile_from_row(user, request.user) for user in rows]
        return self.get_paginated_response(self.get_serializer(profiles, many=True).data)


_LIST_DESCRIPTION = (
    "Cursor-paginated, newest follow first; each person's profile as the caller sees it (for a follow "
    "button). People blocked either way with the caller are left out. A protected account's lists are "
    "shown only to them and their approved followers; otherwise, and when a block stands either way, "
    "403 `lists_private`. Unknown or inactive handle: 404."
)


class FollowersView(_PeopleView):
    """``GET /api/v1/users/{handle}/followers/``."""

    people = staticmethod(selectors.followers_people)

    @extend_schema(
        operation_id="users_followers_list",
        summary="Who follows a person",
        description=_LIST_DESCRIPTION,
        parameters=[_HANDLE],
        responses={200: PublicProfileSerializer(many=True), 403: OpenApiResponse(ERROR_RESPONSE), 404: _NOT_FOUND},
        tags=["people"],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class FollowingView(_PeopleView):
    """``GET /api/v1/users/{handle}/following/``."""

    people = staticmethod(selectors.following_people)

    @extend_schema(
        operation_id="users_following_list",
        summary="Who a person follows",
        description=_LIST_DESCRIPTION,
        parameters=[_HANDLE],
        responses={200: PublicProfileSerializer(many=True), 403: OpenApiResponse(ERROR_RESPONSE), 404: _NOT_FOUND},
        tags=["people"],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


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

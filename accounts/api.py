"""The signed-in person's own account over the API: ``GET``/``PATCH /api/v1/me/``."""

from __future__ import annotations

from django_countries import countries
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.money import CURRENCY_CHOICES

from . import services
from .models import TIME_ZONE_CHOICES, US_STATES, User

_ERROR = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
            },
        )
    },
)


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


class MeView(APIView):
    permission_classes = [IsAuthenticated]
    serializer_class = MeSerializer

    @extend_schema(
        operation_id="me_retrieve",
        summary="The signed-in account",
        responses={200: MeSerializer, 401: OpenApiResponse(_ERROR), 403: OpenApiResponse(_ERROR)},
        tags=["accounts"],
    )
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user, context={"request": request}).data)

    @extend_schema(
        operation_id="me_partial_update",
        summary="Change the signed-in account's profile",
        description=(
            "Only the fields sent change. A US address needs a state; other countries none. "
            "Validation errors answer 400 with {error: {code, message, fields}}."
        ),
        request=MeUpdateSerializer,
        responses={
            200: MeSerializer,
            400: OpenApiResponse(_ERROR),
            401: OpenApiResponse(_ERROR),
            403: OpenApiResponse(_ERROR),
        },
        tags=["accounts"],
    )
    def patch(self, request: Request) -> Response:
        serializer = MeUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.profile_update(request.user, **serializer.validated_data)
        return Response(MeSerializer(user, context={"request": request}).data)

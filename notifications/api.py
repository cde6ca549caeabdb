"""Notifications API: the list live.js catches up from, and marking read (DESIGN §4, §6)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import DefaultCursorPagination

from .models import Notification
from .selectors import notifications_for, unread_count
from .services import notifications_mark_read

MAX_IDS = 500


class NotificationSerializer(serializers.ModelSerializer):
    title = serializers.CharField(read_only=True)
    url = serializers.CharField(read_only=True, help_text="A path on this site, or empty.")

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "data", "url", "created_at", "read_at"]
        read_only_fields = fields


class AscendingCursorPagination(DefaultCursorPagination):
    """Oldest first: used by ``?after=`` so a reconnecting client replays in order."""

    ordering = "id"


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        allow_empty=False,
        max_length=MAX_IDS,
    )
    up_to_id = serializers.IntegerField(required=False, min_value=0, max_value=2**63 - 1)
    all = serializers.BooleanField(required=False, help_text="true marks every notification read.")

    def validate(self, attrs):
        given = [key for key in ("ids", "up_to_id") if key in attrs]
        if attrs.get("all") is True:
            given.append("all")
        elif "all" in attrs:
            raise serializers.ValidationError({"all": ["Only true is accepted."]})
        if len(given) != 1:
            raise serializers.ValidationError("Give exactly one of ids, up_to_id or all.")
        return attrs


class MarkReadResultSerializer(serializers.Serializer):
    updated = serializers.IntegerField()
    unread_count = serializers.IntegerField()


class NotificationListView(generics.ListAPIView):
    serializer_class = NotificationSerializer

    @extend_schema(
        summary="List your notifications",
        description=(
            "Newest first, cursor-paginated. With `after=<id>`, only notifications with a larger id, "
            "oldest first: how a client catches up on what it missed while its websocket was down."
        ),
        parameters=[
            OpenApiParameter(
                "after",
                OpenApiTypes.INT,
                description="Only notifications with an id greater than this (ascending order).",
            )
        ],
        tags=["notifications"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def _after(self) -> int | None:
        raw = self.request.query_params.get("after")
        if raw is None:
            return None
        value = raw.strip()
        if not value.isdigit() or not value.isascii() or int(value) > 2**63 - 1:
            raise serializers.ValidationError({"after": ["Must be a non-negative whole number."]})
        return int(value)

    @property
    def paginator(self):
        if not hasattr(self, "_paginator"):
            ascending = not getattr(self, "swagger_fake_view", False) and self._after() is not None
            self._paginator = AscendingCursorPagination() if ascending else DefaultCursorPagination()
        return self._paginator

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        rows = notifications_for(self.request.user)
        after = self._after()
        if after is not None:
            rows = rows.filter(id__gt=after).order_by("id")
        return rows


class NotificationReadView(APIView):
    @extend_schema(
        summary="Mark notifications read",
        description=(
            'Body: exactly one of `{"ids": [...]}`, `{"up_to_id": n}` or `{"all": true}`. '
            "Only your own notifications change; other ids are ignored."
        ),
        request=MarkReadSerializer,
        responses={200: MarkReadResultSerializer},
        tags=["notifications"],
    )
    def post(self, request):
        form = MarkReadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        updated = notifications_mark_read(
            request.user,
            ids=data.get("ids"),
            up_to_id=data.get("up_to_id"),
            all=bool(data.get("all")),
        )
        return Response({"updated": updated, "unread_count": unread_count(request.user)})

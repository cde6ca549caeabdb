"""Social API: moderation — ``POST /api/v1/posts/{id}/report/``. Staff decide in the admin."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictCharField, error_responses
from core.errors import ValidationFailed

from ..models import ReportReason, ReportStatus
from ..services.moderation import DETAILS_MAX_LENGTH, post_report


class PostReportCreateSerializer(serializers.Serializer):
    # Plain text, checked by the service (a ChoiceField's enum would clash with messaging's "reason").
    reason = StrictCharField(
        max_length=16, help_text=f"Why the post is reported: one of {', '.join(ReportReason.values)}."
    )
    details = StrictCharField(
        max_length=DETAILS_MAX_LENGTH, required=False, allow_blank=True, help_text="Optional, for staff only."
    )


class PostReportSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    post_id = serializers.IntegerField(read_only=True)
    reason = serializers.CharField(read_only=True, help_text=f"One of {', '.join(ReportReason.values)}.")
    details = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=ReportStatus.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class PostReportView(APIView):
    """``POST /api/v1/posts/{id}/report/``."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="posts_report_create",
        summary="Report a post to staff",
        description=(
            "Only a post you can see (anything else: 404 `post_not_found`, whether or not it exists), "
            "never your own (400 `cannot_report_own_post`). `reason` is one of "
            f"{', '.join(ReportReason.values)}; `details` at most {DETAILS_MAX_LENGTH} characters. One "
            "report per person and post: a second answers 409 `already_reported` and changes nothing. "
            "The author is not told who reported it."
        ),
        parameters=[OpenApiParameter("pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="The post's id.")],
        request=PostReportCreateSerializer,
        responses={201: PostReportSerializer, **error_responses(400, 401, 403, 404, 409)},
        tags=["posts"],
    )
    def post(self, request: Request, pk: str) -> Response:
        if not hasattr(request.data, "keys"):
            raise ValidationFailed("Send a JSON object with reason and details.")
        unknown = set(request.data.keys()) - {"reason", "details"}
        if unknown:
            names = sorted(str(name)[:64] for name in unknown)[:20]
            raise ValidationFailed("Unknown fields.", fields={name: ["Unknown field."] for name in names})
        form = PostReportCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        report = post_report(
            request.user, post=pk, reason=form.validated_data["reason"], details=form.validated_data.get("details", "")
        )
        return Response(PostReportSerializer(report).data, status=status.HTTP_201_CREATED)


urlpatterns = [path("posts/<str:pk>/report/", PostReportView.as_view(), name="api-post-report")]

"""``GET /api/v1/compliance/status/``: the signed-in person's tier, 7-day limit, freeze and open reviews."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ERROR_RESPONSE

from .errors import STATUS_URL
from .models import ReviewReason, ReviewStatus, Tier
from .selectors import AccountStatus, account_status


class LimitSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="Always USD: limits count every payment at its US dollar value.")
    limit = serializers.IntegerField(help_text="US cents that may be sent per rolling 7 days.")
    used = serializers.IntegerField(help_text="US cents sent in the last 7 days (cancelled/rejected excluded).")
    remaining = serializers.IntegerField(help_text="US cents that may still be sent now.")
    limit_display = serializers.CharField()
    remaining_display = serializers.CharField()


class FreezeSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="Why the account is frozen, as staff wrote it.")
    since = serializers.DateTimeField()
    appeal_url = serializers.CharField(help_text="The page where the person can appeal.")
    appeal_waiting = serializers.BooleanField(help_text="True while an appeal awaits an answer.")


class ReviewSerializer(serializers.Serializer):
    subject = serializers.CharField(help_text='What is held, e.g. "payment:42".')
    reason = serializers.ChoiceField(choices=ReviewReason.choices)
    reason_label = serializers.CharField()
    status = serializers.ChoiceField(choices=ReviewStatus.choices)
    summary = serializers.CharField()
    deadline = serializers.DateTimeField(help_text="Staff decide by then; otherwise the money goes back.")


class BlockSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="account_frozen, region_not_licensed or verification_required.")
    message = serializers.CharField()


class ComplianceStatusSerializer(serializers.Serializer):
    tier = serializers.ChoiceField(choices=Tier.choices)
    tier_label = serializers.CharField()
    can_send = serializers.BooleanField()
    blocked = BlockSerializer(allow_null=True, help_text="Why sending is refused, or null.")
    limit = LimitSerializer()
    document_status = serializers.CharField()
    freeze = FreezeSerializer(allow_null=True)
    open_reviews = ReviewSerializer(many=True)


def status_data(status: AccountStatus) -> dict:
    freeze = status.freeze
    return {
        "tier": status.tier,
        "tier_label": status.tier_label,
        "can_send": status.can_send,
        "blocked": {"code": status.block_code, "message": status.block_message} if status.blocker else None,
        "limit": {
            "currency": "USD",
            "limit": status.limit_usd_minor,
            "used": status.used_usd_minor,
            "remaining": status.remaining_usd_minor,
            "limit_display": status.limit_display,
            "remaining_display": status.remaining_display,
        },
        "document_status": status.document_status,
        "freeze": {
            "reason": freeze.reason,
            "since": freeze.created_at,
            "appeal_url": STATUS_URL,
            "appeal_waiting": status.open_appeal is not None,
        }
        if freeze
        else None,
        "open_reviews": [
            {
                "subject": review.subject,
                "reason": review.reason,
                "reason_label": review.get_reason_display(),
                "status": review.status,
                "summary": review.summary,
                "deadline": review.deadline,
            }
            for review in status.open_reviews
        ],
    }


class ComplianceStatusView(APIView):
    permission_classes = [IsAuthenticated]
    serializer_class = ComplianceStatusSerializer

    @extend_schema(
        operation_id="compliance_status_retrieve",
        summary="The signed-in account's verification tier, sending limit, freeze and reviews",
        description=(
            "Amounts are US cents (every payment counts at its US dollar value). `blocked` says why "
            "sending is refused right now (frozen, region not licensed, verification needed), or is null."
        ),
        responses={200: ComplianceStatusSerializer, 403: OpenApiResponse(ERROR_RESPONSE)},
        tags=["compliance"],
    )
    def get(self, request: Request) -> Response:
        data = status_data(account_status(request.user))
        return Response(ComplianceStatusSerializer(data).data)

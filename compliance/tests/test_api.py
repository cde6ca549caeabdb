"""GET /api/v1/compliance/status/."""

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from compliance import services
from compliance.models import ReviewReason

pytestmark = [pytest.mark.django_db, pytest.mark.urls("compliance.tests.urls")]

URL = "/api/v1/compliance/status/"


@pytest.fixture
def api():
    return APIClient()


def test_anonymous_is_refused(api):
    response = api.get(URL)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_authenticated"


def test_tier_0_status(api, newcomer):
    api.force_authenticate(newcomer)
    data = api.get(URL).json()
    assert data["tier"] == 0 and data["can_send"] is False
    assert data["blocked"]["code"] == "verification_required"
    assert data["limit"] == {
        "currency": "USD",
        "limit": 0,
        "used": 0,
        "remaining": 0,
        "limit_display": "$0.00",
        "remaining_display": "$0.00",
    }
    assert data["freeze"] is None and data["open_reviews"] == []


def test_tier_1_with_usage_a_review_and_a_freeze(api, sender, staff):
    with transaction.atomic():
        services.limit_reserve(sender, usd_minor=300_00, reference="payment:1")
    services.review_open(
        sender, subject="payment:9", usd_minor=400_000, reason=ReviewReason.LARGE_AMOUNT, summary="$4,000.00 to @bob"
    )
    services.freeze_account(staff, user=sender, reason="Checking a card")
    api.force_authenticate(sender)
    data = api.get(URL).json()
    assert data["tier"] == 1 and data["tier_label"] == "Tier 1 — identity details"
    assert (data["limit"]["limit"], data["limit"]["used"], data["limit"]["remaining"]) == (1_000_00, 300_00, 700_00)
    assert data["can_send"] is False and data["blocked"]["code"] == "account_frozen"
    assert data["freeze"]["reason"] == "Checking a card"
    assert data["freeze"]["appeal_url"] == "/compliance/status/" and data["freeze"]["appeal_waiting"] is False
    [review] = data["open_reviews"]
    assert review["subject"] == "payment:9" and review["reason"] == "large_amount"
    assert review["reason_label"] == "Large payment" and review["status"] == "pending" and review["deadline"]


def test_schema_documents_the_endpoint(api, admin_user):
    api.force_authenticate(admin_user)
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    operation = schema["paths"]["/api/v1/compliance/status/"]["get"]
    assert operation["operationId"] == "compliance_status_retrieve"
    assert "ComplianceStatus" in schema["components"]["schemas"]

"""Security review of compliance's HTTP entry points: who may see what, bad input, CSRF, staff permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from compliance import services
from compliance.models import AccountFreeze, AuditEntry, DocumentStatus, KycProfile, ReviewReason, Tier

from .conftest import image_upload
from .factories import staff_user

pytestmark = pytest.mark.django_db

HUGE = ["0", str(2**63), "99999999999999999999", "9" * 300]


def logged_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def plain_staff(handle: str, *codenames: str):
    user = staff_user(handle, superuser=False)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


@pytest.fixture
def submitted(sender):
    return services.kyc_submit_document(sender, file=image_upload())


# --- identity documents -------------------------------------------------------------------------


def test_identity_documents_need_the_kyc_permission_not_just_staff(submitted):
    """Regression: any active staff member (support, say, with no right to KYC profiles) could open
    anyone's passport photo at /compliance/documents/<id>/."""
    url = f"/compliance/documents/{submitted.pk}/"
    support = plain_staff("support", "view_payment")
    assert logged_in(support).get(url).status_code == 404
    assert not AuditEntry.objects.filter(action="kyc.document_view").exists()
    for codename in ("view_kycprofile", "change_kycprofile"):
        reviewer = plain_staff(f"kyc-{codename[:4]}", codename)
        response = logged_in(reviewer).get(url)
        assert response.status_code == 200
        assert response["Cache-Control"] == "private, no-store"
        b"".join(response.streaming_content)
    assert AuditEntry.objects.filter(action="kyc.document_view").count() == 2


def test_identity_documents_of_forged_ids_are_404(staff):
    client = logged_in(staff)
    for value in HUGE:
        assert client.get(f"/compliance/documents/{value}/").status_code == 404


def test_inactive_staff_cannot_open_documents(submitted):
    former = staff_user("former", is_active=True)
    client = logged_in(former)
    former.is_active = False
    former.save()
    assert client.get(f"/compliance/documents/{submitted.pk}/").status_code in (302, 404)


# --- the status API shows only your own -------------------------------------------------------------


def test_status_api_is_your_own_and_refuses_anonymous(sender, big_sender, staff):
    services.freeze_account(staff, user=big_sender, reason="Ask us about the card you used.")
    response = APIClient().get("/api/v1/compliance/status/")
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"
    client = APIClient()
    client.force_authenticate(sender)
    data = client.get("/api/v1/compliance/status/").json()
    assert data["freeze"] is None and data["tier"] == Tier.DETAILS
    assert "card you used" not in str(data)
    # Query strings cannot ask for someone else's.
    assert client.get(f"/api/v1/compliance/status/?user={big_sender.pk}").json()["freeze"] is None


# --- bad input on the forms ------------------------------------------------------------------------------

NUL = "\x00"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"step": NUL},
        {"step": "details"},
        {"step": "details", "details-legal_name": NUL, "details-date_of_birth": "9999-99-99", "details-country": NUL},
        {
            "step": "details",
            "details-legal_name": "Al" + NUL,
            "details-date_of_birth": "0001-01-01",
            "details-address_line1": "a" * 10_000,
            "details-city": "c",
            "details-postal_code": "p",
            "details-country": "US",
            "details-region": "N" + NUL,
            "details-national_id_last4": "١٢٣٤",
        },
        {
            "step": "details",
            "details-legal_name": "Al Smith",
            "details-date_of_birth": "1990-01-01",
            "details-address_line1": "1 Main",
            "details-city": "c",
            "details-postal_code": "p",
            "details-country": "XX",
            "details-national_id_last4": "12" + NUL + "4",
        },
        {"step": "document"},
        {"step": "document", "document-document": "not a file"},
    ],
)
def test_bad_verification_forms_are_4xx_or_shown_again(newcomer, data):
    response = logged_in(newcomer).post("/compliance/verify/", data)
    assert response.status_code in (200, 302, 400)
    assert not KycProfile.objects.filter(user=newcomer, tier__gt=Tier.EMAIL).exists()


def test_a_fake_image_document_is_refused(sender):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("passport.jpg", b"<script>alert(1)</script>", content_type="image/jpeg")
    response = logged_in(sender).post("/compliance/verify/", {"step": "document", "document-document": fake})
    assert response.status_code in (200, 400)
    assert KycProfile.objects.get(user=sender).document_status == DocumentStatus.NONE


@pytest.mark.parametrize("text", ["", "\x00", "a\x00b", "x" * 100_000, "<script>alert(1)</script>"])
def test_bad_appeals_are_not_500s(sender, staff, text):
    services.freeze_account(staff, user=sender, reason="<b>check</b>")
    client = logged_in(sender)
    response = client.post("/compliance/status/", {"text": text})
    assert response.status_code in (200, 302, 400)
    page = client.get("/compliance/status/").content.decode()
    assert "<script>alert" not in page and "<b>check</b>" not in page


def test_compliance_forms_need_the_csrf_token(sender, staff):
    services.freeze_account(staff, user=sender, reason="check")
    client = logged_in(sender, enforce_csrf_checks=True)
    assert client.post("/compliance/status/", {"text": "please"}).status_code == 403
    assert client.post("/compliance/verify/", {"step": "details"}).status_code == 403
    assert not AccountFreeze.objects.get(user=sender).appeals.exists()


# --- staff pages -------------------------------------------------------------------------------------------


def test_staff_decision_pages_refuse_those_without_the_permission(submitted, sender, staff):
    review = services.review_open(
        sender, subject="test:sec", usd_minor=500_000, reason=ReviewReason.LARGE_AMOUNT, summary="x"
    )
    freeze = services.freeze_account(staff, user=sender, reason="check")
    viewer = logged_in(plain_staff("viewer", "view_kycprofile", "view_riskreview", "view_accountfreeze"))
    member = logged_in(sender)
    urls = [
        f"/admin/compliance/kycprofile/{submitted.pk}/approve-document/",
        f"/admin/compliance/kycprofile/{submitted.pk}/reject-document/",
        f"/admin/compliance/riskreview/{review.pk}/approve/",
        f"/admin/compliance/riskreview/{review.pk}/reject/",
        f"/admin/compliance/accountfreeze/{freeze.pk}/lift/",
    ]
    for url in urls:
        response = member.post(url, {"reason": "because"})
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
        assert viewer.get(url).status_code == 403, url
        assert viewer.post(url, {"reason": "because"}).status_code == 403, url
    submitted.refresh_from_db()
    assert submitted.document_status == DocumentStatus.PENDING
    freeze.refresh_from_db()
    assert freeze.is_active
    # The KYC profile cannot be changed (limit override) without the change permission.
    response = viewer.post(
        f"/admin/compliance/kycprofile/{submitted.pk}/change/",
        {"new_limit_usd": "99999.00", "override_reason": "vip"},
    )
    assert response.status_code == 403
    submitted.refresh_from_db()
    assert submitted.weekly_limit_override is None


@pytest.mark.parametrize("value", HUGE)
def test_staff_decision_pages_of_forged_ids_are_404(staff, value):
    client = logged_in(staff)
    for url in [
        "/admin/compliance/kycprofile/{}/approve-document/",
        "/admin/compliance/kycprofile/{}/reject-document/",
        "/admin/compliance/riskreview/{}/approve/",
        "/admin/compliance/riskreview/{}/reject/",
        "/admin/compliance/accountfreeze/{}/lift/",
    ]:
        assert client.get(url.format(value)).status_code == 404
        assert client.post(url.format(value), {"reason": "x"}).status_code == 404


def test_freeze_form_with_odd_handles_is_not_a_500(staff):
    client = logged_in(staff)
    for handle in ["\x00", "@" + "a" * 1000, "@nobody", "", "<script>"]:
        response = client.post("/admin/compliance/accountfreeze/add/", {"user": handle, "reason": "x"})
        assert response.status_code in (200, 400), handle
        assert "@<script>" not in response.content.decode()  # the error names the handle, escaped
    assert not AccountFreeze.objects.exists()

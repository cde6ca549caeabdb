"""Pages: /compliance/verify/, /compliance/status/ (with appeals) and the staff-only document view."""

from datetime import date, timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from compliance import services
from compliance.models import AuditEntry, DocumentStatus, FreezeAppeal, KycProfile, ReviewReason, Tier
from core.testing import session_queries

from .conftest import image_upload

pytestmark = pytest.mark.django_db

VERIFY = "/compliance/verify/"
STATUS = "/compliance/status/"


def details_post(**overrides):
    data = {
        "step": "details",
        "details-legal_name": "Nora Newcomer",
        "details-date_of_birth": "1991-07-14",
        "details-address_line1": "5 Elm Street",
        "details-address_line2": "",
        "details-city": "Portland",
        "details-region": "OR",
        "details-postal_code": "97201",
        "details-country": "US",
        "details-national_id_last4": "9876",
    }
    data.update(overrides)
    return data


def test_url_names():
    assert reverse("compliance:verify") == VERIFY
    assert reverse("compliance:status") == STATUS
    assert reverse("compliance:document", args=[7]) == "/compliance/documents/7/"


def test_pages_need_login(client):
    assert client.get(VERIFY).status_code == 302
    assert client.get(STATUS).status_code == 302


def test_verify_page_shows_the_tier_and_the_details_form(client, newcomer):
    client.force_login(newcomer)
    response = client.get(VERIFY)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Verify your identity" in body and "You are here" in body
    assert "Last 4 digits of your national ID" in body
    assert "Add your details first" in body  # the document step waits for step 1
    assert "css/compliance.css" in body


def test_verify_flow_details_then_document(client, newcomer):
    client.force_login(newcomer)
    response = client.post(VERIFY, details_post())
    assert response.status_code == 302
    assert KycProfile.objects.get(user=newcomer).tier == Tier.DETAILS
    page = client.get(VERIFY).content.decode()
    assert "you can now send up to $1,000.00 every 7 days" in page
    assert "Upload document" in page

    response = client.post(VERIFY, {"step": "document", "document-document": image_upload()})
    assert response.status_code == 302
    profile = KycProfile.objects.get(user=newcomer)
    assert profile.document_status == DocumentStatus.PENDING
    page = client.get(VERIFY).content.decode()
    assert "Waiting for review" in page and "our team is reviewing it" in page


def test_under_18_sees_the_reason_on_the_form(client, newcomer):
    client.force_login(newcomer)
    young = (timezone.localdate() - timedelta(days=17 * 365)).isoformat()
    response = client.post(VERIFY, details_post(**{"details-date_of_birth": young}))
    assert response.status_code == 200
    assert "You must be 18 or older to send money" in response.content.decode()
    assert not KycProfile.objects.filter(user=newcomer, tier__gt=0).exists()


def test_bad_last4_is_shown_on_the_field(client, newcomer):
    client.force_login(newcomer)
    response = client.post(VERIFY, details_post(**{"details-national_id_last4": "12a4"}))
    assert response.status_code == 200
    assert "Enter exactly the last 4 digits" in response.content.decode()


def test_a_non_image_document_is_refused_on_the_form(client, sender):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(sender)
    fake = SimpleUploadedFile("id.png", b"not an image at all" * 20, content_type="image/png")
    response = client.post(VERIFY, {"step": "document", "document-document": fake})
    assert response.status_code == 200
    assert "not an image we can read" in response.content.decode()


def test_rejected_document_shows_the_note(client, sender, staff):
    profile = services.kyc_submit_document(sender, file=image_upload())
    services.kyc_document_review(staff, profile=profile, approve=False, note="Your passport photo is cut off.")
    client.force_login(sender)
    page = client.get(VERIFY).content.decode()
    assert "Not accepted" in page and "Your passport photo is cut off." in page
    assert "Upload document" in page


def test_approved_document_hides_the_upload(client, big_sender):
    client.force_login(big_sender)
    page = client.get(VERIFY).content.decode()
    assert "Your document is approved" in page and "Upload document" not in page


def test_verify_prefills_saved_details(client, sender):
    client.force_login(sender)
    page = client.get(VERIFY).content.decode()
    assert 'value="1 Main Street"' in page and 'value="1990-04-12"' in page


def test_status_page_shows_limits_and_reviews(client, sender, django_assert_max_num_queries):
    with transaction.atomic():
        services.limit_reserve(sender, usd_minor=250_00, reference="payment:1")
    for n in range(5):
        services.review_open(
            sender,
            subject=f"payment:{100 + n}",
            usd_minor=400_000,
            reason=ReviewReason.LARGE_AMOUNT,
            summary=f"$4,000.0{n} to @bob",
        )
    client.force_login(sender)
    with django_assert_max_num_queries(5 + session_queries()):
        response = client.get(STATUS)
    body = response.content.decode()
    assert response.status_code == 200
    assert "$1,000.00" in body and "$250.00" in body and "$750.00" in body
    assert "Large payment" in body and "$4,000.03 to @bob" in body and "decision by" in body
    assert "Raise your limit to $10,000.00" in body


def test_status_page_empty_state(client, sender):
    client.force_login(sender)
    body = client.get(STATUS).content.decode()
    assert "Nothing is under review" in body


def test_status_page_tells_tier_0_to_verify(client, newcomer):
    client.force_login(newcomer)
    body = client.get(STATUS).content.decode()
    assert "Before you can send money, verify your identity" in body and VERIFY in body


def test_frozen_user_sees_why_and_can_appeal(client, sender, staff):
    services.freeze_account(staff, user=sender, reason="We could not confirm a card you added.")
    client.force_login(sender)
    body = client.get(STATUS).content.decode()
    assert "Your account is frozen" in body and "We could not confirm a card you added." in body
    assert "Send appeal" in body

    response = client.post(STATUS, {"text": ""})
    assert response.status_code == 200  # required
    response = client.post(STATUS, {"text": "The card is mine; happy to send a statement."})
    assert response.status_code == 302
    assert FreezeAppeal.objects.get().text == "The card is mine; happy to send a statement."
    body = client.get(STATUS).content.decode()
    assert "We have your appeal" in body and "Send appeal" not in body


def test_appeal_when_not_frozen_shows_the_error(client, sender):
    client.force_login(sender)
    response = client.post(STATUS, {"text": "Let me out"}, follow=True)
    assert "nothing to appeal" in response.content.decode()


# --- the document view ------------------------------------------------------------------


@pytest.fixture
def submitted(sender):
    return services.kyc_submit_document(sender, file=image_upload())


def test_document_view_streams_to_staff_and_audits(client, submitted, staff):
    client.force_login(staff)
    response = client.get(f"/compliance/documents/{submitted.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content)[:3] == b"\xff\xd8\xff"
    assert AuditEntry.objects.filter(action="kyc.document_view", actor=staff).count() == 1


def test_document_view_is_404_for_the_owner_others_and_anonymous(client, submitted, sender, big_sender):
    url = f"/compliance/documents/{submitted.pk}/"
    assert client.get(url).status_code == 404
    client.force_login(sender)
    assert client.get(url).status_code == 404
    client.force_login(big_sender)
    assert client.get(url).status_code == 404
    assert not AuditEntry.objects.filter(action="kyc.document_view").exists()


def test_document_view_is_404_when_there_is_no_document(client, sender, staff):
    client.force_login(staff)
    profile = KycProfile.objects.get(user=sender)
    assert client.get(f"/compliance/documents/{profile.pk}/").status_code == 404
    assert client.get("/compliance/documents/999999/").status_code == 404


def test_document_is_not_under_media_url(settings, submitted):
    from compliance.models import private_media_root

    path = private_media_root() / submitted.document.name
    assert path.exists()
    assert not str(path.resolve()).startswith(str(settings.MEDIA_ROOT))


def test_verify_with_dob_as_date(client, newcomer):
    client.force_login(newcomer)
    client.post(VERIFY, details_post(**{"details-date_of_birth": date(1970, 1, 1).isoformat()}))
    assert KycProfile.objects.get(user=newcomer).date_of_birth == date(1970, 1, 1)

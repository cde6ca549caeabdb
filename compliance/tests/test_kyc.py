"""KYC tiers: details (tier 1, 18+), the identity document (tier 2, staff review)."""

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from compliance import services
from compliance.models import AuditEntry, DocumentStatus, KycProfile, Tier, private_media_root
from compliance.tests.factories import make_verified
from core.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from notifications.models import Notification

from .conftest import image_upload

pytestmark = pytest.mark.django_db


def details(**overrides):
    base = {
        "legal_name": "Alice  Pleasance Liddell ",
        "date_of_birth": date(1990, 5, 4),
        "address_line1": "12 Rabbit Hole Lane",
        "address_line2": "",
        "city": "Oxford",
        "region": "",
        "postal_code": "OX1 1AA",
        "country": "GB",
        "national_id_last4": "0427",
    }
    base.update(overrides)
    return base


def years_ago(years: int, days: int = 0) -> date:
    today = timezone.localdate()
    try:
        born = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        born = today.replace(year=today.year - years, day=28)
    return born + timedelta(days=days)


def test_new_user_is_tier_0(newcomer):
    assert services.kyc_tier(newcomer) == Tier.EMAIL
    assert services.limit_status(newcomer).limit == 0


def test_details_raise_to_tier_1(newcomer):
    profile = services.kyc_submit_details(newcomer, **details())
    assert profile.tier == Tier.DETAILS
    assert profile.legal_name == "Alice Pleasance Liddell"
    assert profile.national_id_last4 == "0427"
    assert services.kyc_tier(newcomer) == 1
    assert services.limit_status(newcomer).limit == 1_000_00


def test_exactly_18_today_is_accepted(newcomer):
    profile = services.kyc_submit_details(newcomer, **details(date_of_birth=years_ago(18)))
    assert profile.tier == Tier.DETAILS


def test_under_18_is_refused_with_a_clear_message(newcomer):
    with pytest.raises(services.TooYoung) as caught:
        services.kyc_submit_details(newcomer, **details(date_of_birth=years_ago(18, days=1)))
    assert "You must be 18 or older to send money" in caught.value.message
    assert "date_of_birth" in caught.value.fields
    assert services.kyc_tier(newcomer) == Tier.EMAIL
    assert not KycProfile.objects.filter(user=newcomer, tier__gt=0).exists()


def test_future_date_of_birth_is_refused(newcomer):
    with pytest.raises(ValidationFailed) as caught:
        services.kyc_submit_details(newcomer, **details(date_of_birth=timezone.localdate() + timedelta(days=1)))
    assert "future" in caught.value.message


@pytest.mark.parametrize("last4", ["123", "12345", "12a4", "", "١٢٣٤"])
def test_national_id_must_be_exactly_four_digits(newcomer, last4):
    with pytest.raises(ValidationFailed) as caught:
        services.kyc_submit_details(newcomer, **details(national_id_last4=last4))
    assert "national_id_last4" in caught.value.fields


def test_every_missing_field_is_named(newcomer):
    with pytest.raises(ValidationFailed) as caught:
        services.kyc_submit_details(
            newcomer, **details(legal_name="", address_line1=" ", city="", postal_code="", country="")
        )
    assert {"legal_name", "address_line1", "city", "postal_code", "country"} <= set(caught.value.fields)


def test_us_address_needs_a_state(newcomer):
    with pytest.raises(ValidationFailed) as caught:
        services.kyc_submit_details(newcomer, **details(country="US", region=""))
    assert "region" in caught.value.fields
    profile = services.kyc_submit_details(newcomer, **details(country="US", region="NY", postal_code="10001"))
    assert profile.country == "US"


def test_unknown_country_is_refused(newcomer):
    with pytest.raises(ValidationFailed) as caught:
        services.kyc_submit_details(newcomer, **details(country="XX"))
    assert "country" in caught.value.fields


def test_date_of_birth_accepts_iso_text(newcomer):
    profile = services.kyc_submit_details(newcomer, **details(date_of_birth="1985-02-03"))
    assert profile.date_of_birth == date(1985, 2, 3)


def test_document_upload_sets_pending_in_private_storage(sender, document_file):
    profile = services.kyc_submit_document(sender, file=document_file)
    assert profile.document_status == DocumentStatus.PENDING
    assert profile.document_submitted_at is not None
    # Stored under the private root, with a random name (not "passport.jpg"), never with a URL.
    path = private_media_root() / profile.document.name
    assert path.exists()
    assert "passport" not in profile.document.name
    with pytest.raises(ValueError):
        profile.document.url  # noqa: B018


def test_document_is_re_encoded_without_metadata(sender):
    upload = image_upload("scan.png", fmt="PNG", content_type="image/png")
    profile = services.kyc_submit_document(sender, file=upload)
    assert profile.document.name.endswith(".png")


def test_document_must_be_a_real_image(sender):
    fake = SimpleUploadedFile("passport.jpg", b"<?php echo 'hi'; ?>" * 50, content_type="image/jpeg")
    with pytest.raises(services.DocumentInvalid) as caught:
        services.kyc_submit_document(sender, file=fake)
    assert "not an image" in caught.value.message
    assert KycProfile.objects.get(user=sender).document_status == DocumentStatus.NONE


def test_document_over_5_mb_is_refused(sender):
    big = SimpleUploadedFile("big.jpg", b"\xff\xd8" + b"0" * (5 * 1024 * 1024), content_type="image/jpeg")
    with pytest.raises(services.DocumentInvalid) as caught:
        services.kyc_submit_document(sender, file=big)
    assert "limit is 5 MB" in caught.value.message


def test_gif_is_refused(sender):
    with pytest.raises(services.DocumentInvalid):
        services.kyc_submit_document(sender, file=image_upload("a.gif", fmt="GIF", content_type="image/gif"))


def test_tiny_image_is_refused(sender):
    with pytest.raises(services.DocumentInvalid) as caught:
        services.kyc_submit_document(sender, file=image_upload(size=(50, 40)))
    assert "too small" in caught.value.message


def test_document_needs_details_first(newcomer, document_file):
    with pytest.raises(ValidationFailed) as caught:
        services.kyc_submit_document(newcomer, file=document_file)
    assert caught.value.code == "details_required"


def test_new_upload_replaces_a_rejected_one_and_deletes_the_old_file(sender, staff, django_capture_on_commit_callbacks):
    first = services.kyc_submit_document(sender, file=image_upload())
    old_path = private_media_root() / first.document.name
    services.kyc_document_review(staff, profile=first, approve=False, note="Blurry photo")
    with django_capture_on_commit_callbacks(execute=True):
        second = services.kyc_submit_document(sender, file=image_upload())
    assert second.document_status == DocumentStatus.PENDING
    assert second.review_note == ""
    assert not old_path.exists()
    assert (private_media_root() / second.document.name).exists()


def test_staff_approval_raises_to_tier_2_with_audit_and_notification(sender, staff, document_file):
    profile = services.kyc_submit_document(sender, file=document_file)
    profile = services.kyc_document_review(staff, profile=profile, approve=True)
    assert profile.tier == Tier.DOCUMENT
    assert profile.document_status == DocumentStatus.APPROVED
    assert profile.document_reviewed_by == staff
    assert services.limit_status(sender).limit == 10_000_00
    entry = AuditEntry.objects.get(action="kyc.document_approve")
    assert entry.actor == staff and entry.target_type == "compliance.kycprofile" and entry.target_id == str(profile.pk)
    note = Notification.objects.get(recipient=sender, kind="compliance.document_approved")
    assert note.title == "Your identity is verified: you can now send up to $10,000.00 every 7 days"


def test_rejection_needs_a_note_and_tells_the_person(sender, staff, document_file):
    profile = services.kyc_submit_document(sender, file=document_file)
    with pytest.raises(ValidationFailed):
        services.kyc_document_review(staff, profile=profile, approve=False, note="  ")
    profile = services.kyc_document_review(staff, profile=profile, approve=False, note="The photo is blurry.")
    assert profile.document_status == DocumentStatus.REJECTED and profile.tier == Tier.DETAILS
    assert profile.review_note == "The photo is blurry."
    assert AuditEntry.objects.filter(action="kyc.document_reject", reason="The photo is blurry.").exists()
    note = Notification.objects.get(recipient=sender, kind="compliance.document_rejected")
    assert "blurry" in note.title


def test_reviewing_twice_is_a_conflict(sender, staff, checker, document_file):
    profile = services.kyc_submit_document(sender, file=document_file)
    services.kyc_document_review(staff, profile=profile, approve=True)
    with pytest.raises(Conflict):
        services.kyc_document_review(checker, profile=profile, approve=False, note="no")


def test_only_staff_review_documents(sender, big_sender, document_file):
    profile = services.kyc_submit_document(sender, file=document_file)
    with pytest.raises(NotPermitted):
        services.kyc_document_review(big_sender, profile=profile, approve=True)
    assert KycProfile.objects.get(pk=profile.pk).tier == Tier.DETAILS


def test_staff_cannot_review_their_own_document(staff, document_file):
    make_verified(staff, tier=1)
    profile = services.kyc_submit_document(staff, file=document_file)
    with pytest.raises(NotPermitted):
        services.kyc_document_review(staff, profile=profile, approve=True)


def test_approved_document_cannot_be_replaced(big_sender, document_file):
    with pytest.raises(Conflict):
        services.kyc_submit_document(big_sender, file=document_file)


def test_changing_legal_name_at_tier_2_needs_a_new_document(big_sender):
    profile = services.kyc_submit_details(big_sender, **details(legal_name="Someone Else"))
    assert profile.tier == Tier.DETAILS
    assert profile.document_status == DocumentStatus.NONE
    assert "upload your identity document again" in profile.review_note


def test_changing_only_the_address_at_tier_2_keeps_tier_2(big_sender):
    profile = KycProfile.objects.get(user=big_sender)
    services.kyc_submit_details(
        big_sender,
        **details(legal_name=profile.legal_name, date_of_birth=profile.date_of_birth, city="Cambridge"),
    )
    profile.refresh_from_db()
    assert profile.tier == Tier.DOCUMENT and profile.city == "Cambridge"


def test_document_open_is_staff_only_and_audited(sender, staff, document_file):
    profile = services.kyc_submit_document(sender, file=document_file)
    with pytest.raises(NotPermitted):
        services.kyc_document_open(sender, profile=profile)
    opened = services.kyc_document_open(staff, profile=profile.pk)
    assert opened.read(3) == b"\xff\xd8\xff"
    opened.close()
    assert AuditEntry.objects.filter(action="kyc.document_view", actor=staff).count() == 1
    with pytest.raises(NotFound):
        services.kyc_document_open(staff, profile=profile.pk + 999)


def test_limit_override_is_staff_only_needs_a_reason_and_is_audited(sender, staff):
    profile = KycProfile.objects.get(user=sender)
    with pytest.raises(NotPermitted):
        services.kyc_limit_override_set(sender, profile=profile, usd_minor=5_000_000, reason="me")
    with pytest.raises(ValidationFailed):
        services.kyc_limit_override_set(staff, profile=profile, usd_minor=5_000_000, reason="")
    services.kyc_limit_override_set(staff, profile=profile, usd_minor=50_000_00, reason="Business account")
    assert services.limit_status(sender).limit == 50_000_00
    entry = AuditEntry.objects.get(action="kyc.limit_override")
    assert entry.data == {"from": None, "to": 50_000_00} and entry.reason == "Business account"


def test_make_verified_factory_sets_each_tier(newcomer):
    assert make_verified(newcomer, tier=2).tier == 2
    assert services.kyc_tier(newcomer) == 2
    assert make_verified(newcomer, tier=1).document_status == DocumentStatus.NONE
    assert make_verified(newcomer, tier=0).tier == 0

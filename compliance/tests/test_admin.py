"""The compliance admin: KYC review, the review queue (maker-checker), freezes, appeals, the audit trail."""

import pytest
from django.test import Client

from compliance import services
from compliance.models import (
    AccountFreeze,
    AuditEntry,
    DocumentStatus,
    FreezeAppeal,
    KycProfile,
    ReviewReason,
    ReviewStatus,
    RiskReview,
    Tier,
)
from compliance.signals import review_decided

from .conftest import image_upload

pytestmark = pytest.mark.django_db

KYC = "/admin/compliance/kycprofile/"
REVIEWS = "/admin/compliance/riskreview/"
FREEZES = "/admin/compliance/accountfreeze/"
APPEALS = "/admin/compliance/freezeappeal/"
AUDIT = "/admin/compliance/auditentry/"
USAGE = "/admin/compliance/limitusage/"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def decisions():
    seen = []

    def receiver(sender, *, review, approved, actor, **kwargs):
        seen.append((review.subject, approved, actor))

    review_decided.connect(receiver, dispatch_uid="compliance-admin-tests")
    yield seen
    review_decided.disconnect(dispatch_uid="compliance-admin-tests")


def review_for(user, cents=500_000, subject="test:1"):
    return services.review_open(
        user, subject=subject, usd_minor=cents, reason=ReviewReason.LARGE_AMOUNT, summary="to @someone"
    )


# --- every page renders -----------------------------------------------------------------------


@pytest.mark.parametrize("url", [KYC, REVIEWS, FREEZES, APPEALS, AUDIT, USAGE])
def test_changelists_render(admin_client, sender, url):
    assert admin_client.get(url).status_code == 200


def test_change_pages_render(admin_client, sender, staff):
    profile = services.kyc_submit_document(sender, file=image_upload())
    review = review_for(sender)
    freeze = services.freeze_account(staff, user=sender, reason="Check")
    services.freeze_appeal(sender, text="Please")
    for url in [
        f"{KYC}{profile.pk}/change/",
        f"{REVIEWS}{review.pk}/change/",
        f"{FREEZES}{freeze.pk}/change/",
        f"{APPEALS}{FreezeAppeal.objects.get().pk}/change/",
        f"{AUDIT}{AuditEntry.objects.first().pk}/change/",
        f"{FREEZES}add/",
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
    kyc_page = admin_client.get(f"{KYC}{profile.pk}/change/").content.decode()
    assert "Approve document" in kyc_page and "Reject document" in kyc_page
    assert f"/compliance/documents/{profile.pk}/" in kyc_page
    assert "•••• 1234" in kyc_page
    review_page = admin_client.get(f"{REVIEWS}{review.pk}/change/").content.decode()
    assert "/approve/" in review_page and "/reject/" in review_page
    assert "Lift freeze" in admin_client.get(f"{FREEZES}{freeze.pk}/change/").content.decode()


# --- KYC ------------------------------------------------------------------------------------


def test_kyc_list_filters_and_search(admin_client, sender, big_sender, newcomer):
    services.kyc_submit_document(sender, file=image_upload())
    response = admin_client.get(KYC, {"document_status__exact": "pending"})
    assert [p.user.handle for p in response.context["cl"].result_list] == ["sender"]
    response = admin_client.get(KYC, {"tier__exact": "2"})
    assert [p.user.handle for p in response.context["cl"].result_list] == ["bigsender"]
    response = admin_client.get(KYC, {"q": "Sam Sender"})
    assert [p.user.handle for p in response.context["cl"].result_list] == ["sender"]
    response = admin_client.get(KYC, {"q": "bigsender@example.com"})
    assert [p.user.handle for p in response.context["cl"].result_list] == ["bigsender"]


def test_approve_document_action(admin_client, admin_user, sender):
    profile = services.kyc_submit_document(sender, file=image_upload())
    response = admin_client.post(KYC, {"action": "approve_documents", "_selected_action": [profile.pk]}, follow=True)
    assert response.status_code == 200
    profile.refresh_from_db()
    assert profile.tier == Tier.DOCUMENT and profile.document_reviewed_by == admin_user
    assert AuditEntry.objects.filter(action="kyc.document_approve", actor=admin_user).exists()
    assert any("approved" in m for m in messages_of(response))


def test_reject_document_action_asks_for_a_reason(admin_client, admin_user, sender):
    profile = services.kyc_submit_document(sender, file=image_upload())
    response = admin_client.post(KYC, {"action": "reject_documents", "_selected_action": [profile.pk]})
    assert response.status_code == 200
    assert "Reject identity documents" in response.content.decode()
    assert KycProfile.objects.get(pk=profile.pk).document_status == DocumentStatus.PENDING

    response = admin_client.post(
        KYC, {"action": "reject_documents", "_selected_action": [profile.pk], "apply": "1", "reason": ""}
    )
    assert response.status_code == 200  # the reason is required: the page comes back
    assert KycProfile.objects.get(pk=profile.pk).document_status == DocumentStatus.PENDING

    admin_client.post(
        KYC,
        {"action": "reject_documents", "_selected_action": [profile.pk], "apply": "1", "reason": "Expired passport"},
    )
    profile.refresh_from_db()
    assert profile.document_status == DocumentStatus.REJECTED and profile.review_note == "Expired passport"
    assert AuditEntry.objects.filter(action="kyc.document_reject", reason="Expired passport").exists()


def test_document_buttons_on_the_change_page(admin_client, sender):
    profile = services.kyc_submit_document(sender, file=image_upload())
    url = f"{KYC}{profile.pk}/reject-document/"
    assert admin_client.get(url).status_code == 200
    admin_client.post(url, {"reason": ""})
    assert KycProfile.objects.get(pk=profile.pk).document_status == DocumentStatus.PENDING
    admin_client.post(url, {"reason": "Glare hides the photo"})
    assert KycProfile.objects.get(pk=profile.pk).document_status == DocumentStatus.REJECTED

    services.kyc_submit_document(sender, file=image_upload())
    response = admin_client.post(f"{KYC}{profile.pk}/approve-document/", {"reason": ""}, follow=True)
    assert response.status_code == 200
    assert KycProfile.objects.get(pk=profile.pk).tier == Tier.DOCUMENT


def test_limit_override_from_the_change_page(admin_client, admin_user, sender):
    profile = KycProfile.objects.get(user=sender)
    url = f"{KYC}{profile.pk}/change/"
    response = admin_client.post(url, {"new_limit_usd": "25,000.00", "override_reason": ""})
    assert response.status_code == 200  # reason required
    assert KycProfile.objects.get(pk=profile.pk).weekly_limit_override is None
    response = admin_client.post(url, {"new_limit_usd": "25,000.00", "override_reason": "Business account"})
    assert response.status_code == 302
    assert KycProfile.objects.get(pk=profile.pk).weekly_limit_override == 25_000_00
    assert AuditEntry.objects.filter(action="kyc.limit_override", actor=admin_user).exists()
    admin_client.post(url, {"clear_override": "on", "override_reason": "Closed business"})
    assert KycProfile.objects.get(pk=profile.pk).weekly_limit_override is None
    # A plain save changes nothing and records nothing.
    before = AuditEntry.objects.count()
    assert admin_client.post(url, {}).status_code == 302
    assert AuditEntry.objects.count() == before


def test_kyc_profiles_cannot_be_added_or_deleted(admin_client, sender):
    profile = KycProfile.objects.get(user=sender)
    assert admin_client.get(f"{KYC}add/").status_code == 403
    assert admin_client.get(f"{KYC}{profile.pk}/delete/").status_code == 403


# --- review queue -------------------------------------------------------------------------


def test_queue_shows_open_reviews_by_default(admin_client, sender, staff):
    open_one = review_for(sender, subject="test:open")
    decided = review_for(sender, subject="test:done")
    services.review_reject(staff, review=decided, note="no")
    response = admin_client.get(REVIEWS)
    assert list(response.context["cl"].result_list) == [open_one]
    body = response.content.decode()
    assert "$5,000.00" in body and "Large payment" in body
    response = admin_client.get(REVIEWS, {"state": "all"})
    assert set(response.context["cl"].result_list) == {open_one, decided}
    response = admin_client.get(REVIEWS, {"state": "rejected"})
    assert list(response.context["cl"].result_list) == [decided]


def test_queue_list_has_no_n_plus_1(admin_client, sender, big_sender, staff, django_assert_max_num_queries):
    for n in range(10):
        review = review_for(big_sender if n % 2 else sender, cents=20_000_00, subject=f"test:{n}")
        services.review_approve(staff, review=review)  # first approvals: shows first_approver
    with django_assert_max_num_queries(15):
        response = admin_client.get(REVIEWS)
    assert len(response.context["cl"].result_list) == 10


def test_approve_action_releases(admin_client, admin_user, sender, decisions):
    review = review_for(sender)
    response = admin_client.post(REVIEWS, {"action": "approve_reviews", "_selected_action": [review.pk]}, follow=True)
    assert RiskReview.objects.get(pk=review.pk).status == ReviewStatus.APPROVED
    assert decisions == [("test:1", True, admin_user)]
    assert any("approved: the payment is released" in m for m in messages_of(response))


def test_maker_checker_in_the_admin(sender, staff, checker, decisions):
    review = review_for(sender, cents=12_000_00)
    maker, second = logged_in(staff), logged_in(checker)
    response = maker.post(REVIEWS, {"action": "approve_reviews", "_selected_action": [review.pk]}, follow=True)
    assert RiskReview.objects.get(pk=review.pk).status == ReviewStatus.AWAITING_SECOND
    assert any("First approval recorded" in m and "second staff member" in m for m in messages_of(response))
    assert decisions == []

    # The same person again (through the change-page button): refused, clearly.
    response = maker.post(f"{REVIEWS}{review.pk}/approve/", follow=True)
    assert any("different staff member must make the second" in m for m in messages_of(response))
    assert RiskReview.objects.get(pk=review.pk).status == ReviewStatus.AWAITING_SECOND

    assert second.get(f"{REVIEWS}{review.pk}/approve/").status_code == 200  # the confirm page
    second.post(f"{REVIEWS}{review.pk}/approve/")
    review.refresh_from_db()
    assert review.status == ReviewStatus.APPROVED and review.first_approver == staff and review.decided_by == checker
    assert decisions == [("test:1", True, checker)]
    assert list(AuditEntry.objects.filter(target_type="compliance.riskreview").values_list("action", flat=True)) == [
        "review.approve",
        "review.first_approval",
        "review.open",
    ]


def test_reject_action_needs_a_reason(admin_client, sender, decisions):
    review = review_for(sender)
    response = admin_client.post(REVIEWS, {"action": "reject_reviews", "_selected_action": [review.pk]})
    assert "Reject held payments" in response.content.decode()
    admin_client.post(
        REVIEWS, {"action": "reject_reviews", "_selected_action": [review.pk], "apply": "1", "reason": ""}
    )
    assert RiskReview.objects.get(pk=review.pk).status == ReviewStatus.PENDING
    admin_client.post(
        REVIEWS, {"action": "reject_reviews", "_selected_action": [review.pk], "apply": "1", "reason": "Scam pattern"}
    )
    review.refresh_from_db()
    assert review.status == ReviewStatus.REJECTED and review.note == "Scam pattern"
    assert len(decisions) == 1


def test_reject_button(admin_client, sender, decisions):
    review = review_for(sender)
    assert admin_client.get(f"{REVIEWS}{review.pk}/reject/").status_code == 200
    admin_client.post(f"{REVIEWS}{review.pk}/reject/", {"reason": "Mule account"})
    assert RiskReview.objects.get(pk=review.pk).status == ReviewStatus.REJECTED


def test_reviews_are_read_only(admin_client, sender):
    review = review_for(sender)
    assert admin_client.get(f"{REVIEWS}add/").status_code == 403
    assert admin_client.get(f"{REVIEWS}{review.pk}/delete/").status_code == 403
    admin_client.post(f"{REVIEWS}{review.pk}/change/", {"status": "approved"})
    assert RiskReview.objects.get(pk=review.pk).status == ReviewStatus.PENDING


def test_staff_without_permission_cannot_decide(db, sender, decisions):
    from .factories import staff_user

    viewer = staff_user("viewer", superuser=False)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_riskreview"))
    review = review_for(sender)
    client = logged_in(viewer)
    assert client.get(REVIEWS).status_code == 200
    assert client.post(f"{REVIEWS}{review.pk}/approve/").status_code == 403
    client.post(REVIEWS, {"action": "approve_reviews", "_selected_action": [review.pk]})
    assert RiskReview.objects.get(pk=review.pk).status == ReviewStatus.PENDING
    assert decisions == []


# --- freezes and appeals ------------------------------------------------------------------


def test_freeze_through_the_add_form(admin_client, admin_user, sender):
    response = admin_client.post(f"{FREEZES}add/", {"user": "@nobody", "reason": "x"})
    assert response.status_code == 200 and "There is no one called @nobody" in response.content.decode()
    response = admin_client.post(f"{FREEZES}add/", {"user": "@sender", "reason": "Card testing pattern"})
    assert response.status_code == 302
    freeze = AccountFreeze.objects.get(user=sender)
    assert freeze.created_by == admin_user and freeze.reason == "Card testing pattern"
    assert AuditEntry.objects.filter(action="freeze.create", actor=admin_user).exists()
    response = admin_client.post(f"{FREEZES}add/", {"user": "sender", "reason": "Again"})
    assert response.status_code == 200 and "already frozen" in response.content.decode()


def test_lift_action_with_reason(admin_client, admin_user, sender, staff):
    freeze = services.freeze_account(staff, user=sender, reason="Check")
    response = admin_client.post(FREEZES, {"action": "lift_freezes", "_selected_action": [freeze.pk]})
    assert "Lift freezes" in response.content.decode()
    admin_client.post(
        FREEZES,
        {"action": "lift_freezes", "_selected_action": [freeze.pk], "apply": "1", "reason": "Verified by phone"},
    )
    freeze.refresh_from_db()
    assert freeze.lifted_by == admin_user and freeze.lift_reason == "Verified by phone"
    assert AuditEntry.objects.filter(action="freeze.lift", actor=admin_user).exists()


def test_lift_button(admin_client, sender, staff):
    freeze = services.freeze_account(staff, user=sender, reason="Check")
    assert admin_client.get(f"{FREEZES}{freeze.pk}/lift/").status_code == 200
    admin_client.post(f"{FREEZES}{freeze.pk}/lift/", {"reason": ""})
    assert AccountFreeze.objects.get(pk=freeze.pk).is_active
    admin_client.post(f"{FREEZES}{freeze.pk}/lift/", {"reason": "All good"})
    assert not AccountFreeze.objects.get(pk=freeze.pk).is_active


def test_appeals_list_and_resolve(admin_client, sender, staff):
    services.freeze_account(staff, user=sender, reason="Check")
    appeal = services.freeze_appeal(sender, text="It was my brother's birthday gift")
    response = admin_client.get(APPEALS, {"resolved__exact": "0"})
    assert list(response.context["cl"].result_list) == [appeal]
    assert admin_client.get(APPEALS, {"q": "birthday"}).context["cl"].result_list[0] == appeal
    admin_client.post(APPEALS, {"action": "resolve_appeals", "_selected_action": [appeal.pk]})
    appeal.refresh_from_db()
    assert appeal.resolved
    assert AuditEntry.objects.filter(action="freeze_appeal.resolve").exists()


# --- audit trail ----------------------------------------------------------------------------


def test_audit_trail_is_read_only_and_searchable(admin_client, staff, sender):
    services.freeze_account(staff, user=sender, reason="Check the card")
    entry = AuditEntry.objects.get(action="freeze.create")
    assert admin_client.get(f"{AUDIT}add/").status_code == 403
    assert admin_client.get(f"{AUDIT}{entry.pk}/delete/").status_code == 403
    admin_client.post(f"{AUDIT}{entry.pk}/change/", {"reason": "edited"})
    entry.refresh_from_db()
    assert entry.reason == "Check the card"
    assert list(admin_client.get(AUDIT, {"q": "maker"}).context["cl"].result_list) == [entry]
    assert list(admin_client.get(AUDIT, {"q": "freeze.create"}).context["cl"].result_list) == [entry]

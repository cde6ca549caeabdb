"""Risk reviews: open, approve (maker-checker above 10,000), reject, expire; the signal fires once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance import services
from compliance.models import AuditEntry, ReviewReason, ReviewStatus, RiskReview
from compliance.signals import review_decided
from compliance.tasks import expire_overdue_reviews
from core.errors import Conflict, NotPermitted, ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def decisions():
    """Every review_decided signal sent during the test: (subject, approved, actor)."""
    seen = []

    def receiver(sender, *, review, approved, actor, **kwargs):
        seen.append((review.subject, approved, actor))

    review_decided.connect(receiver, dispatch_uid="compliance-tests-decisions")
    yield seen
    review_decided.disconnect(dispatch_uid="compliance-tests-decisions")


def open_review(user, cents=500_000, subject="test:1", reason=ReviewReason.LARGE_AMOUNT):
    return services.review_open(user, subject=subject, usd_minor=cents, reason=reason, summary="$5,000.00 to @bob")


def test_open_sets_a_48_hour_deadline_and_is_idempotent(sender):
    before = timezone.now()
    review = open_review(sender)
    assert review.status == ReviewStatus.PENDING
    assert before + timedelta(hours=48) <= review.deadline <= timezone.now() + timedelta(hours=48)
    assert open_review(sender).pk == review.pk
    assert AuditEntry.objects.filter(action="review.open", actor=None, target_id=str(review.pk)).count() == 1


def test_open_refuses_an_unknown_reason(sender):
    with pytest.raises(ValidationFailed):
        open_review(sender, reason="vibes")


def test_approve_sends_the_signal_once_with_the_actor(sender, staff, decisions):
    review = open_review(sender)
    review = services.review_approve(staff, review=review)
    assert review.status == ReviewStatus.APPROVED and review.decided_by == staff and review.decided_at
    assert decisions == [("test:1", True, staff)]
    entry = AuditEntry.objects.get(action="review.approve")
    assert entry.actor == staff and entry.target_type == "compliance.riskreview"


def test_reject_needs_a_note_and_sends_the_signal_once(sender, staff, decisions):
    review = open_review(sender)
    with pytest.raises(ValidationFailed):
        services.review_reject(staff, review=review, note="")
    assert decisions == []
    review = services.review_reject(staff, review=review.pk, note="Recipient reported as a mule account")
    assert review.status == ReviewStatus.REJECTED and review.note == "Recipient reported as a mule account"
    assert decisions == [("test:1", False, staff)]
    assert AuditEntry.objects.filter(action="review.reject", reason="Recipient reported as a mule account").exists()


def test_deciding_twice_is_a_conflict(sender, staff, checker, decisions):
    review = open_review(sender)
    services.review_approve(staff, review=review)
    with pytest.raises(Conflict):
        services.review_approve(checker, review=review)
    with pytest.raises(Conflict):
        services.review_reject(checker, review=review, note="too late")
    assert len(decisions) == 1


def test_non_staff_cannot_decide(sender, big_sender, decisions):
    review = open_review(sender)
    with pytest.raises(NotPermitted):
        services.review_approve(big_sender, review=review)
    with pytest.raises(NotPermitted):
        services.review_reject(big_sender, review=review, note="no")
    assert RiskReview.objects.get(pk=review.pk).status == ReviewStatus.PENDING
    assert decisions == []


def test_staff_cannot_decide_their_own_payment(staff, decisions):
    review = open_review(staff)
    with pytest.raises(NotPermitted):
        services.review_approve(staff, review=review)
    assert decisions == []


def test_over_10000_needs_two_different_staff(big_sender, staff, checker, decisions):
    review = open_review(big_sender, cents=10_000_01)
    review = services.review_approve(staff, review=review)
    assert review.status == ReviewStatus.AWAITING_SECOND
    assert review.first_approver == staff and review.first_approved_at
    assert decisions == []  # nothing released yet
    assert AuditEntry.objects.filter(action="review.first_approval", actor=staff).exists()

    with pytest.raises(NotPermitted) as caught:
        services.review_approve(staff, review=review)
    assert "different staff member" in caught.value.message
    assert decisions == []

    review = services.review_approve(checker, review=review)
    assert review.status == ReviewStatus.APPROVED
    assert review.first_approver == staff and review.decided_by == checker
    assert decisions == [("test:1", True, checker)]


def test_exactly_10000_needs_one_approval(big_sender, staff, decisions):
    review = services.review_approve(staff, review=open_review(big_sender, cents=10_000_00))
    assert review.status == ReviewStatus.APPROVED
    assert len(decisions) == 1


def test_awaiting_second_can_be_rejected_by_anyone_on_staff(big_sender, staff, decisions):
    review = services.review_approve(staff, review=open_review(big_sender, cents=20_000_00))
    review = services.review_reject(staff, review=review, note="Changed my mind after a call")
    assert review.status == ReviewStatus.REJECTED
    assert decisions == [("test:1", False, staff)]


def test_expire_due_sends_the_signal_once_with_no_actor(sender, decisions):
    due = open_review(sender, subject="test:due")
    later = open_review(sender, subject="test:later")
    RiskReview.objects.filter(pk=due.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    assert services.reviews_expire_due() == 1
    assert services.reviews_expire_due() == 0
    due.refresh_from_db()
    later.refresh_from_db()
    assert due.status == ReviewStatus.EXPIRED and due.decided_by is None and due.decided_at
    assert later.status == ReviewStatus.PENDING
    assert decisions == [("test:due", False, None)]
    assert AuditEntry.objects.filter(action="review.expire", actor=None).count() == 1


def test_expire_task_uses_the_service(sender, decisions):
    review = open_review(sender)
    assert expire_overdue_reviews.delay().get() == 0
    assert services.reviews_expire_due(now=review.deadline + timedelta(seconds=1)) == 1
    assert decisions == [("test:1", False, None)]


def test_approving_after_the_deadline_is_refused(sender, staff, decisions):
    review = open_review(sender)
    RiskReview.objects.filter(pk=review.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    with pytest.raises(Conflict) as caught:
        services.review_approve(staff, review=review)
    assert "deadline" in caught.value.message
    assert decisions == []


def test_the_database_refuses_one_person_approving_twice(big_sender, staff):
    from django.db import IntegrityError, transaction

    review = services.review_approve(staff, review=open_review(big_sender, cents=20_000_00))
    with pytest.raises(IntegrityError), transaction.atomic():
        RiskReview.objects.filter(pk=review.pk).update(
            status=ReviewStatus.APPROVED, decided_by=staff, decided_at=timezone.now()
        )


def test_a_failing_receiver_rolls_the_decision_back(sender, staff):
    def explode(**kwargs):
        raise RuntimeError("release failed")

    review = open_review(sender)
    review_decided.connect(explode, dispatch_uid="compliance-tests-explode")
    try:
        with pytest.raises(RuntimeError):
            services.review_approve(staff, review=review)
    finally:
        review_decided.disconnect(dispatch_uid="compliance-tests-explode")
    review.refresh_from_db()
    assert review.status == ReviewStatus.PENDING
    assert not AuditEntry.objects.filter(action="review.approve").exists()

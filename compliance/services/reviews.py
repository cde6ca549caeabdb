"""Risk reviews: open, approve (maker-checker), reject, expire; ``review_decided`` in the same transaction."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.db import retry_on_conflict
from core.errors import Conflict, NotFound, NotPermitted, ValidationFailed

from ..models import OPEN_REVIEW_STATUSES, ReviewReason, ReviewStatus, RiskReview
from ..signals import review_decided
from .common import (
    REVIEW_WINDOW,
    SECOND_APPROVAL_OVER_USD_MINOR,
    _instance,
    _require_staff,
    _text,
    audit_record,
    review_parties,
)

logger = logging.getLogger(__name__)

# --- Risk reviews -------------------------------------------------------------------------


def review_open(user, *, subject: str, usd_minor: int, reason: str, summary: str = "") -> RiskReview:
    """Hold ``subject`` (e.g. "payment:42") for staff review; the deadline is 48 hours from now.

    Runs in the caller's transaction (the payment's). Idempotent per subject: a
    second call returns the review already open. The opening is audited with no actor.
    """
    if reason not in ReviewReason.values:
        raise ValidationFailed(f"Unknown review reason {reason!r}.")
    subject = str(subject or "").strip()
    if not subject or len(subject) > 64:
        raise ValidationFailed("A review subject is 1–64 characters.")
    if isinstance(usd_minor, bool) or not isinstance(usd_minor, int) or usd_minor < 0:
        raise ValidationFailed("The amount under review must be whole US cents.")
    with transaction.atomic():
        existing = RiskReview.objects.filter(subject=subject).first()
        if existing is not None:
            if existing.user_id != user.pk:
                raise Conflict("That subject is already under review for someone else.")
            return existing
        now = timezone.now()
        review = RiskReview.objects.create(
            user=user,
            subject=subject,
            reason=reason,
            usd_minor=usd_minor,
            summary=str(summary or "")[:300],
            created_at=now,
            deadline=now + REVIEW_WINDOW,
        )
        audit_record(actor=None, action="review.open", target=review, data={"reason": reason, "usd_minor": usd_minor})
    return review


def _lock_review(review: RiskReview | int) -> RiskReview:
    pk = _instance(RiskReview, review, what="review")
    locked = RiskReview.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        raise NotFound("That review does not exist.")
    return locked


def _check_decidable(review: RiskReview, staff) -> None:
    if review.status not in OPEN_REVIEW_STATUSES:
        raise Conflict(
            f"This review was already decided: it is {review.get_status_display().lower()}.", code="already_decided"
        )
    if review.user_id == staff.pk:
        raise NotPermitted("You cannot decide a review of your own payment.", code="own_record")
    if staff.pk in review_parties(review.subject):  # e.g. the recipient of the held payment
        raise NotPermitted("You cannot decide a review of a payment you take part in.", code="own_record")


def needs_second_approval(review: RiskReview) -> bool:
    return review.usd_minor > SECOND_APPROVAL_OVER_USD_MINOR


@retry_on_conflict
def review_approve(staff, *, review: RiskReview | int) -> RiskReview:
    """Staff approve a held payment: the owning app releases it in the same transaction.

    Maker-checker: above ``SECOND_APPROVAL_OVER_USD_MINOR`` (10,000.00) the first
    approval only records ``first_approver`` (status ``awaiting_second``); a
    *different* staff member must approve again (the same one gets NotPermitted).
    The final approval sets ``approved`` and sends ``review_decided`` (approved=True)
    inside this transaction, with the review row locked, so the release commits
    with the decision — or neither does. Staff only; never on their own payment;
    after the deadline, or on a decided review, Conflict. Each step is audited.
    """
    _require_staff(staff, "approve reviews")
    with transaction.atomic():
        review = _lock_review(review)
        _check_decidable(review, staff)
        now = timezone.now()
        if review.deadline <= now:
            raise Conflict(
                "The 48-hour deadline of this review has passed: it expires and the money goes back to the sender.",
                code="review_deadline_passed",
            )
        if review.status == ReviewStatus.PENDING and needs_second_approval(review):
            review.status = ReviewStatus.AWAITING_SECOND
            review.first_approver = staff
            review.first_approved_at = now
            review.save(update_fields=["status", "first_approver", "first_approved_at"])
            audit_record(actor=staff, action="review.first_approval", target=review, data={"subject": review.subject})
            return review
        if review.status == ReviewStatus.AWAITING_SECOND and review.first_approver_id == staff.pk:
            raise NotPermitted(
                "You made the first approval of this review; a different staff member must make the second.",
                code="second_approver_required",
            )
        review.status = ReviewStatus.APPROVED
        review.decided_by = staff
        review.decided_at = now
        review.save(update_fields=["status", "decided_by", "decided_at"])
        audit_record(actor=staff, action="review.approve", target=review, data={"subject": review.subject})
        review_decided.send(sender=RiskReview, review=review, approved=True, actor=staff)
    return review


@retry_on_conflict
def review_reject(staff, *, review: RiskReview | int, note: str) -> RiskReview:
    """Staff reject a held payment (a note saying why is required): the owning app gives the money back.

    Sends ``review_decided`` (approved=False) inside the transaction. Staff only;
    never on their own payment; a decided review answers Conflict. Audited.
    """
    _require_staff(staff, "reject reviews")
    note = _text(note, name="note", label="The reason for rejecting")
    with transaction.atomic():
        review = _lock_review(review)
        _check_decidable(review, staff)
        review.status = ReviewStatus.REJECTED
        review.decided_by = staff
        review.decided_at = timezone.now()
        review.note = note
        review.save(update_fields=["status", "decided_by", "decided_at", "note"])
        audit_record(actor=staff, action="review.reject", target=review, reason=note, data={"subject": review.subject})
        review_decided.send(sender=RiskReview, review=review, approved=False, actor=staff)
    return review


@retry_on_conflict
def review_expire(review: RiskReview | int, *, now: datetime | None = None) -> RiskReview | None:
    """Expire one open review whose deadline passed (system; None if there is nothing to do).

    Sends ``review_decided`` (approved=False, actor=None) in the same transaction.
    """
    moment = now or timezone.now()
    with transaction.atomic():
        try:
            review = _lock_review(review)
        except NotFound:
            return None
        if review.status not in OPEN_REVIEW_STATUSES or review.deadline > moment:
            return None
        review.status = ReviewStatus.EXPIRED
        review.decided_at = moment
        review.note = review.note or "No decision within 48 hours."
        review.save(update_fields=["status", "decided_at", "note"])
        audit_record(actor=None, action="review.expire", target=review, data={"subject": review.subject})
        review_decided.send(sender=RiskReview, review=review, approved=False, actor=None)
    return review


def reviews_expire_due(now: datetime | None = None, *, limit: int = 500) -> int:
    """Expire every open review past its deadline (the Celery beat task). Returns how many.

    Each review is its own transaction: one failing is logged and retried next run.
    """
    moment = now or timezone.now()
    ids = list(
        RiskReview.objects.filter(status__in=OPEN_REVIEW_STATUSES, deadline__lte=moment)
        .order_by("deadline")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for pk in ids:
        try:
            if review_expire(pk, now=moment) is not None:
                expired += 1
        except Exception:  # one bad row must not stop the others
            logger.exception("could not expire review %s", pk)
    return expired

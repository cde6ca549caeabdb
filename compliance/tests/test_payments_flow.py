"""Compliance as payments uses it: checks, limits and reviews around a real payment_send.

(Tests may import upwards: this drives payments to prove the signal wiring end to end.)
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance import services
from compliance.models import KycProfile, LimitUsage, ReviewReason, ReviewStatus, RiskReview
from core.money import Money
from payments.models import Payment, PaymentStatus
from payments.services.send import payment_send
from payments.tests.factories import balance, fund, sender_user

pytestmark = pytest.mark.django_db


def usd(text):
    return Money.parse(text, "USD")


@pytest.fixture
def payer(db):
    user = sender_user("payer", tier=2)
    fund(user, "50000.00")
    return user


@pytest.fixture
def payee(db):
    return sender_user("payee")


def test_tier_0_cannot_send(db, payee):
    user = sender_user("fresh", tier=0)
    fund(user, "10.00")
    with pytest.raises(services.VerificationRequired):
        payment_send(user, to=payee, amount=usd("1.00"))
    assert not Payment.objects.exists()


def test_tier_1_limit_message_and_nothing_moves(db, payee):
    user = sender_user("small")
    fund(user, "2000.00")
    payment_send(user, to=payee, amount=usd("900.00"))
    with pytest.raises(services.LimitExceeded) as caught:
        payment_send(user, to=payee, amount=usd("200.00"))
    assert "have $100.00 left" in caught.value.message
    assert balance(user) == 110_000 and Payment.objects.count() == 1


def test_large_payment_is_held_then_approved(payer, payee, staff):
    payment = payment_send(payer, to=payee, amount=usd("4000.00"))
    assert payment.status == PaymentStatus.IN_REVIEW
    review = RiskReview.objects.get(subject=f"payment:{payment.pk}")
    assert review.reason == ReviewReason.LARGE_AMOUNT and review.usd_minor == 400_000
    assert balance(payee) == 0
    services.review_approve(staff, review=review)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED and balance(payee) == 400_000


def test_rejected_payment_goes_back_and_frees_the_limit(payer, payee, staff):
    payment = payment_send(payer, to=payee, amount=usd("4000.00"))
    review = RiskReview.objects.get(subject=f"payment:{payment.pk}")
    services.review_reject(staff, review=review, note="Scam pattern")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REJECTED
    assert balance(payer) == 5_000_000 and balance(payee) == 0
    assert LimitUsage.objects.get(reference=f"payment:{payment.pk}").released_at is not None
    assert services.limit_status(payer).used == 0


def test_expired_review_returns_the_money(payer, payee):
    payment = payment_send(payer, to=payee, amount=usd("3500.00"))
    assert services.reviews_expire_due(now=timezone.now() + timedelta(hours=48, seconds=1)) == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REJECTED
    assert RiskReview.objects.get(subject=f"payment:{payment.pk}").status == ReviewStatus.EXPIRED


def test_over_10000_needs_two_staff_to_release(payer, payee, staff, checker):
    services.kyc_limit_override_set(
        staff, profile=KycProfile.objects.get(user=payer), usd_minor=50_000_00, reason="Business"
    )
    payment = payment_send(payer, to=payee, amount=usd("12000.00"))
    review = RiskReview.objects.get(subject=f"payment:{payment.pk}")
    services.review_approve(staff, review=review)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.IN_REVIEW and balance(payee) == 0
    services.review_approve(checker, review=review)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED and balance(payee) == 1_200_000


def test_fourth_new_person_in_an_hour_is_held(payer):
    people = [sender_user(f"new{n}") for n in range(4)]
    sent = [payment_send(payer, to=person, amount=usd("10.00")) for person in people]
    assert [p.status for p in sent[:3]] == [PaymentStatus.COMPLETED] * 3
    assert sent[3].status == PaymentStatus.IN_REVIEW
    assert RiskReview.objects.get(subject=f"payment:{sent[3].pk}").reason == ReviewReason.NEW_RECIPIENT_BURST


def test_frozen_sender_is_refused_with_the_reason(payer, payee, staff):
    services.freeze_account(staff, user=payer, reason="Account takeover suspected")
    with pytest.raises(services.AccountFrozen) as caught:
        payment_send(payer, to=payee, amount=usd("1.00"))
    assert "Account takeover suspected" in caught.value.message

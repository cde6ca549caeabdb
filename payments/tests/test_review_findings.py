"""Regression tests for the money/state review of issue 3 (payments.services.send and friends).

Each test names the problem it pins down. The root conftest checks the ledger's
invariants after every test.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from compliance import services as compliance
from compliance.models import LimitUsage, ReviewStatus, RiskReview
from compliance.selectors import used_in_window
from compliance.tests.factories import make_verified, staff_user
from core.errors import Conflict, DomainError, NotPermitted, ValidationFailed
from core.money import InvalidAmount, Money
from ledger.models import Account, Transfer, TransferState
from ledger.selectors import ledger_verify
from ledger.services import InsufficientFunds, holds_expire_due
from payments.models import PaymentRequest, PaymentStatus, RequestStatus, SafetyDelay
from payments.services.fx import fx_quote
from payments.services.requests import request_create, request_pay
from payments.services.send import (
    payment_cancel,
    payment_quote,
    payment_release,
    payment_return,
    payment_review_decide,
    payment_send,
    payments_release_due,
    wallet_settings_update,
)
from payments.services.staff import payment_reverse_by_staff
from payments.services.tips import tip_send

from .factories import available, balance, fund, load_test_rates, sender_user

pytestmark = pytest.mark.django_db


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def later(**kwargs):
    return timezone.now() + timedelta(**kwargs)


@pytest.fixture
def whale(db):
    """Tier 2 (10,000.00 a week), with 20,000.00: a payment over 3,000.00 is held for review."""
    user = sender_user("whale", tier=2)
    fund(user, "20000.00")
    return user


@pytest.fixture
def payee(db):
    return sender_user("payee")


# --- A hold the ledger expired first must not wedge the payment ------------------------------


def test_review_expiry_after_the_ledger_expired_the_hold_rejects_and_frees_the_limit(whale, payee):
    payment = payment_send(whale, to=payee, amount=usd("4000.00"))
    assert payment.status == PaymentStatus.IN_REVIEW
    # The compliance beat was down for days; the ledger's own expiry ran first.
    assert holds_expire_due(now=later(days=4)) == 1
    assert available(whale) == 2_000_000

    assert compliance.reviews_expire_due(now=later(days=4)) == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REJECTED
    assert RiskReview.objects.get(subject=f"payment:{payment.pk}").status == ReviewStatus.EXPIRED
    assert LimitUsage.objects.get(reference=f"payment:{payment.pk}").released_at is not None
    assert used_in_window(whale.pk) == 0
    assert balance(whale) == 2_000_000 and balance(payee) == 0
    assert compliance.reviews_expire_due(now=later(days=5)) == 0  # nothing left to retry


def test_staff_reject_after_the_ledger_expired_the_hold(whale, payee):
    staff = staff_user("officer")
    payment = payment_send(whale, to=payee, amount=usd("4000.00"))
    holds_expire_due(now=later(days=4))
    compliance.review_reject(staff, review=RiskReview.objects.get(subject=f"payment:{payment.pk}"), note="Fraud")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REJECTED
    assert used_in_window(whale.pk) == 0 and balance(whale) == 2_000_000


def test_approving_a_payment_whose_hold_lapsed_is_a_clean_conflict(whale, payee):
    payment = payment_send(whale, to=payee, amount=usd("4000.00"))
    holds_expire_due(now=later(days=4))
    with pytest.raises(Conflict):
        payment_review_decide(subject=f"payment:{payment.pk}", approved=True)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.IN_REVIEW  # the review expires it on its next run
    assert balance(payee) == 0 and balance(whale) == 2_000_000


def _delayed(alice, bob):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.TEN_MINUTES)
    payment = payment_send(alice, to="@bob", amount=usd("5.00"))
    assert payment.status == PaymentStatus.ARRIVING
    return payment


def test_release_after_the_ledger_expired_the_hold_cancels_and_frees_the_limit(alice, bob):
    payment = _delayed(alice, bob)
    assert holds_expire_due(now=later(days=3)) == 1

    assert payments_release_due(now=later(days=3)) == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert used_in_window(alice.pk) == 0
    assert balance(alice) == 100_000 and available(alice) == 100_000 and balance(bob) == 100_000
    assert payment.events.last().status == PaymentStatus.CANCELLED
    # The beat task no longer finds it.
    assert payments_release_due(now=later(days=4)) == 0


def test_release_after_the_hold_timed_out_but_before_the_ledger_expired_it(alice, bob, monkeypatch):
    payment = _delayed(alice, bob)
    moment = later(days=3)
    monkeypatch.setattr(timezone, "now", lambda: moment)

    assert payment_release(payment.pk, now=moment) is not None
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert Transfer.objects.filter(pending_id=payment.hold_id).exclude(state=TransferState.POSTED).exists()
    assert available(alice) == 100_000 and balance(bob) == 100_000 and used_in_window(alice.pk) == 0


def test_cancel_after_the_ledger_expired_the_hold(alice, bob):
    payment = _delayed(alice, bob)
    holds_expire_due(now=later(days=3))
    cancelled = payment_cancel(alice, payment=payment)
    assert cancelled.status == PaymentStatus.CANCELLED
    assert available(alice) == 100_000 and used_in_window(alice.pk) == 0


def test_a_request_paid_by_a_payment_whose_hold_lapsed_is_reopened(alice, bob):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.TEN_MINUTES)
    (row,) = request_create(bob, payers=["@alice"], amount=usd("5.00"))
    payment = request_pay(alice, request=row.pk)
    assert payment.status == PaymentStatus.ARRIVING
    holds_expire_due(now=later(days=3))
    payments_release_due(now=later(days=3))
    row.refresh_from_db()
    assert row.status == RequestStatus.OPEN


# --- Bad input is a clean 4xx, never a 500 ------------------------------------------------------


@pytest.mark.parametrize("minor", [0, -500, 10**16, 2**70])
def test_send_refuses_zero_negative_and_absurd_money(alice, bob, minor):
    with pytest.raises(InvalidAmount):
        payment_send(alice, to="@bob", amount=Money(minor, "USD"))
    with pytest.raises(InvalidAmount):
        payment_quote(alice, to="@bob", amount=Money(minor, "USD"))
    assert balance(alice) == 100_000


def test_conversion_that_would_arrive_as_an_absurd_amount_is_refused(db):
    from payments.services.fx import fx_rate_set

    fx_rate_set(base="USD", quote="JPY", rate="999999999")
    with pytest.raises(InvalidAmount):
        fx_quote(send=Money(10**15, "USD"), to_currency="JPY")


def test_a_cross_rate_too_large_to_record_is_refused_cleanly(alice, db):
    from payments.services.fx import FxUnavailable, fx_rate_set

    fx_rate_set(base="KWD", quote="USD", rate="1000000000")
    fx_rate_set(base="USD", quote="JPY", rate="1000000000")  # KWD -> JPY crosses at 1e18
    with pytest.raises(FxUnavailable):
        fx_quote(send=Money(1, "KWD"), to_currency="JPY")


def test_tip_with_zero_money_is_refused(alice, bob):
    with pytest.raises(InvalidAmount):
        tip_send(alice, creator="@bob", amount=Money(0, "USD"))


def test_note_with_a_nul_character_is_refused(alice, bob):
    with pytest.raises(ValidationFailed) as caught:
        payment_send(alice, to="@bob", amount=usd("1.00"), note="hi\x00there")
    assert "note" in caught.value.fields
    with pytest.raises(ValidationFailed):
        request_create(bob, payers=["@alice"], amount=usd("1.00"), note="a\x00b")
    assert not PaymentRequest.objects.exists()


@pytest.mark.parametrize("key", ["", "   ", "k" * 201, 12345])
def test_bad_idempotency_keys_are_refused(alice, bob, key):
    with pytest.raises(ValidationFailed):
        payment_send(alice, to="@bob", amount=usd("1.00"), idempotency_key=key)
    assert balance(alice) == 100_000


def test_limit_override_out_of_range_is_refused(db):
    staff = staff_user("officer")
    user = sender_user("someone")
    with pytest.raises(ValidationFailed):
        compliance.kyc_limit_override_set(staff, profile=user.kyc.pk, usd_minor=10**20, reason="Business")


# --- Sender and recipient edge cases ---------------------------------------------------------------


def test_sender_without_a_wallet_in_that_currency_gets_a_clean_insufficient_funds(alice, bob, fx_rates):
    with pytest.raises(InsufficientFunds) as caught:
        payment_send(alice, to="@bob", amount=Money(500, "EUR"))
    assert "€0.00 available" in caught.value.message
    assert not Account.objects.filter(owner=alice, currency="EUR").exists()  # a refusal writes nothing


def test_frozen_and_tier_0_recipients_may_receive(alice, db):
    staff = staff_user("officer")
    frozen = sender_user("frozen")
    compliance.freeze_account(staff, user=frozen, reason="Checking a report")
    newbie = sender_user("newbie", tier=0)
    for person in (frozen, newbie):
        assert payment_send(alice, to=person, amount=usd("1.00")).status == PaymentStatus.COMPLETED
        assert balance(person) == 100


# --- Maker-checker: staff may not approve money going to themselves ---------------------------------


def test_staff_recipient_cannot_approve_a_held_payment_to_themselves(whale):
    insider = staff_user("insider")
    make_verified(insider, tier=1)
    payment = payment_send(whale, to=insider, amount=usd("4000.00"))
    review = RiskReview.objects.get(subject=f"payment:{payment.pk}")
    with pytest.raises(NotPermitted):
        compliance.review_approve(insider, review=review)
    review.refresh_from_db()
    payment.refresh_from_db()
    assert review.status == ReviewStatus.PENDING and payment.status == PaymentStatus.IN_REVIEW
    assert balance(insider) == 0
    compliance.review_approve(staff_user("colleague"), review=review)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED


def test_staff_recipient_cannot_make_the_first_of_two_approvals_nor_reject(db):
    rich = sender_user("rich", tier=2)
    compliance.kyc_limit_override_set(staff_user("limits"), profile=rich.kyc.pk, usd_minor=50_000_00, reason="Biz")
    fund(rich, "20000.00")
    insider = staff_user("insider")
    payment = payment_send(rich, to=insider, amount=usd("12000.00"))  # > 10,000: two approvals
    review = RiskReview.objects.get(subject=f"payment:{payment.pk}")
    with pytest.raises(NotPermitted):
        compliance.review_approve(insider, review=review)
    with pytest.raises(NotPermitted):
        compliance.review_reject(insider, review=review, note="no")
    review.refresh_from_db()
    assert review.status == ReviewStatus.PENDING and review.first_approver_id is None


# --- Lock order: FX returns/releases lock all their accounts at once, ascending ------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fx_returns_both_ways_at_once_never_deadlock(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (real row locks)")
    import core.db

    load_test_rates()
    alice = sender_user("alice", tier=2)
    eve = sender_user("eve", tier=2, currency="EUR")
    fund(alice, "5000.00")
    fund(eve, "5000.00", "EUR")
    rounds = 40
    to_eve = [payment_send(alice, to=eve, amount=usd("1.00")) for _ in range(rounds)]
    to_alice = [payment_send(eve, to=alice, amount=Money(100, "EUR")) for _ in range(rounds)]

    conflicts = []
    real = core.db.is_retryable
    monkeypatch.setattr(core.db, "is_retryable", lambda error: conflicts.append(error) or real(error))

    barrier = threading.Barrier(2)
    errors = []

    def worker(returner, payments):
        try:
            barrier.wait()
            for payment in payments:
                payment_return(returner, payment=payment.pk)
        except BaseException as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(eve, to_eve)),
        threading.Thread(target=worker, args=(alice, to_alice)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    deadlocks = [e for e in conflicts if getattr(e.__cause__, "sqlstate", None) == "40P01"]
    assert not deadlocks, f"{len(deadlocks)} deadlocks"
    assert balance(alice) == 500_000 and balance(eve, "EUR") == 500_000
    assert ledger_verify().ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("what", ["payment", "request"])
def test_locking_a_payment_or_request_does_not_lock_the_people(what):
    """The row lock of a return/cancel/release (or a request action) must not lock the users' rows:
    PostgreSQL's FOR UPDATE would otherwise cover the joined user rows too and block every insert
    referencing them (notifications, payments, ledger transfers) — a deadlock with the ledger."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (real row locks)")
    from django.db import OperationalError, transaction

    from notifications.models import Notification
    from payments.services import requests as request_services
    from payments.services import send as send_services

    alice = sender_user("alice")
    bob = sender_user("bob")
    fund(alice, "10.00")
    if what == "payment":
        row = payment_send(alice, to=bob, amount=usd("1.00"))

        def lock():
            send_services._locked(row.pk)
    else:
        (row,) = request_create(bob, payers=[alice], amount=usd("1.00"))

        def lock():
            request_services._locked(row.pk, bob)

    holding, finished = threading.Event(), threading.Event()

    def holder():
        try:
            with transaction.atomic():
                lock()
                holding.set()
                finished.wait(120)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert holding.wait(120), "the lock holder never got its lock"
        for person in (alice, bob):
            try:
                with transaction.atomic():
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL lock_timeout = '1s'")
                    Notification.objects.create(recipient=person, kind="payment.received", data={})
            except OperationalError as error:
                pytest.fail(f"inserting a row that references @{person.handle} waited on the lock: {error}")
    finally:
        finished.set()
        thread.join(120)


# --- Staff reversal and return race -------------------------------------------------------------


def test_return_then_staff_reversal_moves_money_back_once(alice, bob):
    from django.contrib.auth.models import Permission

    staff = staff_user("officer", superuser=False)
    staff.user_permissions.add(Permission.objects.get(codename="change_payment"))
    staff = type(staff).objects.get(pk=staff.pk)
    payment = payment_send(alice, to="@bob", amount=usd("5.00"))
    payment_return(bob, payment=payment)
    with pytest.raises(DomainError):
        payment_reverse_by_staff(staff, payment=payment.pk, reason="Duplicate")
    assert balance(alice) == 100_000 and balance(bob) == 100_000

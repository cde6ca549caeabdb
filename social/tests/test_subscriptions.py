"""Creator subscriptions: subscribe (first charge now), renewals once per period, past due,
lapse, cancel, month-end anchors, subscriber-only visibility, blocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import Block
from accounts.social import BlockedError, block_create
from accounts.tests.factories import UserFactory
from core.errors import IdempotencyKeyReused, NotFound, NotPermitted, ValidationFailed
from ledger.services import InsufficientFunds
from notifications.models import Notification
from payments.models import Payment, PaymentKind, PaymentStatus
from payments.services.send import payment_review_decide
from payments.tests.factories import balance, fund, sender_user
from social.models import (
    Audience,
    ChargeStatus,
    CreatorProfile,
    Subscription,
    SubscriptionCharge,
    SubscriptionStatus,
)
from social.services.subscriptions import (
    AlreadySubscribed,
    NotSubscribable,
    TierClosed,
    period_end,
    period_start,
    subscription_cancel,
    subscription_payment_status_changed,
    subscription_renew,
    subscription_resume,
    subscription_start,
    subscriptions_end_between,
    subscriptions_renew_due,
    tier_archive,
)
from social.tasks import renew_due_subscriptions
from social.visibility import post_is_unlocked, unlocked_q, visible_posts

from .factories import make_creator, make_paid_subscription, make_post, make_tier

S = SubscriptionStatus


def kinds(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("id").values_list("kind", flat=True))


def subscribe(fan, tier, key="k1"):
    return subscription_start(fan, tier=tier, idempotency_key=key)


def due(sub, **delta) -> datetime:
    """A moment just after the subscription's next renewal (plus ``delta``)."""
    sub.refresh_from_db()
    return sub.next_attempt_at + timedelta(seconds=1, **delta)


# --- Periods ----------------------------------------------------------------------------------


def test_periods_are_counted_from_the_anchor_with_the_day_clamped():
    anchor = datetime(2024, 1, 31, 12, 0, tzinfo=UTC)
    ends = [period_end(anchor, n) for n in range(4)]
    assert [e.date().isoformat() for e in ends] == ["2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31"]
    assert period_start(anchor, 0) == anchor
    assert period_start(anchor, 2) == ends[1]
    non_leap = datetime(2023, 1, 31, tzinfo=UTC)
    assert [period_end(non_leap, n).date().isoformat() for n in range(2)] == ["2023-02-28", "2023-03-31"]


def test_month_end_anchor_renews_on_the_clamped_days(alice, dave, tier):
    anchor = datetime(2023, 1, 31, 9, 30, tzinfo=UTC)
    sub = Subscription.objects.create(
        fan=alice,
        creator=dave,
        tier=tier,
        anchor=anchor,
        periods_paid=1,
        paid_until=period_end(anchor, 0),
        next_attempt_at=period_end(anchor, 0),
    )
    assert sub.paid_until == datetime(2023, 2, 28, 9, 30, tzinfo=UTC)
    assert subscriptions_renew_due(now=datetime(2023, 2, 28, 10, tzinfo=UTC)) == 1
    sub.refresh_from_db()
    assert sub.paid_until == datetime(2023, 3, 31, 9, 30, tzinfo=UTC)  # not Mar 28: from the anchor
    assert subscriptions_renew_due(now=datetime(2023, 3, 31, 10, tzinfo=UTC)) == 1
    sub.refresh_from_db()
    assert sub.paid_until == datetime(2023, 4, 30, 9, 30, tzinfo=UTC)
    assert sub.periods_paid == 3
    charges = list(sub.charges.order_by("period").values_list("period", "period_start", "period_end", "status"))
    assert charges[0][:3] == (1, datetime(2023, 2, 28, 9, 30, tzinfo=UTC), datetime(2023, 3, 31, 9, 30, tzinfo=UTC))
    assert all(c[3] == ChargeStatus.PAID for c in charges)


# --- Subscribe --------------------------------------------------------------------------------


def test_subscribe_charges_the_first_month_now(alice, dave, tier):
    before = balance(alice)
    sub = subscribe(alice, tier)
    assert sub.status == S.ACTIVE
    assert sub.periods_paid == 1
    assert sub.paid_until == period_end(sub.anchor, 0)
    assert sub.next_attempt_at == sub.paid_until
    assert balance(alice) == before - 500
    assert balance(dave) == 500
    charge = sub.charges.get()
    assert (charge.period, charge.status, charge.amount) == (0, ChargeStatus.PAID, 500)
    assert charge.payment.kind == PaymentKind.SUBSCRIPTION
    assert charge.payment.note == "Supporter subscription"
    assert kinds(dave) == ["subscription.new"]
    assert "subscribed to your Supporter tier" in Notification.objects.get(recipient=dave).title


def test_double_submit_with_the_same_key_charges_once(alice, dave, tier):
    first = subscribe(alice, tier, key="same")
    second = subscribe(alice, tier, key="same")
    assert first.pk == second.pk
    assert Payment.objects.filter(sender=alice, kind=PaymentKind.SUBSCRIPTION).count() == 1
    assert SubscriptionCharge.objects.count() == 1
    assert balance(dave) == 500


def test_a_key_used_for_something_else_is_refused(alice, dave, tier):
    other = make_tier(dave, name="Gold", price=900)
    subscribe(alice, tier, key="k")
    with pytest.raises(IdempotencyKeyReused):
        subscribe(alice, other, key="k")


def test_subscribing_again_with_a_new_key_is_a_conflict(alice, dave, tier):
    subscribe(alice, tier, key="a")
    with pytest.raises(AlreadySubscribed):
        subscribe(alice, tier, key="b")
    assert balance(dave) == 500


def test_insufficient_funds_on_the_first_charge_creates_nothing(carol, dave, tier):
    with pytest.raises(InsufficientFunds):
        subscribe(carol, tier)
    assert not Subscription.objects.exists()
    assert not SubscriptionCharge.objects.exists()
    assert not Payment.objects.exists()
    assert kinds(dave) == []


def test_cannot_subscribe_to_yourself(dave, tier):
    with pytest.raises(ValidationFailed):
        subscribe(dave, tier)


def test_blocked_cannot_subscribe_either_way(alice, bob, dave, tier):
    block_create(dave, blocked=alice)
    with pytest.raises(BlockedError):
        subscribe(alice, tier)
    block_create(bob, blocked=dave)
    with pytest.raises(BlockedError):
        subscribe(bob, tier)
    assert not Subscription.objects.exists()


def test_archived_tier_and_creator_mode_off_refuse_new_subscribers(alice, dave, tier):
    tier_archive(dave, tier=tier)
    with pytest.raises(TierClosed):
        subscribe(alice, tier)
    other = make_tier(dave, name="Other", price=300)
    CreatorProfile.objects.filter(user=dave).update(is_enabled=False)
    with pytest.raises(NotSubscribable):
        subscribe(alice, other)


def test_inactive_creator_or_unknown_tier_is_not_found(alice, dave, tier):
    with pytest.raises(NotFound):
        subscribe(alice, 999999)
    dave.is_active = False
    dave.save(update_fields=["is_active"])
    with pytest.raises(NotFound):
        subscribe(alice, tier)


def test_protected_creator_only_for_approved_followers(alice, dave, tier):
    from accounts.models import Follow

    dave.is_protected = True
    dave.save(update_fields=["is_protected"])
    with pytest.raises(NotPermitted):
        subscribe(alice, tier)
    Follow.objects.create(follower=alice, followee=dave)
    assert subscribe(alice, tier).status == S.ACTIVE


def test_archived_tier_keeps_renewing_existing_subscribers(alice, dave, tier):
    sub = subscribe(alice, tier)
    tier_archive(dave, tier=tier)
    assert subscriptions_renew_due(now=due(sub)) == 1
    sub.refresh_from_db()
    assert sub.periods_paid == 2
    assert balance(dave) == 1000


# --- Renewals ---------------------------------------------------------------------------------


def test_renewal_charges_once_per_period_even_when_run_twice(alice, dave, tier):
    sub = subscribe(alice, tier)
    moment = due(sub)
    assert subscriptions_renew_due(now=moment) == 1
    assert subscriptions_renew_due(now=moment) == 0
    assert renew_due_subscriptions.delay().get() == 0  # the Celery task, eager in tests
    assert subscription_renew(sub.pk, now=moment) == "skipped"
    sub.refresh_from_db()
    assert sub.periods_paid == 2
    assert sub.paid_until == period_end(sub.anchor, 1)
    assert sub.charges.count() == 2
    assert Payment.objects.filter(kind=PaymentKind.SUBSCRIPTION).count() == 2
    assert balance(dave) == 1000
    assert kinds(alice).count("subscription.renewed") == 1
    payment = sub.charges.get(period=1).payment
    assert payment.idempotency_key == f"subscription:{sub.pk}:1"


def test_a_replayed_renewal_key_never_charges_again(alice, dave, tier):
    """Even if the charge row were lost, the period's payment key replays the first payment."""
    sub = subscribe(alice, tier)
    moment = due(sub)
    subscription_renew(sub.pk, now=moment)
    # Simulate a crash-retry: put the subscription back to "period 1 due" without touching money.
    SubscriptionCharge.objects.filter(subscription=sub, period=1).update(status=ChargeStatus.PENDING, payment=None)
    Subscription.objects.filter(pk=sub.pk).update(periods_paid=1, next_attempt_at=moment - timedelta(seconds=2))
    assert subscription_renew(sub.pk, now=moment) == "renewed"
    assert Payment.objects.filter(kind=PaymentKind.SUBSCRIPTION).count() == 2
    assert balance(dave) == 1000


def test_not_due_is_not_charged(alice, dave, tier):
    sub = subscribe(alice, tier)
    assert subscriptions_renew_due(now=due(sub, hours=-2)) == 0
    assert sub.charges.count() == 1


def test_insufficient_funds_goes_past_due_retries_daily_then_lapses(carol, dave, tier):
    fund(carol, 500)
    sub = subscribe(carol, tier)
    start = due(sub)
    paid_until = sub.paid_until

    assert subscription_renew(sub.pk, now=start) == "failed"
    sub.refresh_from_db()
    assert sub.status == S.PAST_DUE
    assert sub.retry_until == paid_until + timedelta(days=3)
    assert sub.next_attempt_at == start + timedelta(days=1)
    assert sub.paid_until == paid_until  # no access beyond the paid period
    charge = sub.charges.get(period=1)
    assert (charge.status, charge.attempts) == (ChargeStatus.PENDING, 1)
    assert "available" in charge.last_error
    assert kinds(carol).count("subscription.payment_failed") == 1
    failed = Notification.objects.get(recipient=carol, kind="subscription.payment_failed")
    assert failed.url.startswith("/wallet/add/")

    # Retried the next two days (notified once), nothing charged.
    assert subscriptions_renew_due(now=start + timedelta(hours=12)) == 0  # not yet due again
    assert sub.charges.get(period=1).attempts == 1
    for day in (1, 2):
        assert subscription_renew(sub.pk, now=start + timedelta(days=day)) == "failed"
    sub.refresh_from_db()
    assert sub.status == S.PAST_DUE
    assert sub.charges.get(period=1).attempts == 3
    assert sub.next_attempt_at == sub.retry_until  # the last try is at the deadline
    assert kinds(carol).count("subscription.payment_failed") == 1

    # The deadline: one last try, then lapsed, fan and creator told.
    assert subscription_renew(sub.pk, now=sub.retry_until + timedelta(minutes=5)) == "lapsed"
    sub.refresh_from_db()
    assert sub.status == S.LAPSED
    assert sub.ended_at is not None and sub.next_attempt_at is None
    assert sub.charges.get(period=1).status == ChargeStatus.FAILED
    assert "subscription.lapsed" in kinds(carol)
    assert "subscription.lapsed" in kinds(dave)
    assert balance(dave) == 500
    assert subscriptions_renew_due(now=sub.retry_until + timedelta(days=5)) == 0
    # Lapsed: a new subscription is possible again.
    fund(carol, 500)
    again = subscribe(carol, tier, key="again")
    assert again.pk != sub.pk and again.status == S.ACTIVE


def test_a_later_successful_retry_restores_access(carol, dave, tier):
    fund(carol, 500)
    sub = subscribe(carol, tier)
    post = make_post(dave, text="for subscribers", audience=Audience.SUBSCRIBERS)
    start = due(sub)
    assert subscription_renew(sub.pk, now=start) == "failed"
    fund(carol, 500)
    assert subscription_renew(sub.pk, now=start + timedelta(days=1)) == "renewed"
    sub.refresh_from_db()
    assert sub.status == S.ACTIVE
    assert sub.retry_until is None
    assert sub.periods_paid == 2
    assert sub.paid_until == period_end(sub.anchor, 1)  # the anchor does not move
    assert sub.next_attempt_at == sub.paid_until
    assert balance(dave) == 1000
    assert "subscription.renewed" in kinds(carol)
    # Access: paid until the second period's end (in the future for real time too).
    assert post_is_unlocked(carol, post)


def test_frozen_fan_goes_past_due(alice, dave, tier):
    from compliance.services.freezes import freeze_account

    sub = subscribe(alice, tier)
    staff = UserFactory(is_staff=True)
    freeze_account(staff, user=alice, reason="Checking something")
    assert subscription_renew(sub.pk, now=due(sub)) == "failed"
    sub.refresh_from_db()
    assert sub.status == S.PAST_DUE


def test_creator_mode_off_or_deactivated_ends_without_charge(alice, bob, dave, tier):
    a = subscribe(alice, tier, key="a")
    b = subscribe(bob, tier, key="b")
    CreatorProfile.objects.filter(user=dave).update(is_enabled=False)
    assert subscriptions_renew_due(now=due(a)) == 0
    for sub in (a, b):
        sub.refresh_from_db()
        assert sub.status == S.ENDED
    assert balance(dave) == 1000
    assert "subscription.ended" in kinds(alice)


def test_block_at_renewal_time_ends_without_charge(alice, dave, tier):
    sub = subscribe(alice, tier)
    Block.objects.create(blocker=dave, blocked=alice)  # a bare row: the signal wiring is the lead's
    assert subscription_renew(sub.pk, now=due(sub)) == "ended"
    assert balance(dave) == 500


def test_end_between_ends_both_directions_and_cuts_access(alice, dave, tier):
    sub = subscribe(alice, tier)
    make_creator(alice)
    fund(dave, 100)
    reverse = subscribe(dave, make_tier(alice, name="Alice's", price=100), key="rev")
    post = make_post(dave, text="secret", audience=Audience.SUBSCRIBERS)
    assert post_is_unlocked(alice, post)
    assert subscriptions_end_between(dave, alice) == 2
    assert subscriptions_end_between(dave, alice) == 0
    sub.refresh_from_db()
    reverse.refresh_from_db()
    assert sub.status == reverse.status == S.ENDED
    assert sub.paid_until <= timezone.now()
    assert not post_is_unlocked(alice, post)
    assert subscriptions_renew_due(now=timezone.now() + timedelta(days=40)) == 0


# --- Cancel -----------------------------------------------------------------------------------


def test_cancel_keeps_access_to_the_end_then_ends_without_charge(alice, dave, tier):
    sub = subscribe(alice, tier)
    post = make_post(dave, text="members only", audience=Audience.SUBSCRIBERS)
    cancelled = subscription_cancel(alice, subscription=sub)
    assert cancelled.status == S.CANCELLED and cancelled.cancelled_at is not None
    assert subscription_cancel(alice, subscription=sub.pk).status == S.CANCELLED  # idempotent
    assert post_is_unlocked(alice, post)  # still paid
    sub.refresh_from_db()
    assert subscriptions_renew_due(now=sub.paid_until - timedelta(minutes=1)) == 0
    sub.refresh_from_db()
    assert sub.status == S.CANCELLED
    moment = sub.paid_until + timedelta(minutes=1)
    assert subscriptions_renew_due(now=moment) == 0
    sub.refresh_from_db()
    assert sub.status == S.ENDED
    assert sub.charges.count() == 1
    assert balance(dave) == 500


def test_cancel_someone_elses_subscription_is_not_found(alice, bob, dave, tier):
    sub = subscribe(alice, tier)
    with pytest.raises(NotFound):
        subscription_cancel(bob, subscription=sub)
    with pytest.raises(NotFound):
        subscription_cancel(bob, subscription="nope")


def test_subscribing_again_after_cancel_resumes_without_charge(alice, dave, tier):
    sub = subscribe(alice, tier)
    subscription_cancel(alice, subscription=sub)
    again = subscribe(alice, tier, key="k2")
    assert again.pk == sub.pk
    assert again.status == S.ACTIVE and again.cancelled_at is None
    assert again.next_attempt_at == again.paid_until
    assert balance(dave) == 500
    subscription_cancel(alice, subscription=sub)
    assert subscription_resume(alice, subscription=sub).status == S.ACTIVE


def test_cancel_while_past_due_ends_now(carol, dave, tier):
    fund(carol, 500)
    sub = subscribe(carol, tier)
    subscription_renew(sub.pk, now=due(sub))
    # As in real time: a past-due subscription's paid period is over.
    Subscription.objects.filter(pk=sub.pk).update(paid_until=timezone.now() - timedelta(hours=1))
    ended = subscription_cancel(carol, subscription=sub)
    assert ended.status == S.ENDED
    assert sub.charges.get(period=1).status == ChargeStatus.FAILED


# --- Held for review ----------------------------------------------------------------------------


@pytest.fixture
def big(dave):
    """A tier above the review threshold (made directly: tier_create caps prices)."""
    return make_tier(dave, name="Patron", price=3_500_00)


@pytest.fixture
def rich(db):
    user = sender_user("rich", tier=2)
    fund(user, "9000.00")
    return user


def test_first_charge_in_review_grants_access_only_once_approved(rich, dave, big):
    sub = subscribe(rich, big)
    assert sub.periods_paid == 0
    assert sub.paid_until == sub.anchor
    assert sub.next_attempt_at is None
    charge = sub.charges.get()
    assert charge.payment.status == PaymentStatus.IN_REVIEW
    assert kinds(dave) == []
    post = make_post(dave, text="x", audience=Audience.SUBSCRIBERS)
    assert not post_is_unlocked(rich, post)
    assert subscriptions_renew_due(now=timezone.now() + timedelta(days=1)) == 0
    with transaction.atomic():
        payment_review_decide(subject=f"payment:{charge.payment_id}", approved=True, actor=UserFactory(is_staff=True))
    sub.refresh_from_db()
    assert (sub.status, sub.periods_paid) == (S.ACTIVE, 1)
    assert sub.paid_until == period_end(sub.anchor, 0)
    assert sub.next_attempt_at == sub.paid_until
    assert post_is_unlocked(rich, post)
    # (payments' _release also sends "payment.received" for a released subscription charge.)
    assert kinds(dave).count("subscription.new") == 1


def test_first_charge_rejected_lapses(rich, dave, big):
    sub = subscribe(rich, big)
    charge = sub.charges.get()
    with transaction.atomic():
        payment_review_decide(subject=f"payment:{charge.payment_id}", approved=False, actor=UserFactory(is_staff=True))
    sub.refresh_from_db()
    charge.refresh_from_db()
    assert sub.status == S.LAPSED
    assert charge.status == ChargeStatus.FAILED
    assert "subscription.lapsed" in kinds(rich)
    assert "subscription.lapsed" not in kinds(dave)
    assert balance(rich) == 9000_00


def test_status_change_of_an_unrelated_payment_is_ignored(alice):
    payment = Payment(pk=987654, kind=PaymentKind.SUBSCRIPTION)
    subscription_payment_status_changed(payment, PaymentStatus.COMPLETED)  # no charge: nothing happens


# --- Visibility -----------------------------------------------------------------------------------


def test_subscriber_only_posts_follow_the_subscription(alice, bob, carol, dave, tier):
    post = make_post(dave, text="members", audience=Audience.SUBSCRIBERS, teaser="A teaser")
    subscribe(alice, tier)
    assert post_is_unlocked(alice, post)
    assert post_is_unlocked(dave, post)  # the creator sees their own
    assert not post_is_unlocked(bob, post)
    # lapsed: paid period over
    lapsed = make_paid_subscription(carol, tier, days=-1)
    Subscription.objects.filter(pk=lapsed.pk).update(status=S.LAPSED)
    assert not post_is_unlocked(carol, post)
    unlocked = set(visible_posts(alice).filter(unlocked_q(alice)).values_list("pk", flat=True))
    assert post.pk in unlocked
    assert post.pk not in set(visible_posts(bob).filter(unlocked_q(bob)).values_list("pk", flat=True))
    assert post.pk in set(visible_posts(bob).values_list("pk", flat=True))  # visible as a teaser

"""Real concurrency on PostgreSQL: renewals never charge a period twice, subscribe charges once.

SQLite has no row locks (a writer locks the whole file), so these tests need PostgreSQL;
CI always runs them there (DATABASE_URL set by .ci/run).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.testing import run_threads, skip_unless_postgres
from payments.models import Payment, PaymentKind
from payments.tests.factories import balance, fund, sender_user
from social.models import SubscriptionCharge, SubscriptionStatus
from social.services.subscriptions import (
    AlreadySubscribed,
    period_end,
    subscription_renew,
    subscription_start,
    subscriptions_renew_due,
)

from .factories import make_creator, make_tier

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres():
    skip_unless_postgres()


def _setup(fans: int = 6):
    creators = [sender_user(f"maker{i}") for i in range(2)]
    tiers = []
    for creator in creators:
        make_creator(creator)
        tiers.append(make_tier(creator, name="Fan club", price=700))
    subs, fan_users = [], []
    for i in range(fans):
        fan = sender_user(f"fan{i}")
        fan_users.append(fan)
        fund(fan, "100.00")
        for n, tier in enumerate(tiers):
            subs.append(subscription_start(fan, tier=tier, idempotency_key=f"start-{i}-{n}"))
    return creators, subs, fan_users


def test_two_workers_renewing_at_once_charge_each_period_once():
    creators, subs, fans = _setup()
    moment = max(s.next_attempt_at for s in subs) + timedelta(minutes=1)

    results, errors = run_threads(4, lambda index: subscriptions_renew_due(now=moment))
    assert not errors, errors
    assert sum(results) == len(subs)  # every subscription renewed by exactly one worker
    for sub in subs:
        sub.refresh_from_db()
        assert sub.status == SubscriptionStatus.ACTIVE
        assert sub.periods_paid == 2
        assert sub.paid_until == period_end(sub.anchor, 1)
        assert list(sub.charges.order_by("period").values_list("period", flat=True)) == [0, 1]
    assert Payment.objects.filter(kind=PaymentKind.SUBSCRIPTION).count() == 2 * len(subs)
    for creator in creators:
        assert balance(creator) == 6 * 2 * 700
    for fan in fans:
        assert balance(fan) == 100_00 - 4 * 700

    # Again, at once, for the next period: still exactly one charge each.
    later = max(s.paid_until for s in subs) + timedelta(minutes=1)
    results, errors = run_threads(3, lambda index: subscriptions_renew_due(now=later))
    assert not errors, errors
    assert sum(results) == len(subs)
    assert SubscriptionCharge.objects.count() == 3 * len(subs)


def test_racing_renewals_of_one_subscription_charge_once():
    creators, subs, _ = _setup(fans=1)
    sub = subs[0]
    moment = sub.next_attempt_at + timedelta(minutes=1)

    results, errors = run_threads(6, lambda index: subscription_renew(sub.pk, now=moment))
    assert not errors, errors
    assert results.count("renewed") == 1
    assert set(results) <= {"renewed", "skipped"}
    assert sub.charges.count() == 2
    assert balance(creators[0]) == 2 * 700


def test_double_subscribe_at_once_charges_once():
    creator = sender_user("solo")
    make_creator(creator)
    tier = make_tier(creator, name="Solo", price=900)
    fan = sender_user("eager")
    fund(fan, "50.00")

    def same_key(index):
        return subscription_start(fan, tier=tier, idempotency_key="double-click").pk

    results, errors = run_threads(4, same_key)
    assert not errors, errors
    assert len(set(results)) == 1
    assert Payment.objects.filter(sender=fan).count() == 1
    assert balance(creator) == 900

    other_fan = sender_user("eager2")
    fund(other_fan, "50.00")

    def new_keys(index):
        try:
            return subscription_start(other_fan, tier=tier, idempotency_key=f"key-{index}").pk
        except AlreadySubscribed:
            return "conflict"

    results, errors = run_threads(4, new_keys)
    assert not errors, errors
    assert results.count("conflict") == 3
    assert Payment.objects.filter(sender=other_fan).count() == 1
    assert balance(creator) == 1800

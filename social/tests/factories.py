"""Helpers for social tests: posts written straight to the database (services are tested on their own)."""

from __future__ import annotations

from django.utils import timezone

from accounts.tests.factories import UserFactory
from social.models import Audience, CreatorProfile, Post, Subscription, SubscriptionStatus, Tier


def make_post(author=None, text: str = "Hello, world", **kwargs) -> Post:
    """A live post by ``author`` (a new user when omitted). No counters, mentions or tags are touched."""
    return Post.objects.create(author=author or UserFactory(), text=text, **kwargs)


def make_creator(user=None, **kwargs) -> CreatorProfile:
    """Turn creator mode on for ``user`` (a new user when omitted)."""
    return CreatorProfile.objects.create(user=user or UserFactory(), **kwargs)


def make_tier(creator, name: str = "Supporter", price: int = 500, currency: str = "USD", **kwargs) -> Tier:
    return Tier.objects.create(creator=creator, name=name, price=price, currency=currency, **kwargs)


def make_paid_subscription(fan, tier: Tier, *, days: int = 30) -> Subscription:
    """A subscription paid until ``days`` from now, with no charge rows (for visibility tests)."""
    now = timezone.now()
    return Subscription.objects.create(
        fan=fan,
        creator=tier.creator,
        tier=tier,
        status=SubscriptionStatus.ACTIVE,
        anchor=now,
        periods_paid=1,
        paid_until=now + timezone.timedelta(days=days),
        next_attempt_at=now + timezone.timedelta(days=days),
    )


__all__ = ["Audience", "make_creator", "make_paid_subscription", "make_post", "make_tier"]

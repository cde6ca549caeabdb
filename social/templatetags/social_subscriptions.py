"""``{% load social_subscriptions %}``: what the profile's tiers box needs, in at most two queries."""

from __future__ import annotations

from django import template
from django.utils import timezone

from social.models import LIVE_SUBSCRIPTION_STATUSES, Subscription, Tier

register = template.Library()


@register.simple_tag
def profile_tiers(person, viewer) -> dict:
    """``{"tiers", "subscription", "has_access", "is_self"}`` for ``person``'s profile seen by ``viewer``.

    One query for the open tiers (creator mode checked in the same query) and, for a signed-in
    viewer who is not ``person``, one for the viewer's live subscription to them.
    """
    if person is None or not getattr(person, "pk", None):
        return {"tiers": [], "subscription": None, "has_access": False, "is_self": False}
    tiers = list(
        Tier.objects.filter(creator_id=person.pk, is_active=True, creator__creator__is_enabled=True).order_by(
            "position", "price", "id"
        )
    )
    is_self = bool(getattr(viewer, "is_authenticated", False) and viewer.pk == person.pk)
    subscription = None
    if getattr(viewer, "is_authenticated", False) and not is_self:
        subscription = (
            Subscription.objects.filter(fan_id=viewer.pk, creator_id=person.pk, status__in=LIVE_SUBSCRIPTION_STATUSES)
            .select_related("tier")
            .first()
        )
    return {
        "tiers": tiers,
        "subscription": subscription,
        "has_access": bool(subscription and subscription.paid_until > timezone.now()),
        "is_self": is_self,
    }

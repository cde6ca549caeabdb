"""Reads of cards and purchases (no writes; each a fixed number of queries)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import F, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from compliance.services.kyc import kyc_tier

from .models import Authorization, AuthorizationStatus, Card, CardStatus

ISSUE_STATES = ("has_card", "eligible", "needs_tier", "needs_balance")


def card_open_for(user) -> Card | None:
    """The user's active or frozen card, or None."""
    if not getattr(user, "pk", None):
        return None
    return Card.objects.filter(user_id=user.pk).exclude(status=CardStatus.CANCELLED).first()


def card_purchases(user, *, limit: int = 25) -> list[Authorization]:
    """The user's card authorisations (every card of theirs), newest first, merchant and card joined."""
    if not getattr(user, "pk", None):
        return []
    limit = max(1, min(int(limit), 200))
    return list(
        Authorization.objects.filter(card__user_id=user.pk).select_related("merchant", "card").order_by("-id")[:limit]
    )


def _zone(user) -> ZoneInfo:
    try:
        return ZoneInfo(getattr(user, "time_zone", "") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_day_bounds(user, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """Start and end (aware) of the holder's current calendar day in their time zone."""
    zone = _zone(user)
    local = (now or timezone.now()).astimezone(zone)
    start = datetime.combine(local.date(), time.min, tzinfo=zone)
    end = datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def card_daily_spent(card: Card, *, now: datetime | None = None) -> int:
    """Minor units counted against the daily limit today (the holder's local calendar day).

    Approved authorisations of any of the holder's cards created today: their amounts less what
    was released (reversed or expired). Refunds do not give the limit back.
    """
    user = card.user
    start, end = local_day_bounds(user, now=now)
    return (
        Authorization.objects.filter(card__user_id=card.user_id, created_at__gte=start, created_at__lt=end)
        .exclude(status=AuthorizationStatus.DECLINED)
        .aggregate(total=Coalesce(Sum(F("amount") - F("released_amount")), 0))["total"]
    )


def card_issue_state(user) -> str:
    """What the card page shows: "has_card" | "eligible" | "needs_tier" | "needs_balance"."""
    from .services import usd_balance

    if card_open_for(user) is not None:
        return "has_card"
    if kyc_tier(user) < 1:
        return "needs_tier"
    if usd_balance(user) < int(settings.CARDS_ISSUE_THRESHOLD):
        return "needs_balance"
    return "eligible"


__all__ = [
    "ISSUE_STATES",
    "card_daily_spent",
    "card_issue_state",
    "card_open_for",
    "card_purchases",
    "local_day_bounds",
]

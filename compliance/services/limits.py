"""Who may send, the rolling 7-day limits and the risk thresholds (payments calls these)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, ValidationFailed

from ..errors import LimitExceeded, VerificationRequired
from ..models import DocumentStatus, KycProfile, LimitUsage, ReviewReason, Tier
from ..selectors import (
    TIER_WEEKLY_LIMITS,
    LimitStatus,
    limit_status_of,
    room_frees_at,
    send_blocker,
    usd,
    used_in_window,
    weekly_limit_of,
)
from .common import BURST_PRIOR_NEW_RECIPIENTS, BURST_WINDOW, LARGE_AMOUNT_USD_MINOR, _when

# --- Sending checks and limits ------------------------------------------------------------


def sending_allowed_check(user) -> None:
    """Raise if ``user`` may not send money at all; return None if they may.

    In this order: ``AccountFrozen`` (the freeze's reason and how to appeal at
    /compliance/status/), ``RegionNotLicensed`` (the user's country is not in
    ``settings.PAYMENTS_LICENSED_REGIONS``, or no country is set),
    ``VerificationRequired`` (tier 0: what to add, at /compliance/verify/). A
    read: it locks nothing, so ``limit_reserve`` checks the tier again.
    """
    blocker = send_blocker(user)
    if blocker is not None:
        raise blocker


def _limit_message(profile: KycProfile, *, limit: int, used: int, needed: int, now: datetime) -> str:
    remaining = max(0, limit - used)
    overridden = profile.weekly_limit_override is not None
    if overridden:
        head = f"Your account can send {usd(limit)} every 7 days and has {usd(remaining)} left."
    else:
        head = f"You can send {usd(limit)} every 7 days at your verification level and have {usd(remaining)} left."
    next_limit = TIER_WEEKLY_LIMITS[Tier.DOCUMENT]
    if profile.tier == Tier.DETAILS and limit < next_limit:
        if profile.document_status == DocumentStatus.PENDING:
            return f"{head} Your identity document is being reviewed; once it is approved your limit rises to {usd(next_limit)}."
        return f"{head} Verify your identity with a document to raise your limit to {usd(next_limit)}."
    if needed > limit:
        return f"{head} This payment is more than your whole 7-day limit: send a smaller amount."
    frees_at = room_frees_at(profile.user_id, needed=needed, limit=limit, now=now)
    if frees_at is not None:
        return (
            f"{head} Room for this payment frees up on {_when(frees_at)}, when earlier payments leave the 7-day window."
        )
    return head


def limit_reserve(user, *, usd_minor: int, reference: str, new_recipient: bool = False) -> LimitUsage:
    """Count ``usd_minor`` US cents of a payment against the sender's rolling 7-day limit.

    Call inside the payment's transaction: the user's ``KycProfile`` row is
    locked (``SELECT … FOR UPDATE``, created first if missing), so concurrent
    sends of one user are serialised and can never together exceed the limit.
    Raises ``VerificationRequired`` below tier 1 (defence in depth: callers run
    ``sending_allowed_check`` first) and ``LimitExceeded`` with a message saying
    exactly what remains and how to raise it. Idempotent per ``reference``: the
    same reference again returns the row already recorded.
    """
    if isinstance(usd_minor, bool) or not isinstance(usd_minor, int) or usd_minor < 0:
        raise ValidationFailed("The amount to count against the limit must be whole US cents.")
    reference = str(reference or "").strip()
    if not reference or len(reference) > 64:
        raise ValidationFailed("A limit reference is 1–64 characters.")
    with transaction.atomic():
        KycProfile.objects.get_or_create(user=user)
        profile = KycProfile.objects.select_for_update().get(user=user)
        existing = LimitUsage.objects.filter(reference=reference).first()
        if existing is not None:
            if existing.user_id != user.pk:
                raise Conflict("That limit reference belongs to someone else.")
            return existing
        if profile.tier < Tier.DETAILS:
            raise VerificationRequired()
        now = timezone.now()
        limit = weekly_limit_of(profile)
        used = used_in_window(user.pk, now=now)
        if used + usd_minor > limit:
            raise LimitExceeded(
                _limit_message(profile, limit=limit, used=used, needed=usd_minor, now=now),
                fields={"amount": [f"{usd(max(0, limit - used))} left of your 7-day limit."]},
            )
        return LimitUsage.objects.create(
            user=user, reference=reference, usd_minor=usd_minor, new_recipient=bool(new_recipient), created_at=now
        )


def limit_release(*, reference: str) -> None:
    """Give back the usage recorded under ``reference`` (a cancelled, rejected or expired payment).

    Idempotent: releasing twice, or an unknown reference, changes nothing.
    """
    LimitUsage.objects.filter(reference=reference, released_at__isnull=True).update(released_at=timezone.now())


def limit_status(user) -> LimitStatus:
    """The user's tier and 7-day limit, used and remaining (US cents), for pages."""
    return limit_status_of(user)


def risk_assess(user, *, usd_minor: int, new_recipient: bool, reference: str | None = None) -> str | None:
    """The ``ReviewReason`` a payment must be held for, or None. A read.

    - ``large_amount`` when ``usd_minor`` is over ``LARGE_AMOUNT_USD_MINOR`` (3,000.00);
    - ``new_recipient_burst`` when the payment goes to someone new and the
      sender already made ``BURST_PRIOR_NEW_RECIPIENTS`` (3) *other* payments to
      new people within ``BURST_WINDOW`` (60 minutes) — so the 4th is held.
      Cancelled or rejected ones count too: the pattern is the signal.

    Payments calls ``limit_reserve`` before this, so the payment's own usage
    row already exists: pass its ``reference`` to have it excluded exactly;
    without one, the newest matching row is assumed to be this payment's own.
    """
    if usd_minor > LARGE_AMOUNT_USD_MINOR:
        return ReviewReason.LARGE_AMOUNT
    if not new_recipient:
        return None
    rows = LimitUsage.objects.filter(user_id=user.pk, new_recipient=True, created_at__gt=timezone.now() - BURST_WINDOW)
    prior = rows.exclude(reference=reference).count() if reference is not None else max(0, rows.count() - 1)
    if prior >= BURST_PRIOR_NEW_RECIPIENTS:
        return ReviewReason.NEW_RECIPIENT_BURST
    return None

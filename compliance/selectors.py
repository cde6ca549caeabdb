"""Reads of compliance state: tiers, limits used in the rolling window, freezes, open reviews.

``account_status(user)`` is what other apps (the wallet page banner) show; the
send checks in ``compliance.services`` use ``send_blocker`` so the page and the
refusal always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Subquery, Sum
from django.utils import timezone
from django_countries import countries

from core.errors import DomainError
from core.money import format_money

from .errors import STATUS_URL, VERIFY_URL, AccountFrozen, RegionNotLicensed, VerificationRequired
from .models import (
    OPEN_REVIEW_STATUSES,
    AccountFreeze,
    DocumentStatus,
    FreezeAppeal,
    KycProfile,
    LimitUsage,
    RiskReview,
    Tier,
)

# Rolling window of the sending limits, and the limit of each tier in US cents.
LIMIT_WINDOW = timedelta(days=7)
TIER_WEEKLY_LIMITS: dict[int, int] = {
    Tier.EMAIL: 0,
    Tier.DETAILS: 1_000_00,  # 1,000.00 USD-equivalent
    Tier.DOCUMENT: 10_000_00,  # 10,000.00 USD-equivalent
}


def usd(amount_minor: int) -> str:
    return format_money(amount_minor, "USD")


def kyc_profile_for(user) -> KycProfile | None:
    if user is None or not getattr(user, "pk", None):
        return None
    return KycProfile.objects.filter(user_id=user.pk).first()


def tier_of(profile: KycProfile | None) -> int:
    return profile.tier if profile is not None else Tier.EMAIL


def weekly_limit_of(profile: KycProfile | None) -> int:
    """US cents per rolling 7 days: the tier's limit, or staff's override (tier ≥ 1 only)."""
    tier = tier_of(profile)
    if tier == Tier.EMAIL:
        return 0
    if profile is not None and profile.weekly_limit_override is not None:
        return profile.weekly_limit_override
    return TIER_WEEKLY_LIMITS[tier]


def window_usages(user_id: int, *, now: datetime | None = None):
    """Unreleased usage rows inside the rolling window ending at ``now``."""
    moment = now or timezone.now()
    return LimitUsage.objects.filter(user_id=user_id, released_at__isnull=True, created_at__gt=moment - LIMIT_WINDOW)


def used_in_window(user_id: int, *, now: datetime | None = None) -> int:
    return window_usages(user_id, now=now).aggregate(total=Sum("usd_minor"))["total"] or 0


def room_frees_at(user_id: int, *, needed: int, limit: int, now: datetime | None = None) -> datetime | None:
    """When enough of the window's usage drops out for ``needed`` cents to fit, or None (never / already)."""
    moment = now or timezone.now()
    if needed > limit:
        return None
    rows = list(window_usages(user_id, now=moment).order_by("created_at").values_list("created_at", "usd_minor"))
    remaining = limit - sum(amount for _, amount in rows)
    for created_at, amount in rows:
        if remaining >= needed:
            break
        remaining += amount
        if remaining >= needed:
            return created_at + LIMIT_WINDOW
    return None


def active_freeze(user) -> AccountFreeze | None:
    """The user's current freeze (at most one, enforced by the database), or None."""
    if user is None or not getattr(user, "pk", None):
        return None
    return AccountFreeze.objects.filter(user_id=user.pk, lifted_at__isnull=True).first()


def open_reviews_for(user) -> list[RiskReview]:
    return list(RiskReview.objects.filter(user_id=user.pk, status__in=OPEN_REVIEW_STATUSES).order_by("deadline", "id"))


def licensed_regions() -> set[str]:
    return {code.strip().upper() for code in getattr(settings, "PAYMENTS_LICENSED_REGIONS", []) if code.strip()}


def country_name(code: str) -> str:
    return countries.name(code) or code


def send_blocker(user, *, profile: KycProfile | None = None, freeze=None, fetch: bool = True) -> DomainError | None:
    """Why ``user`` may not send at all (the error to raise or show), or None.

    Order: frozen, then region, then verification tier. ``profile``/``freeze``
    may be given when already loaded (``fetch=False`` means "the given ones are all there is").
    """
    if fetch:
        freeze = active_freeze(user)
    if freeze is not None:
        return AccountFrozen(
            f"Your account is frozen, so you cannot send money. Reason: {freeze.reason.strip().rstrip('.')}. "
            f"To appeal, tell us why on your account status page: {STATUS_URL}",
            fields={"appeal_url": [STATUS_URL]},
        )
    country = str(getattr(user, "country", "") or "").upper()
    if not country:
        return RegionNotLicensed(
            "We need to know which country you live in before you can send money: set your country in Settings.",
            fields={"country": ["Set your country in Settings."]},
        )
    if country not in licensed_regions():
        return RegionNotLicensed(
            f"Sending money is not available in {country_name(country)} yet. You can still receive money.",
            fields={"country": [country]},
        )
    if fetch:
        profile = kyc_profile_for(user)
    if tier_of(profile) < Tier.DETAILS:
        return VerificationRequired(
            "Before you can send money, verify your identity: add your legal name, date of birth, address "
            f"and the last 4 digits of your national ID at {VERIFY_URL}. It takes about a minute.",
            fields={"verify_url": [VERIFY_URL]},
        )
    return None


@dataclass(frozen=True)
class LimitStatus:
    tier: int
    limit: int  # US cents per rolling 7 days
    used: int
    remaining: int
    overridden: bool = False

    @property
    def limit_display(self) -> str:
        return usd(self.limit)

    @property
    def used_display(self) -> str:
        return usd(self.used)

    @property
    def remaining_display(self) -> str:
        return usd(self.remaining)

    @property
    def used_percent(self) -> int:
        return min(100, round(self.used * 100 / self.limit)) if self.limit else 100


def limit_status_of(user, *, profile: KycProfile | None = None, fetch: bool = True, now=None) -> LimitStatus:
    if fetch:
        profile = kyc_profile_for(user)
    limit = weekly_limit_of(profile)
    used = used_in_window(user.pk, now=now) if user is not None and user.pk else 0
    return LimitStatus(
        tier=tier_of(profile),
        limit=limit,
        used=used,
        remaining=max(0, limit - used),
        overridden=bool(profile and profile.weekly_limit_override is not None and profile.tier >= Tier.DETAILS),
    )


@dataclass(frozen=True)
class AccountStatus:
    """Everything the status page and the wallet banner say about a user's standing."""

    tier: int
    limit_usd_minor: int
    used_usd_minor: int
    remaining_usd_minor: int
    freeze: AccountFreeze | None
    open_reviews: list[RiskReview] = field(default_factory=list)
    document_status: str = DocumentStatus.NONE
    review_note: str = ""
    open_appeal: FreezeAppeal | None = None
    blocker: DomainError | None = None

    @property
    def tier_label(self) -> str:
        return Tier(self.tier).label

    @property
    def can_send(self) -> bool:
        return self.blocker is None

    @property
    def block_message(self) -> str:
        return self.blocker.message if self.blocker else ""

    @property
    def block_code(self) -> str:
        return self.blocker.code if self.blocker else ""

    @property
    def is_frozen(self) -> bool:
        return self.freeze is not None

    @property
    def limit_display(self) -> str:
        return usd(self.limit_usd_minor)

    @property
    def used_display(self) -> str:
        return usd(self.used_usd_minor)

    @property
    def remaining_display(self) -> str:
        return usd(self.remaining_usd_minor)

    @property
    def used_percent(self) -> int:
        if not self.limit_usd_minor:
            return 100
        return min(100, round(self.used_usd_minor * 100 / self.limit_usd_minor))

    @property
    def next_tier_limit_display(self) -> str:
        return usd(TIER_WEEKLY_LIMITS[self.tier + 1]) if self.tier < Tier.DOCUMENT else ""


def account_status(user) -> AccountStatus:
    """A user's tier, 7-day limit (US cents: limit, used, remaining), active freeze and open reviews.

    One query in the usual case (profile, usage in the window, and whether there is a freeze or an
    open review, read together); the freeze (and its open appeal) and the open reviews are loaded
    only when there are some. Safe for any signed-in user (anonymous: no query).
    """
    if user is None or not getattr(user, "pk", None):
        return _account_status_of(user, profile=None, used=0, freeze=None, reviews=[])
    moment = timezone.now()
    row = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .select_related("kyc")
        .annotate(
            _used=Subquery(
                window_usages(user.pk, now=moment)
                .order_by()
                .values("user_id")
                .annotate(total=Sum("usd_minor"))
                .values("total")[:1]
            ),
            _freeze_id=Subquery(
                AccountFreeze.objects.filter(user_id=OuterRef("pk"), lifted_at__isnull=True).values("id")[:1]
            ),
            _has_reviews=Exists(RiskReview.objects.filter(user_id=OuterRef("pk"), status__in=OPEN_REVIEW_STATUSES)),
        )
        .first()
    )
    if row is None:
        return _account_status_of(user, profile=None, used=0, freeze=None, reviews=[])
    try:
        profile = row.kyc
    except KycProfile.DoesNotExist:
        profile = None
    freeze = AccountFreeze.objects.filter(pk=row._freeze_id).first() if row._freeze_id is not None else None
    reviews = open_reviews_for(user) if row._has_reviews else []
    return _account_status_of(user, profile=profile, used=row._used or 0, freeze=freeze, reviews=reviews)


def _account_status_of(user, *, profile, used: int, freeze, reviews: list) -> AccountStatus:
    limit = weekly_limit_of(profile)
    appeal = freeze.appeals.filter(resolved=False).first() if freeze is not None else None
    return AccountStatus(
        tier=tier_of(profile),
        limit_usd_minor=limit,
        used_usd_minor=used,
        remaining_usd_minor=max(0, limit - used),
        freeze=freeze,
        open_reviews=reviews,
        document_status=profile.document_status if profile else DocumentStatus.NONE,
        review_note=profile.review_note if profile else "",
        open_appeal=appeal,
        blocker=send_blocker(user, profile=profile, freeze=freeze, fetch=False),
    )


def review_queue():
    """Open reviews, soonest deadline first (the admin queue)."""
    return RiskReview.objects.filter(status__in=OPEN_REVIEW_STATUSES).select_related("user", "first_approver")

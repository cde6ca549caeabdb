"""Test helpers other apps use: users with a KYC tier, staff members, held reviews."""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from accounts.tests.factories import UserFactory
from compliance.models import DocumentStatus, KycProfile, Tier

PLAUSIBLE_DETAILS = {
    "date_of_birth": date(1990, 4, 12),
    "address_line1": "1 Main Street",
    "address_line2": "",
    "city": "Springfield",
    "postal_code": "62701",
    "national_id_last4": "1234",
}


def make_verified(user, tier: int = 1) -> KycProfile:
    """Give ``user`` KYC tier ``tier`` directly (0: email only; 1: identity details; 2: document approved).

    Creates or updates the user's KycProfile with plausible details in the user's
    country (US by default). Tier 2 is recorded as an approved document with no file.
    """
    if tier not in Tier.values:
        raise ValueError(f"tier must be one of {Tier.values}")
    country = str(user.country or "US")
    defaults = {"tier": tier}
    if tier >= Tier.DETAILS:
        defaults.update(
            PLAUSIBLE_DETAILS,
            legal_name=user.display_name or user.handle.replace("_", " ").title(),
            country=country,
            region=(user.state or "IL") if country == "US" else "",
        )
    if tier == Tier.DOCUMENT:
        defaults.update(document_status=DocumentStatus.APPROVED, document_reviewed_at=timezone.now())
    else:
        defaults.update(document_status=DocumentStatus.NONE, document_reviewed_at=None)
    profile, _ = KycProfile.objects.update_or_create(user=user, defaults=defaults)
    return profile


def staff_user(handle: str | None = None, *, superuser: bool = True, **kwargs):
    """A staff member (a superuser by default, so the admin shows every compliance page)."""
    if handle:
        kwargs["handle"] = handle
    return UserFactory(verified=True, is_staff=True, is_superuser=superuser, **kwargs)


def verified_user(handle: str | None = None, *, tier: int = 1, **kwargs):
    """A verified-email user with KYC ``tier``."""
    if handle:
        kwargs["handle"] = handle
    user = UserFactory(verified=True, **kwargs)
    make_verified(user, tier=tier)
    return user

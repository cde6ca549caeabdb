"""Compliance services: KYC tiers, sending limits, risk reviews, freezes, the audit trail.

INTERFACE STUB — the functions payments calls. Bodies to be implemented.
"""

from __future__ import annotations

from core.errors import NotPermitted, Unprocessable


class AccountFrozen(NotPermitted):
    code = "account_frozen"


class RegionNotLicensed(NotPermitted):
    code = "region_not_licensed"
    default_message = "Sending money is not available in your region yet."


class VerificationRequired(NotPermitted):
    code = "verification_required"


class LimitExceeded(Unprocessable):
    code = "limit_exceeded"


def usd_equivalent(amount_minor: int, currency: str) -> int:
    """Stub: replaced by payments' FX table via a registered converter."""
    raise NotImplementedError


def sending_allowed_check(user) -> None:
    """Raise AccountFrozen / RegionNotLicensed / VerificationRequired if ``user`` may not send at all."""


def limit_reserve(user, *, usd_minor: int, reference: str, new_recipient: bool = False) -> None:
    """Inside the caller's transaction: lock the user's compliance row, check and record usage."""


def limit_release(*, reference: str) -> None:
    """Give back the usage recorded under ``reference`` (a cancelled or rejected payment)."""


def risk_assess(user, *, usd_minor: int, new_recipient: bool) -> str | None:
    """The reason category a payment must be reviewed for, or None."""
    return None


def review_open(user, *, subject: str, usd_minor: int, reason: str, summary: str = ""):
    """Open a RiskReview for ``subject`` (e.g. "payment:42"); returns it (deadline in 48 h)."""
    raise NotImplementedError

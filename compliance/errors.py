"""Domain errors of compliance (re-exported by ``compliance.services``, where callers import them)."""

from __future__ import annotations

from core.errors import NotPermitted, Unprocessable

STATUS_URL = "/compliance/status/"
VERIFY_URL = "/compliance/verify/"
SETTINGS_URL = "/settings/"


class AccountFrozen(NotPermitted):
    code = "account_frozen"
    default_message = f"Your account is frozen, so you cannot send money. To appeal, go to {STATUS_URL}."


class RegionNotLicensed(NotPermitted):
    code = "region_not_licensed"
    default_message = "Sending money is not available in your region yet."


class VerificationRequired(NotPermitted):
    code = "verification_required"
    default_message = (
        "Before you can send money, add your legal name, date of birth, address and the last 4 digits "
        f"of your national ID at {VERIFY_URL}."
    )


class LimitExceeded(Unprocessable):
    code = "limit_exceeded"
    default_message = "This payment is over your sending limit."

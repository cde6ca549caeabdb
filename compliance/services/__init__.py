"""Compliance services: KYC tiers, sending limits, risk reviews, freezes, the audit trail.

Who calls what:

- ``payments`` (above us, DESIGN §2) calls ``sending_allowed_check`` before a send,
  then — inside its own transaction, right after inserting the payment row —
  ``limit_reserve``, ``risk_assess`` and, when that names a reason, ``review_open``;
  ``limit_release`` when money goes back (cancelled or rejected). It reacts to
  ``compliance.signals.review_decided``, which we send inside the deciding
  transaction, so a release commits together with the decision.
- Staff act through the admin, which calls the ``kyc_document_review``,
  ``review_*``, ``freeze_*`` and ``kyc_limit_override_set`` services; each of them
  writes an ``AuditEntry``.
- The person themself calls ``kyc_submit_details``, ``kyc_submit_document`` and
  ``freeze_appeal`` from /compliance/verify/ and /compliance/status/.

Tiers: 0 = email verified (may receive, cannot send); 1 = legal name, date of
birth (18+), address and the last 4 digits of a national id (1,000.00 USD per
rolling 7 days); 2 = an identity document approved by staff (10,000.00).
Amounts here are US cents (the payment's USD equivalent at the mid rate).

Lock order: the sender's ``KycProfile`` row (limits) before anything of the
payment; a review row before the payment it is about.
"""

from __future__ import annotations

from ..errors import AccountFrozen, LimitExceeded, RegionNotLicensed, VerificationRequired
from ..selectors import LIMIT_WINDOW, TIER_WEEKLY_LIMITS, LimitStatus, active_freeze
from .common import (
    BURST_PRIOR_NEW_RECIPIENTS,
    BURST_WINDOW,
    DOCUMENT_FORMATS,
    DOCUMENT_MAX_BYTES,
    DOCUMENT_MAX_PIXELS,
    LARGE_AMOUNT_USD_MINOR,
    MIN_AGE_YEARS,
    REVIEW_WINDOW,
    SECOND_APPROVAL_OVER_USD_MINOR,
    TEXT_MAX,
    audit_record,
    audit_record_admin_deletions,
    audit_record_admin_log,
    review_parties,
    review_parties_register,
    usd_converter_register,
    usd_equivalent,
)
from .freezes import freeze_account, freeze_appeal, freeze_appeal_resolve, freeze_lift
from .kyc import (
    DocumentInvalid,
    TooYoung,
    kyc_document_open,
    kyc_document_review,
    kyc_limit_override_set,
    kyc_submit_details,
    kyc_submit_document,
    kyc_tier,
)
from .limits import limit_release, limit_reserve, limit_status, risk_assess, sending_allowed_check
from .reviews import (
    needs_second_approval,
    review_approve,
    review_expire,
    review_open,
    review_reject,
    reviews_expire_due,
)

__all__ = [
    "BURST_PRIOR_NEW_RECIPIENTS",
    "BURST_WINDOW",
    "DOCUMENT_FORMATS",
    "DOCUMENT_MAX_BYTES",
    "DOCUMENT_MAX_PIXELS",
    "LARGE_AMOUNT_USD_MINOR",
    "LIMIT_WINDOW",
    "MIN_AGE_YEARS",
    "REVIEW_WINDOW",
    "SECOND_APPROVAL_OVER_USD_MINOR",
    "TEXT_MAX",
    "TIER_WEEKLY_LIMITS",
    "AccountFrozen",
    "DocumentInvalid",
    "LimitExceeded",
    "LimitStatus",
    "RegionNotLicensed",
    "TooYoung",
    "VerificationRequired",
    "active_freeze",
    "audit_record",
    "audit_record_admin_deletions",
    "audit_record_admin_log",
    "freeze_account",
    "freeze_appeal",
    "freeze_appeal_resolve",
    "freeze_lift",
    "kyc_document_open",
    "kyc_document_review",
    "kyc_limit_override_set",
    "kyc_submit_details",
    "kyc_submit_document",
    "kyc_tier",
    "limit_release",
    "limit_reserve",
    "limit_status",
    "needs_second_approval",
    "review_approve",
    "review_expire",
    "review_open",
    "review_parties",
    "review_parties_register",
    "review_reject",
    "reviews_expire_due",
    "risk_assess",
    "sending_allowed_check",
    "usd_converter_register",
    "usd_equivalent",
]

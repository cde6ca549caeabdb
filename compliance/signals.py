"""Signals compliance sends to the apps above it (DESIGN §2: reactions that would point up).

``review_decided`` — sent (inside the deciding transaction) when a RiskReview is
approved, rejected or passes its deadline. Keyword arguments: ``review`` (the
RiskReview, whose ``subject`` says what it is about, e.g. "payment:42"),
``approved`` (bool), ``actor`` (the staff user, or None for the deadline).
The app that owns the subject releases or returns the held money.
"""

from django.dispatch import Signal

review_decided = Signal()

# ``kyc_tier_changed`` — sent after commit (``transaction.on_commit``) when a person's KYC tier
# goes up (details submitted → 1, document approved → 2). Keyword arguments: ``user`` and
# ``tier`` (the new tier). Used by ``cards`` to issue the debit card to a person who already
# holds the threshold balance when they get verified. Receivers must not raise.
kyc_tier_changed = Signal()


def admin_log_entry_saved(sender, instance, created, raw=False, **kwargs):
    """Receiver (connected in ``ComplianceConfig.ready``): mirror each new admin LogEntry into the
    audit trail, by the rule in ``compliance.services.common``."""
    if created and not raw:
        from .services.common import audit_record_admin_log

        audit_record_admin_log(instance)

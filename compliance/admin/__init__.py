"""Admin: KYC review, the risk review queue (maker-checker), freezes and appeals, the audit trail.

Every staff action goes through a ``compliance.services`` function, which checks
the rules and writes the ``AuditEntry``; the admin only collects a reason and
shows the outcome. Records are otherwise read-only: nothing here edits or
deletes a decision.
"""

from . import audit, freezes, kyc, reviews  # noqa: F401 - each registers its model admins

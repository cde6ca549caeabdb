"""Cards reacting to the apps below it (DESIGN §2): the automatic card issue.

- ``ledger.signals.balance_credited`` (after commit): a USD wallet whose posted balance crossed
  ``CARDS_ISSUE_THRESHOLD`` upwards (before < threshold <= after) → issue the first card.
- ``compliance.signals.kyc_tier_changed`` (after commit): a person who reached tier 1 or above
  and already holds the threshold → issue the first card.

Both only enqueue ``cards.tasks.issue_card_if_eligible`` (eager in development and tests); the
task re-checks everything and issues at most once (``cards.services.card_issue_if_eligible``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.dispatch import receiver

from compliance.signals import kyc_tier_changed
from ledger.models import AccountKind
from ledger.signals import balance_credited

logger = logging.getLogger(__name__)


def _enqueue(user_id: int) -> None:
    from .tasks import issue_card_if_eligible

    try:
        issue_card_if_eligible.delay(user_id)
    except Exception:  # the money has moved; the person can still ask for the card on /cards/
        logger.exception("could not issue a card to user %s", user_id)


@receiver(balance_credited, dispatch_uid="cards.balance_credited")
def card_on_balance_credited(sender, credits=(), **kwargs) -> None:
    threshold = int(settings.CARDS_ISSUE_THRESHOLD)
    owners = {
        credit.owner_id
        for credit in credits
        if credit.kind == AccountKind.WALLET and credit.currency == "USD" and credit.before < threshold <= credit.after
    }
    for owner_id in sorted(owners):
        _enqueue(owner_id)


@receiver(kyc_tier_changed, dispatch_uid="cards.kyc_tier_changed")
def card_on_kyc_tier_changed(sender, user=None, tier: int = 0, **kwargs) -> None:
    if user is not None and tier >= 1:
        _enqueue(user.pk)

"""Celery tasks of cards: thin wrappers around the services."""

from celery import shared_task


@shared_task
def issue_card_if_eligible(user_id: int) -> int | None:
    """Issue the person's first card if they qualify (threshold, tier 1); returns the card id or None."""
    from .services import card_issue_if_eligible

    card = card_issue_if_eligible(user_id)
    return card.pk if card is not None else None


@shared_task
def expire_due_authorizations() -> int:
    """Release card authorisations not captured within CARDS_AUTHORIZATION_DAYS (beat: every 5 minutes)."""
    from .network import authorizations_expire_due

    return authorizations_expire_due()

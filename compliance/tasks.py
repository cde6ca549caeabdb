"""Celery tasks of compliance: thin wrappers around services."""

from celery import shared_task


@shared_task
def expire_overdue_reviews() -> int:
    """Expire risk reviews whose 48-hour deadline passed; the held money goes back (beat: every 5 minutes)."""
    from .services import reviews_expire_due

    return reviews_expire_due()

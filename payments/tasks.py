"""Celery tasks of the wallet: thin wrappers around services."""

from celery import shared_task


@shared_task
def release_due_payments() -> int:
    """Post delayed payments whose safety delay is over (beat: every minute)."""
    from .services.send import payments_release_due

    return payments_release_due()

"""Celery tasks of the wallet: thin wrappers around services."""

from celery import shared_task


@shared_task
def release_due_payments() -> int:
    """Post delayed payments whose safety delay is over (beat: every minute)."""
    from .services.send import payments_release_due

    return payments_release_due()


@shared_task
def settle_due_cash_outs() -> int:
    """Pay out standard cash-outs that are due, and finish interrupted instant ones (beat: every 5 minutes)."""
    from .services.funding import cashouts_settle_due

    return cashouts_settle_due()


@shared_task
def expire_requests() -> int:
    """Mark open money requests past their 30 days as expired (beat: hourly)."""
    from .services.requests import requests_expire_due

    return requests_expire_due()


@shared_task
def auto_release_escrows() -> int:
    """Release payments with protection whose 7 days are over; settle those whose hold lapsed (beat: every 5 minutes)."""
    from .services.escrow import escrows_auto_release_due

    return escrows_auto_release_due()


@shared_task
def return_stale_checks() -> int:
    """Return outstanding checks older than CHECKS_STALE_DAYS to their writers (beat: hourly)."""
    from .services.checks import checks_return_stale

    return checks_return_stale()

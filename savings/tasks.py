"""Celery beat tasks of savings: thin wrappers around savings.accrual (issue 6, points 3–4)."""

from celery import shared_task


@shared_task
def accrue_interest() -> int:
    """Accrue every complete day not yet accrued, for every account (beat: hourly). Returns rows inserted."""
    from .accrual import accruals_catch_up

    return accruals_catch_up().rows


@shared_task
def pay_interest() -> int:
    """Pay last month's interest to accounts not yet paid (beat: hourly on the 1st–7th). Returns payouts made."""
    from .accrual import payouts_post_due

    return payouts_post_due().payouts

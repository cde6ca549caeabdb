"""Celery tasks of the marketplace: thin wrappers around services."""

from celery import shared_task


@shared_task
def auto_release_due_orders() -> int:
    """Release shipped orders 14 days after shipping and digital ones 72 h after payment (beat: every 5 minutes)."""
    from .services.orders import orders_auto_release_due

    return orders_auto_release_due()

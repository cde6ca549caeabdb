from celery import shared_task

from . import services


@shared_task
def expire_due_holds() -> int:
    """Release holds whose timeout has passed (Celery beat, every minute)."""
    return services.holds_expire_due()

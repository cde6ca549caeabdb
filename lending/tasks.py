from celery import shared_task

from .services import autopay_run


@shared_task
def autopay_due_instalments() -> dict:
    """Collect every instalment due today or earlier and not yet tried today (beat: hourly)."""
    return autopay_run()

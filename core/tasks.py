from celery import shared_task

from .idempotency import records_prune


@shared_task
def prune_idempotency_records() -> int:
    """Forget replayable responses older than a week (Celery beat, daily)."""
    return records_prune()

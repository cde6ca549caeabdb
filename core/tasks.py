import time

from celery import shared_task
from django.core.cache import cache

from .idempotency import records_prune

# Cache keys read by /healthz (core.views.healthz).
CELERY_HEARTBEAT_KEY = "ops:celery-heartbeat"  # a Unix time, written by celery_heartbeat
LEDGER_CHECK_KEY = "ops:ledger-check"  # {"ok": bool, "at": Unix time}, written by everything.tasks.ledger_check


@shared_task
def prune_idempotency_records() -> int:
    """Forget replayable responses older than a week (Celery beat, daily)."""
    return records_prune()


@shared_task
def celery_heartbeat() -> float:
    """Record that beat scheduled and a worker ran a task just now (Celery beat, every minute).

    /healthz reports the age of this timestamp: a stale one means beat or every worker is down.
    """
    now = time.time()
    cache.set(CELERY_HEARTBEAT_KEY, now, timeout=None)
    return now

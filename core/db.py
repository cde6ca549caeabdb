"""Database helpers shared by every app: bounded retries of lock conflicts."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection

T = TypeVar("T")

# deadlock_detected, serialization_failure, lock_not_available (lock_timeout)
RETRYABLE_SQLSTATES = {"40P01", "40001", "55P03"}
MAX_ATTEMPTS = 5


def is_retryable(error: OperationalError) -> bool:
    cause = error.__cause__
    if getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    # SQLite reports a busy database this way; worth another try too.
    return "database is locked" in str(error)


def retry_on_conflict(func: Callable[..., T]) -> Callable[..., T]:
    """Retry the whole call a bounded number of times on a deadlock or lock timeout.

    Only the outermost call retries: inside an enclosing ``atomic()`` block the
    transaction is already doomed, so the error goes up to whoever owns it.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if connection.in_atomic_block:
            return func(*args, **kwargs)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return func(*args, **kwargs)
            except OperationalError as error:
                if attempt == MAX_ATTEMPTS or not is_retryable(error):
                    raise
                time.sleep(random.uniform(0, 0.02 * 2**attempt))
        raise AssertionError("unreachable")

    return wrapper

"""Helpers for tests that race real threads against PostgreSQL (DESIGN §7).

SQLite has no row locks (a writer locks the whole file), so such tests skip there
with ``skip_unless_postgres()``; CI always runs them on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.conf import settings
from django.db import connection

POSTGRES_SKIP_REASON = "needs PostgreSQL (real row locks): set DATABASE_URL=postgres://... as .ci/run does"


def skip_unless_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(POSTGRES_SKIP_REASON)


def run_threads(count: int, target: Callable[[int], object], *, timeout: float = 300) -> tuple[list, list]:
    """Start ``count`` threads together (a barrier) running ``target(index)``.

    Returns ``(results, errors)``: the results of the threads that returned, in
    thread order, and every exception raised (for the test to assert on). Each
    thread closes its own database connection. Fails if a thread hangs.
    """
    barrier = threading.Barrier(count)
    missing = object()
    results: list = [missing] * count
    errors: list = []

    def runner(index: int) -> None:
        try:
            barrier.wait()
            results[index] = target(index)
        except BaseException as error:  # collected and asserted by the caller
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    return [r for r in results if r is not missing], errors


def session_queries() -> int:
    """What reading the session costs a signed-in request: nothing once it is in the cache
    (``cached_db``, when ``REDIS_URL`` is set), one query with database sessions."""
    return 0 if settings.SESSION_ENGINE.endswith("cached_db") else 1

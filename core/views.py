"""Operational endpoints that belong to no app."""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from .tasks import CELERY_HEARTBEAT_KEY, LEDGER_CHECK_KEY

logger = logging.getLogger(__name__)

# The heartbeat is written every minute; older than this, beat or the workers are down.
CELERY_HEARTBEAT_STALE_SECONDS = 5 * 60
REDIS_TIMEOUT_SECONDS = 1.0


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("healthz: the database does not answer")
        return {"status": "error"}
    return {"status": "ok"}


def _check_redis(redis_url: str) -> dict:
    if not redis_url:
        return {"status": "not_configured"}
    try:
        import redis

        client = redis.Redis.from_url(
            redis_url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception:
        logger.exception("healthz: Redis does not answer")
        return {"status": "error"}
    return {"status": "ok"}


def _check_celery(redis_url: str, now: float) -> dict:
    if not redis_url:
        # Without Redis, tasks run eagerly in the web process: there is no worker to watch.
        return {"status": "not_configured"}
    try:
        beat = cache.get(CELERY_HEARTBEAT_KEY)
    except Exception:
        logger.exception("healthz: could not read the Celery heartbeat")
        return {"status": "unknown"}
    if not isinstance(beat, int | float):
        return {"status": "stale", "last_heartbeat": None, "age_seconds": None}
    age = max(0, round(now - beat))
    return {
        "status": "ok" if age <= CELERY_HEARTBEAT_STALE_SECONDS else "stale",
        "last_heartbeat": _iso(beat),
        "age_seconds": age,
    }


def _ledger_check() -> dict:
    """The last nightly ledger_check (informational unless it failed)."""
    try:
        last = cache.get(LEDGER_CHECK_KEY)
    except Exception:
        return {"status": "unknown"}
    if not isinstance(last, dict) or not isinstance(last.get("at"), int | float):
        return {"status": "unknown"}
    return {"status": "ok" if last.get("ok") else "failed", "at": _iso(last["at"])}


@csrf_exempt
@require_GET
@never_cache
def healthz(request):
    """``GET /healthz`` for load balancers and monitors: no authentication, no secrets.

    200 ``{"status": "ok"}`` when everything answers; 200 ``"degraded"`` when the database
    answers but Redis, the Celery heartbeat (older than 5 minutes) or the last ledger check
    does not; 503 when the database does not answer. Never a 500.
    """
    try:
        redis_url = getattr(settings, "REDIS_URL", "")
        now = time.time()
        checks = {
            "database": _check_database(),
            "redis": _check_redis(redis_url),
            "celery": _check_celery(redis_url, now),
            "ledger_check": _ledger_check(),
        }
    except Exception:  # a bug in a check must not turn the probe into a 500
        logger.exception("healthz failed")
        return JsonResponse({"status": "error", "checks": {}}, status=503)
    if checks["database"]["status"] != "ok":
        return JsonResponse({"status": "error", "checks": checks}, status=503)
    healthy = {"ok", "not_configured"}
    degraded = (
        checks["redis"]["status"] not in healthy
        or checks["celery"]["status"] not in healthy
        or checks["ledger_check"]["status"] == "failed"
    )
    return JsonResponse({"status": "degraded" if degraded else "ok", "checks": checks})


# What a client should wait before retrying when the database is briefly out of reach.
UNAVAILABLE_RETRY_AFTER = 5


def server_error(request):
    """``handler500``: an unhandled exception. The database out of reach (a restart, a failover,
    the connection pool exhausted, a lock wait past ``DB_LOCK_TIMEOUT``) is 503 with Retry-After:
    the request changed nothing (its transaction rolled back) and a retry — with the same
    Idempotency-Key — is the right move. Anything else is a 500. Under /api/ both answer the
    API's JSON error body."""
    exc = sys.exc_info()[1]
    unavailable = isinstance(exc, OperationalError | InterfaceError)
    api = request.path.startswith("/api/")
    if unavailable:
        message = "The service is briefly unavailable. Nothing was changed; please try again in a few seconds."
        if api:
            response = JsonResponse({"error": {"code": "unavailable", "message": message, "fields": {}}}, status=503)
        else:
            response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
        return response
    if api:
        message = "Something went wrong on our side. Nothing was charged twice; please try again."
        return JsonResponse({"error": {"code": "server_error", "message": message, "fields": {}}}, status=500)
    return defaults.server_error(request)

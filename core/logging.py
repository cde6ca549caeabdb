"""Structured logs: a request id in every record, and one JSON object per line.

``RequestIdMiddleware`` (core.middleware) stores the id of the request being served in
``request_id_var``; ``RequestIdFilter`` copies it onto each record as ``record.request_id``
("-" outside a request: Celery tasks, management commands). ``JsonFormatter`` renders
time, level, logger, message, request id and exception text. Nothing here ever logs a
request body: card numbers and passwords travel in bodies.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# What we accept from a client's X-Request-ID; anything else is replaced by our own id.
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9-]{1,64}")


def request_id_is_valid(value: str | None) -> bool:
    return bool(value) and REQUEST_ID_RE.fullmatch(value) is not None


def current_request_id() -> str | None:
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    """Set ``record.request_id``: the current request's id, or "-" outside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = request_id_var.get()
        if request_id is None:
            # django.request logs some 4xx responses after the middleware has returned;
            # those records carry the request itself.
            request_id = getattr(getattr(record, "request", None), "request_id", None)
        record.request_id = request_id or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id, exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get() or "-",
        }
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exc_info"] = record.exc_text
        if record.stack_info:
            payload["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(payload, ensure_ascii=False, default=str)

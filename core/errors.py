"""Domain errors: one base with a stable code, a human message and an HTTP status.

HTML views show ``message`` on the form; the API answers
``{"error": {"code", "message", "fields"}}`` with ``status`` (core.api).
"""

from __future__ import annotations


class DomainError(Exception):
    code = "invalid"
    status = 400
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, code: str | None = None, fields: dict | None = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.fields = fields or {}
        super().__init__(self.message)

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "fields": self.fields}


class ValidationFailed(DomainError):
    code = "invalid"
    status = 400
    default_message = "Some of the information given is not valid."


class NotPermitted(DomainError):
    code = "forbidden"
    status = 403
    default_message = "You are not allowed to do that."


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_message = "That was not found."


class Conflict(DomainError):
    """The request clashes with the current state (already done, already reversed...)."""

    code = "conflict"
    status = 409
    default_message = "That clashes with something that already happened."


class Unprocessable(DomainError):
    """Well-formed, but the business rules refuse it (insufficient funds, limits...)."""

    code = "unprocessable"
    status = 422
    default_message = "That cannot be done."


class IdempotencyKeyReused(Unprocessable):
    """422: the request is well-formed, but its key already names a different request."""

    code = "idempotency_key_reused"
    default_message = "This idempotency key was already used for a different request."


class RequestInProgress(Conflict):
    code = "request_in_progress"
    default_message = "The same request is still being processed; try again in a moment."

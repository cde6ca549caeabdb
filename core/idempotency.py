"""HTTP idempotency: a repeated request with the same key runs once.

API clients send an ``Idempotency-Key`` header; HTML forms carry a hidden
``idempotency_key`` field minted when the form is rendered
(``{% idempotency_field %}``), so a double click or a browser resubmit sends
the same key. For the same user and key:

- same request, first one finished  -> the first response is replayed;
- same request, first one still running -> 409 ``request_in_progress`` with Retry-After;
- a different request                -> 422 ``idempotency_key_reused``.

Only successful responses (2xx/3xx) are kept; an error releases the key so a
corrected request may use it again. Because of that, a view that moves money
also passes this key on to the ledger (``ledger.services`` takes an
``idempotency_key``): even a retry after a late failure then moves nothing twice.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import RawPostDataException
from django.utils import timezone

from .errors import DomainError, IdempotencyKeyReused, RequestInProgress, ValidationFailed
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
FORM_FIELD = "idempotency_key"
KEEP_FOR = timedelta(days=7)
# A request still "in progress" after this long died with its process: let a retry run.
ABANDONED_AFTER = timedelta(minutes=5)


class IdempotencyKeyMissing(ValidationFailed):
    code = "idempotency_key_missing"
    default_message = "This request needs an Idempotency-Key header (any unique string, e.g. a UUID)."


def new_key() -> str:
    return uuid.uuid4().hex


def request_key(request: HttpRequest) -> str | None:
    key = request.headers.get(HEADER)
    if key is None and request.method == "POST":
        key = request.POST.get(FORM_FIELD)
    if key is None:
        return None
    key = key.strip()
    # Printable only: a NUL cannot be stored in PostgreSQL text (it would be a 500).
    if not key or len(key) > 200 or not key.isprintable():
        raise ValidationFailed("An idempotency key is 1–200 characters.", code="invalid_idempotency_key")
    return key


def request_fingerprint(request: HttpRequest) -> str:
    """Hash of what the request asks for: method, path and body (the CSRF token aside)."""
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    content_type = request.content_type or ""
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields = sorted(
            (name, value) for name, values in request.POST.lists() for value in values if name != "csrfmiddlewaretoken"
        )
        files = sorted((name, f.name, f.size) for name, f in request.FILES.items())
        digest.update(json.dumps([fields, files]).encode())
    else:
        try:
            digest.update(request.body)
        except RawPostDataException:  # the stream was already consumed
            digest.update(json.dumps(sorted(request.POST.items())).encode())
    return digest.hexdigest()


def _error(error: DomainError, *, retry_after: int | None = None) -> JsonResponse:
    response = JsonResponse({"error": error.as_dict()}, status=error.status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        bytes(record.response_body), status=record.response_status, content_type=record.response_content_type or None
    )
    if record.response_location:
        response["Location"] = record.response_location
    response["Idempotent-Replayed"] = "true"
    return response


def run_idempotently(request: HttpRequest, user, view, *, required: bool = False) -> HttpResponse:
    """Run ``view()`` at most once per (user, key); see the module docstring."""
    try:
        key = request_key(request)
    except ValidationFailed as error:
        return _error(error)
    if key is None:
        if required:
            return _error(IdempotencyKeyMissing())
        return view()
    fingerprint = request_fingerprint(request)
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=user,
                key=key,
                method=request.method,
                path=request.path[:500].replace("\x00", "\ufffd"),  # PostgreSQL text refuses NUL
                request_hash=fingerprint,
            )
    except IntegrityError:
        existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if existing is None:  # released by a failed first attempt in between
            return run_idempotently(request, user, view, required=required)
        if existing.request_hash != fingerprint:
            return _error(IdempotencyKeyReused())
        if existing.state == IdempotencyRecord.State.IN_PROGRESS:
            if existing.created_at < timezone.now() - ABANDONED_AFTER:
                IdempotencyRecord.objects.filter(pk=existing.pk, state=existing.state).delete()
                return run_idempotently(request, user, view, required=required)
            return _error(RequestInProgress(), retry_after=1)
        return _replay(existing)

    try:
        response = view()
        if hasattr(response, "render") and not getattr(response, "is_rendered", True):
            response.render()
    except BaseException:
        record.delete()
        raise
    if response.status_code >= 400 or getattr(response, "streaming", False):
        record.delete()  # failures are not kept: the key may be used again
        return response
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.DONE,
        response_status=response.status_code,
        response_content_type=response.get("Content-Type", ""),
        response_location=response.get("Location", ""),
        response_body=response.content,
    )
    return response


def idempotent(view_func=None, *, required: bool = False):
    """Decorate a Django view function or a DRF view method (``def post(self, request)``)."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            request = next(arg for arg in args if hasattr(arg, "method") and hasattr(arg, "user"))
            if not request.user.is_authenticated:
                return func(*args, **kwargs)  # the view's own login check answers
            django_request = getattr(request, "_request", request)
            api_view = args[0] if args and hasattr(args[0], "finalize_response") else None

            def produce():
                response = func(*args, **kwargs)
                # A DRF response can only be rendered (and so stored) once negotiated.
                return api_view.finalize_response(request, response) if api_view else response

            return run_idempotently(django_request, request.user, produce, required=required)

        return wrapper

    return decorate(view_func) if view_func is not None else decorate


def records_prune(*, now=None) -> int:
    """Forget idempotency records older than KEEP_FOR; returns how many were deleted."""
    cutoff = (now or timezone.now()) - KEEP_FOR
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted

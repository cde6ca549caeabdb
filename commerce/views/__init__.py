"""HTML pages of the marketplace (``/shop/...``), one module per area.

Thin: parse (``commerce.forms``), call ``commerce.services`` / ``commerce.selectors``, render. A
domain error is shown on the page (or as a message after a redirect) with its 4xx status;
someone else's ids are ``NotFound`` (a 404) everywhere.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render

from core.errors import DomainError, NotFound

CSS = "css/commerce.css"


def not_found(exc: NotFound | None = None):
    raise Http404(exc.message if exc is not None else "Not found.")


def error_page(request, exc: DomainError, *, template: str = "commerce/error.html", context: dict | None = None):
    """Render ``template`` with the error's message and its HTTP status (404 → Http404)."""
    if isinstance(exc, NotFound):
        raise Http404(exc.message)
    ctx = {"error": exc.message, "error_code": exc.code}
    ctx.update(context or {})
    return render(request, template, ctx, status=exc.status)


def back_with_error(request, exc: DomainError, to: str, *args, **kwargs):
    """After a refused POST: the message on the page we go back to (404 stays a 404)."""
    if isinstance(exc, NotFound):
        raise Http404(exc.message)
    messages.error(request, exc.message)
    return redirect(to, *args, **kwargs)


def query_params(params) -> dict[str, str]:
    """A plain copy of ``request.GET`` without NUL characters (last value per key).

    PostgreSQL refuses NUL in text parameters (a ``DataError``, so a 500): a search for ``%00``
    must be an ordinary empty result, never an error.
    """
    return {key: value.replace("\x00", "") for key, value in params.items()}


def page_number(request) -> int:
    raw = (request.GET.get("page") or "").strip()
    if raw.isascii() and raw.isdigit() and len(raw) <= 4:
        return max(1, int(raw))
    return 1

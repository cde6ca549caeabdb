"""Abuse limits (issue 10): how often one person may send money, ask for money, message, post
and check out, with a clear 429 and ``Retry-After`` when they go over.

One table (``SCOPES``) says which POST counts against which scope, by URL name, so the apps need
no hooks: ``RateLimitMiddleware`` limits the HTML views and ``ScopedRateThrottle`` (a DRF default
throttle class) the API views, after DRF has authenticated the caller (session or headless token).
A GET of a form, a page view or an API read is never counted, and a limited request is refused
before the view runs, so it changes nothing.

Counting: fixed windows in the Django cache (Redis in production, local memory otherwise), one
counter per scope, caller (the user, or the client IP when anonymous) and window; the limits are
``settings.RATE_LIMITS`` (``{"payments.send": "10/m,100/h", ...}``), all of a scope's windows must
allow a request, and a refused request is not counted. ``RATE_LIMITS_ENABLED`` switches it all
off (the test suite and the bench server). Sign-up, login and password reset are limited by
django-allauth (``ACCOUNT_RATE_LIMITS``); ``AllauthRetryAfterMiddleware`` adds the ``Retry-After``
and the explained page allauth's own 429 lacks.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import cache as memoize

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

# (URL name, method) -> scope. HTML names are namespaced ("payments:send_submit"), API names are not.
SCOPES: dict[tuple[str, str], str] = {
    # Sending money: the submit of every flow that pays someone.
    ("payments:send_submit", "POST"): "payments.send",
    ("payments:request_pay", "POST"): "payments.send",
    ("payments:tip_confirm", "POST"): "payments.send",
    ("payments:check_submit", "POST"): "payments.send",
    ("messaging:pay_submit", "POST"): "payments.send",
    ("messaging:escrow_submit", "POST"): "payments.send",
    ("messaging:card_request_pay", "POST"): "payments.send",
    ("api-payments", "POST"): "payments.send",
    ("api-request-pay", "POST"): "payments.send",
    ("api-tips", "POST"): "payments.send",
    # Asking for money: requests, splits and reminders (each one notifies other people).
    ("payments:request_new", "POST"): "payments.request",
    ("payments:request_remind", "POST"): "payments.request",
    ("payments:split_create", "POST"): "payments.request",
    ("messaging:request_submit", "POST"): "payments.request",
    ("messaging:split_submit", "POST"): "payments.request",
    ("api-requests", "POST"): "payments.request",
    ("api-request-remind", "POST"): "payments.request",
    ("api-splits", "POST"): "payments.request",
    # Messages (the websocket carries only typing and pings, never a message).
    ("messaging:post", "POST"): "messaging.send",
    ("messaging:start", "POST"): "messaging.send",
    ("messaging:group_new", "POST"): "messaging.send",
    ("api-conversations", "POST"): "messaging.send",
    ("api-conversation-messages", "POST"): "messaging.send",
    # Posts, replies and quotes.
    ("social:post_create", "POST"): "social.post",
    ("social:post_reply", "POST"): "social.post",
    ("social:post_quote", "POST"): "social.post",
    ("api-posts", "POST"): "social.post",
    ("api-post-replies", "POST"): "social.post",
    # Checkouts (each one holds the buyer's money in escrow).
    ("commerce:checkout_pay", "POST"): "commerce.checkout",
    ("api-checkout", "POST"): "commerce.checkout",
}

#: What a scope limits, for the 429 message ("You have been sending money too often.").
SCOPE_ACTIONS = {
    "payments.send": "sending money",
    "payments.request": "asking for money",
    "messaging.send": "sending messages",
    "social.post": "posting",
    "commerce.checkout": "checking out",
    "account.login": "signing in",
    "account.signup": "signing up",
    "account.reset_password": "asking for password resets",
}

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: int


@memoize
def parse_rates(text: str) -> tuple[Rate, ...]:
    """``"10/m,100/h"`` -> (Rate(10, 60), Rate(100, 3600)); a period may carry a count: ``"50/30m"``."""
    rates = []
    for part in text.split(","):
        amount, _, period = part.strip().partition("/")
        count = period[:-1] or "1"
        if not amount.isdigit() or not count.isdigit() or period[-1:] not in _UNITS or int(count) < 1:
            raise ValueError(f"Not a rate: {part!r} (expected e.g. '10/m', '100/h', '50/30m').")
        rates.append(Rate(int(amount), int(count) * _UNITS[period[-1]]))
    return tuple(rates)


def retry_text(seconds: int) -> str:
    """42 -> "42 seconds", 60 -> "1 minute", 3000 -> "50 minutes", 7200 -> "2 hours"."""
    if seconds < 60:
        value, unit = seconds, "second"
    elif seconds < 3600:
        value, unit = math.ceil(seconds / 60), "minute"
    else:
        value, unit = math.ceil(seconds / 3600), "hour"
    return f"{value} {unit}{'' if value == 1 else 's'}"


def limited_message(scope: str, retry_after: int) -> str:
    action = SCOPE_ACTIONS.get(scope, "doing that")
    return f"You have been {action} too often. Please try again in {retry_text(retry_after)}."


def client_ip(request: HttpRequest) -> str:
    """The caller's IP as allauth sees it (its adapter honours the trusted-proxy settings)."""
    from allauth.account.adapter import get_adapter

    try:
        ip = get_adapter().get_client_ip(request)
    except (ImproperlyConfigured, PermissionDenied):  # a forwarded-for chain shorter than configured
        ip = None
    return ip or request.META.get("REMOTE_ADDR") or "unknown"


def caller(request: HttpRequest, user) -> str:
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


def rate_limit_hit(*, scope: str, caller_id: str, now: float | None = None) -> int | None:
    """Count one attempt of ``scope`` by ``caller_id``; the seconds to wait if it is over a limit.

    A refused attempt is not counted. Racing attempts may both pass the first check; the counter
    (an atomic cache increment) then refuses whichever goes over.
    """
    rates = parse_rates(settings.RATE_LIMITS[scope])
    now = time.time() if now is None else now
    prefix = settings.RATE_LIMITS_KEY_PREFIX
    windows = []
    for rate in rates:
        window = int(now // rate.seconds)
        key = f"{prefix}:{scope}:{caller_id}:{rate.seconds}:{window}"
        retry_after = max(1, math.ceil((window + 1) * rate.seconds - now))
        windows.append((rate, key, retry_after))
    counts = cache.get_many([key for _, key, _ in windows])
    waits = [wait for rate, key, wait in windows if counts.get(key, 0) >= rate.limit]
    if waits:
        return max(waits)
    for rate, key, wait in windows:
        cache.add(key, 0, timeout=rate.seconds + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=rate.seconds + 1)
            count = 1
        if count > rate.limit:
            waits.append(wait)
    return max(waits) if waits else None


def scope_for(request: HttpRequest) -> str | None:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    scope = SCOPES.get((match.view_name, request.method))
    return scope if scope in settings.RATE_LIMITS else None


def wants_json(request: HttpRequest) -> bool:
    """The page's own scripts (fetch) read the API's error body; a browser gets the 429 page."""
    return (
        request.path.startswith("/api/")
        or request.headers.get("X-Requested-With") == "fetch"
        or ("application/json" in request.headers.get("Accept", ""))
    )


def too_many_requests(request: HttpRequest, *, scope: str, retry_after: int) -> HttpResponse:
    message = limited_message(scope, retry_after)
    if wants_json(request):
        response = JsonResponse({"error": {"code": "rate_limited", "message": message, "fields": {}}}, status=429)
    else:
        context = {"message": message, "retry_after": retry_after, "retry_text": retry_text(retry_after)}
        response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


class RateLimitMiddleware:
    """Refuses an HTML POST of a limited scope with 429 before its view runs (API views: see
    ``ScopedRateThrottle``, which runs after DRF has authenticated the caller)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not settings.RATE_LIMITS_ENABLED:
            return None
        from rest_framework.views import APIView  # not at import: DRF's settings import this module

        view_class = getattr(view_func, "cls", None)
        if isinstance(view_class, type) and issubclass(view_class, APIView):
            return None
        scope = scope_for(request)
        if scope is None:
            return None
        retry_after = rate_limit_hit(scope=scope, caller_id=caller(request, getattr(request, "user", None)))
        if retry_after is None:
            return None
        return too_many_requests(request, scope=scope, retry_after=retry_after)


class RateLimited(exceptions.Throttled):
    default_code = "rate_limited"

    def __init__(self, *, scope: str, wait: int):
        super().__init__(wait=wait, code="rate_limited")
        # DRF appends "Expected available in N seconds."; ours says what was limited, in words.
        self.detail = exceptions.ErrorDetail(limited_message(scope, wait), code="rate_limited")


class ScopedRateThrottle(BaseThrottle):
    """DRF side of ``SCOPES``: raises ``RateLimited`` (429, ``Retry-After``, code ``rate_limited``)."""

    def allow_request(self, request, view):
        if not settings.RATE_LIMITS_ENABLED:
            return True
        scope = scope_for(request)
        if scope is None:
            return True
        retry_after = rate_limit_hit(scope=scope, caller_id=caller(request._request, request.user))
        if retry_after is not None:
            raise RateLimited(scope=scope, wait=retry_after)
        return True


# --- django-allauth: sign-up, login, password reset ---------------------------------------------

#: allauth action -> our scope name for the message; keyed by the URL names allauth answers 429 on.
ALLAUTH_ACTIONS = {
    "account_login": "login",
    "account_signup": "signup",
    "account_reset_password": "reset_password",
    "account_reset_password_from_key": "reset_password_from_key",
    "login": "login",  # headless: /_allauth/<client>/v1/auth/login
    "signup": "signup",
    "request_password_reset": "reset_password",
    "reset_password": "reset_password_from_key",
}


def allauth_retry_after(request: HttpRequest, action: str) -> int:
    """Seconds until allauth lets ``action`` through again for this caller: when the oldest hit in
    each full window leaves it (allauth keeps a list of hit times per rate and caller)."""
    from allauth.account import app_settings as account_settings
    from allauth.core.internal import ratelimit as allauth_ratelimit

    config = account_settings.RATE_LIMITS or {}
    rates = allauth_ratelimit.get_rates(app="allauth.account", action=action, config=config)
    now = time.time()
    waits = []
    for rate in rates:
        if rate.per != "ip":  # per key (the e-mail) or user: the key is not at hand; use the full window
            waits.append(rate.duration)
            continue
        key = allauth_ratelimit.get_cache_key(request, app="allauth.account", action=action, rate=rate)
        history = [stamp for stamp in cache.get(key, []) if stamp > now - rate.duration]
        if len(history) >= rate.amount:
            waits.append(sorted(history, reverse=True)[rate.amount - 1] + rate.duration - now)
    if not waits:
        waits = [rate.duration for rate in rates] or [60]
    return max(1, math.ceil(max(waits)))


class AllauthRetryAfterMiddleware:
    """allauth answers 429 without ``Retry-After`` (and its page says only "too many requests"):
    add the header, and for the browser pages render our 429 page with what was limited and when
    to try again. Headless (JSON) answers keep their body and get the header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 429 or response.has_header("Retry-After"):
            return response
        match = getattr(request, "resolver_match", None)
        view = getattr(match.func, "view_class", match.func) if match is not None else None
        if view is None or not view.__module__.startswith("allauth."):
            return response
        action = ALLAUTH_ACTIONS.get(match.url_name)
        retry_after = allauth_retry_after(request, action) if action else 60
        if request.path.startswith("/_allauth/"):
            response["Retry-After"] = str(retry_after)
            return response
        scope = f"account.{action.removesuffix('_from_key')}" if action else ""
        return too_many_requests(request, scope=scope, retry_after=retry_after)

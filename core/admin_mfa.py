"""Staff MFA for the admin (issue 10): a staff member enters /admin/ only from a session that
passed multi-factor authentication (allauth.mfa: TOTP, recovery codes).

- No authenticator yet: sent to allauth's TOTP set-up page, with a message saying why.
- An authenticator, but this session never passed it (signed in at /admin/login/ with only a
  password, a session from before MFA was set up, ``force_login``): sent to allauth's MFA
  re-authentication page, which comes back to the admin page asked for.

"Passed" means allauth recorded an ``mfa`` step in this session's authentication records (it
does on an MFA login and on an MFA re-authentication). ``ADMIN_REQUIRE_MFA`` switches it off
(the test suite, whose admin tests sign in with ``force_login``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

#: DEBUG ONLY: the demo ``admin`` user's TOTP secret (seed_demo), public so a reviewer can sign in.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105 - a published demo value

# Admin pages a signed-in staff member may open without MFA (leaving is always allowed).
_FREE_URL_NAMES = {"logout"}


def session_passed_mfa(request, user) -> bool:
    """Whether this session recorded an MFA step for ``user`` (login or re-authentication)."""
    from allauth.account.internal.flows.login import get_authentication_records

    return any(record.get("method") == "mfa" for record in get_authentication_records(request, user))


def demo_code() -> str:
    """The demo admin's current 6-digit code (development only: the secret is public)."""
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time

    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(DEMO_TOTP_SECRET, counters[len(counters) // 2]))


class AdminMFAMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not settings.ADMIN_REQUIRE_MFA:
            return None
        match = request.resolver_match
        if match is None or "admin" not in match.namespaces or match.url_name in _FREE_URL_NAMES:
            return None
        user = getattr(request, "user", None)
        if user is None or not (user.is_authenticated and user.is_active and user.is_staff):
            return None  # the admin's own login and permission checks handle everyone else
        from allauth.mfa.utils import is_mfa_enabled

        back = urlencode({"next": request.get_full_path()})
        if not is_mfa_enabled(user):
            messages.warning(
                request,
                "Staff accounts must use two-factor authentication to enter the admin. Set up an "
                "authenticator app here, then open the admin again.",
            )
            return HttpResponseRedirect(f"{reverse('mfa_activate_totp')}?{back}")
        if session_passed_mfa(request, user):
            return None
        messages.info(
            request,
            "The admin needs your authenticator code: this session has not confirmed it yet.",
        )
        return HttpResponseRedirect(f"{reverse('mfa_reauthenticate')}?{back}")

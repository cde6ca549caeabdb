"""HTML views of the accounts app: thin — parse, call a service, render."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError, NotFound, ValidationFailed

from . import selectors, services, social
from .forms import ProfileForm

BLOCKED_PAGE_SIZE = 50


@login_required
@require_http_methods(["GET", "POST"])
def settings_view(request):
    user = request.user
    if request.method == "POST":
        # The form validates a copy, so a refused change never shows up in the nav.
        form = ProfileForm(request.POST, request.FILES, instance=copy.copy(user))
        if form.is_valid():
            try:
                services.profile_update(user, **form.profile_changes())
            except ValidationFailed as exc:
                for field, errors in (exc.fields or {None: [exc.message]}).items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, "Your profile is saved.")
                return redirect("accounts:settings")
    else:
        form = ProfileForm(instance=user)
    return render(request, "accounts/settings.html", {"form": form})


# ---- the public profile and the social graph's buttons -----------------------------------


@require_GET
def profile(request, handle: str):
    """``/@handle``: anyone's public profile; the buttons depend on who is looking."""
    try:
        shown = selectors.profile_for(handle, request.user)
    except NotFound:
        raise Http404("There is no one with that handle.") from None
    if handle != shown.user.handle:  # /@Alice and /@alice are one page: keep one address
        return redirect("profile", handle=shown.user.handle, permanent=True)
    return render(request, "accounts/profile.html", {"profile": shown, "person": shown.user})


def _profile_action(request, handle: str, action, done: str, *, active_only: bool = True):
    """POST-only: sign-in first, act through ``accounts.social``, then go back where the form said."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("profile", kwargs={"handle": handle}))
    try:
        other = selectors.user_for_handle(handle, active_only=active_only)
    except NotFound:
        raise Http404("There is no one with that handle.") from None
    try:
        action(request.user, other)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done.format(handle=other.handle))
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    if not other.is_active:
        return redirect("accounts:blocked")
    return redirect("profile", handle=other.handle)


@require_POST
def follow(request, handle: str):
    return _profile_action(
        request, handle, lambda me, other: social.follow_create(me, followee=other), "You follow @{handle} now."
    )


@require_POST
def unfollow(request, handle: str):
    return _profile_action(
        request,
        handle,
        lambda me, other: social.follow_delete(me, followee=other),
        "You unfollowed @{handle}.",
        active_only=False,
    )


@require_POST
def block(request, handle: str):
    return _profile_action(
        request,
        handle,
        lambda me, other: social.block_create(me, blocked=other),
        "You blocked @{handle}. They can't message you, pay you or request money from you.",
    )


@require_POST
def unblock(request, handle: str):
    return _profile_action(
        request,
        handle,
        lambda me, other: social.block_delete(me, blocked=other),
        "You unblocked @{handle}.",
        active_only=False,
    )


@login_required
@require_GET
def blocked_list(request):
    """``/settings/blocked/``: the people you blocked, newest first, each with Unblock."""
    page = Paginator(selectors.blocks_made_by(request.user), BLOCKED_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/blocked.html", {"page": page, "blocks": page.object_list})

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
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError, NotFound, ValidationFailed
from core.http import safe_next

from . import selectors, services, social
from .forms import ProfileForm

BLOCKED_PAGE_SIZE = 50
PEOPLE_PAGE_SIZE = 50
REQUESTS_PAGE_SIZE = 50


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


# ---- the social graph's buttons (the profile page itself is social.views.profile) -----------------------------------


def _profile_action(request, handle: str, action, done: str, *, active_only: bool = True):
    """POST-only: sign-in first, act through ``accounts.social``, then go back where the form said."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("profile", kwargs={"handle": handle}))
    try:
        other = selectors.user_for_handle(handle, active_only=active_only)
    except NotFound:
        raise Http404("There is no one with that handle.") from None
    try:
        said = action(request.user, other)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, (said if isinstance(said, str) else done).format(handle=other.handle))
    back = safe_next(request, "")
    if back:
        return redirect(back)
    if not other.is_active:
        return redirect("accounts:blocked")
    return redirect("profile", handle=other.handle)


@require_POST
def follow(request, handle: str):
    """Follow, or (a protected account) send a follow request; the message says which."""

    def act(me, other):
        result = social.follow_start(me, followee=other)
        return "Follow request sent to @{handle}." if result.status == social.REQUESTED else None

    return _profile_action(request, handle, act, "You follow @{handle} now.")


@require_POST
def unfollow(request, handle: str):
    """Unfollow, or withdraw a pending follow request (the Cancel of a "Requested" button)."""

    def act(me, other):
        withdrawn = selectors.has_requested(me, other)
        social.follow_delete(me, followee=other)
        return "Your follow request to @{handle} is cancelled." if withdrawn else None

    return _profile_action(request, handle, act, "You unfollowed @{handle}.", active_only=False)


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


# ---- follow requests (protected accounts) ----------------------------------------------------


@login_required
@require_GET
def follow_requests(request):
    """``/settings/follow-requests/``: who asks to follow you, newest first, each with Approve/Decline."""
    page = Paginator(selectors.follow_requests_for(request.user), REQUESTS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/follow_requests.html", {"page": page, "follow_requests": page.object_list})


def _request_decision(request, handle: str, action, done: str):
    try:
        requester = selectors.user_for_handle(handle, active_only=False)
    except NotFound:
        raise Http404("There is no one with that handle.") from None
    try:
        action(request.user, requester)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done.format(handle=requester.handle))
    return redirect("accounts:follow_requests")


@login_required
@require_POST
def follow_request_approve(request, handle: str):
    return _request_decision(
        request,
        handle,
        lambda me, requester: social.follow_request_approve(me, requester=requester),
        "@{handle} follows you now.",
    )


@login_required
@require_POST
def follow_request_decline(request, handle: str):
    return _request_decision(
        request,
        handle,
        lambda me, requester: social.follow_request_decline(me, requester=requester),
        "You declined @{handle}'s request.",
    )


# ---- followers / following lists -------------------------------------------------------------


def _people_page(request, handle: str, *, which: str):
    try:
        shown = selectors.profile_for(handle, request.user)
    except NotFound:
        raise Http404("There is no one with that handle.") from None
    if handle != shown.user.handle:
        return redirect(f"profile_{which}", handle=shown.user.handle, permanent=True)
    context = {"profile": shown, "person": shown.user, "which": which}
    if not shown.connections_visible:
        # Protected (and not an approved follower) or blocked either way: the same page, never the list.
        return render(request, "accounts/people_private.html", context, status=403)
    people = selectors.followers_people if which == "followers" else selectors.following_people
    page = Paginator(people(shown.user, request.user), PEOPLE_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [selectors.profile_from_row(user, request.user) for user in page.object_list]
    return render(request, "accounts/people.html", {**context, "page": page, "people": rows})


@require_GET
def followers(request, handle: str):
    """``/@handle/followers``: who follows them (private for protected accounts and blocks)."""
    return _people_page(request, handle, which="followers")


@require_GET
def following(request, handle: str):
    """``/@handle/following``: who they follow (same rules as the followers list)."""
    return _people_page(request, handle, which="following")

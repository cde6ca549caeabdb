"""``/@handle``: a person's profile with their posts (tabs Posts / Replies, keyset pages).

The header is accounts' (name, bio, link, counts, follow/message/pay/block buttons and
their rules); the posts come from ``social.selectors.profile_posts``, which already hides
a protected account's posts from people who are not approved followers, and everything
across a block. The page says why when it shows no posts.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts.models import User
from accounts.selectors import annotate_profiles, normalise_handle, profile_from_row
from core.errors import ValidationFailed

from .. import selectors
from . import posts as posts_views
from .posts import cards_prepare

TABS = ("posts", "replies")


def _profile(handle: str, viewer):
    """accounts' ``profile_for`` with the creator profile loaded in the same query (the Tip partials read it)."""
    normalised = normalise_handle(handle)
    if normalised is None:
        raise Http404("There is no one with that handle.")
    row = annotate_profiles(
        User.objects.filter(handle=normalised, is_active=True).select_related("creator"), viewer
    ).first()
    if row is None:
        raise Http404("There is no one with that handle.")
    return profile_from_row(row, viewer)


@require_GET
def profile(request, handle: str):
    """Anyone's profile; the buttons depend on who is looking, the posts on what they may see."""
    shown = _profile(handle, request.user)
    person = shown.user
    if handle != person.handle:  # /@Alice and /@alice are one page: keep one address
        return redirect("profile", handle=person.handle, permanent=True)
    tab = request.GET.get("tab") if request.GET.get("tab") in TABS else "posts"
    before = request.GET.get("before")
    protected = person.is_protected and not shown.is_self and not shown.is_following
    posts, next_before = [], None
    if not protected and not shown.blocked_either_way:
        try:
            page = selectors.profile_posts(
                request.user, person, before=before, replies=tab == "replies", limit=posts_views.PAGE_SIZE
            )
        except ValidationFailed:
            return redirect("profile", handle=person.handle)
        posts, next_before = cards_prepare(request.user, page.posts), page.next_before
    context = {
        "profile": shown,
        "person": person,
        "viewer": request.user,
        "tab": tab,
        "posts": posts,
        "next_before": next_before,
        "protected": protected,
        "pager_base": "?tab=replies&" if tab == "replies" else "?",
        "first_page": not before,
    }
    return render(request, "social/profile.html", context)

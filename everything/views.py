"""Pages that belong to no one app: the home page stitches the kernel apps together."""

from __future__ import annotations

from django.shortcuts import render


def home(request):
    """Anonymous: what Everything is. Signed in: the home timeline (compose box, posts, a small sidebar)."""
    if not request.user.is_authenticated:
        return render(request, "home.html", {"landing": True})
    from social.views.posts import timeline

    return timeline(request)

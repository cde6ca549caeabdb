"""Pages that belong to no one app: the home page stitches the kernel apps together."""

from __future__ import annotations

from django.shortcuts import render

from ledger.selectors import balances_for_owner


def home(request):
    """Anonymous: what Everything is. Signed in: greeting, balances, latest notifications."""
    if not request.user.is_authenticated:
        return render(request, "home.html", {"landing": True})
    user = request.user
    context = {
        "balances": balances_for_owner(owner=user),
        "recent_notifications": list(user.notifications.order_by("-id")[:5]),
    }
    return render(request, "home.html", context)

"""``messaging_unread_count`` for the nav's Messages badge (#nav-message-badge)."""

from __future__ import annotations

from .selectors import unread_conversations_count


def unread(request):
    """The number of accepted, unmuted conversations with unread messages, for signed-in users.

    Lazy and memoised: the query runs only if a template reads the value, once per request.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count() -> int:
        cached = getattr(request, "_messaging_unread", None)
        if cached is None:
            cached = request._messaging_unread = unread_conversations_count(user)
        return cached

    return {"messaging_unread_count": count}

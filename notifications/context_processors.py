"""Template context for the live badge and live.js's starting point."""

from __future__ import annotations

from .selectors import live_state


def live(request):
    """``live_unread_count`` and ``live_last_notification_id`` for signed-in users (one query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    state = getattr(request, "_live_state", None)
    if state is None:  # memoised: a request may render several templates
        state = request._live_state = live_state(user)
    return {
        "live_unread_count": state["unread_count"],
        "live_last_notification_id": state["last_notification_id"],
    }

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from accounts.signals import user_followed

from .services import notify, sockets_close_for_session


@receiver(user_logged_out, dispatch_uid="notifications.close_sockets_on_logout")
def close_sockets_on_logout(sender, request, user, **kwargs):
    """A logged-out session's open sockets stop receiving that user's events at once."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        sockets_close_for_session(session_key)


@receiver(user_followed, dispatch_uid="notifications.follow_new")
def notify_new_follower(sender, *, follower, followee, **kwargs):
    """Tell someone they have a new follower (persisted, pushed on commit)."""
    notify(followee, kind="follow.new", data={"follower": f"@{follower.handle}", "url": f"/@{follower.handle}"})

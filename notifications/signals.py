from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from accounts.signals import follow_request_approved, follow_requested, user_followed

from .models import register_kind
from .services import notify, sockets_close_for_session

register_kind("follow.request", "{requester} asked to follow you")
register_kind("follow.approved", "{target} approved your follow request")


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


@receiver(follow_requested, dispatch_uid="notifications.follow_request")
def notify_follow_request(sender, *, requester, target, **kwargs):
    """Tell a protected account someone asks to follow them (with where to approve)."""
    notify(
        target,
        kind="follow.request",
        data={"requester": f"@{requester.handle}", "url": "/settings/follow-requests/"},
    )


@receiver(follow_request_approved, dispatch_uid="notifications.follow_approved")
def notify_follow_approved(sender, *, requester, target, **kwargs):
    """Tell someone their follow request was approved."""
    notify(requester, kind="follow.approved", data={"target": f"@{target.handle}", "url": f"/@{target.handle}"})

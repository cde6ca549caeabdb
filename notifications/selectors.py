"""Reads of notifications. Each is one query on the (recipient, -id) or unread index."""

from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet, Window

from .models import Notification


def notifications_for(user) -> QuerySet[Notification]:
    """The user's notifications, newest first."""
    return Notification.objects.filter(recipient=user).order_by("-id")


def unread_count(user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def last_notification_id(user) -> int:
    """The highest notification id the user has (0 if none): where live.js starts."""
    return Notification.objects.filter(recipient=user).aggregate(last=Max("id"))["last"] or 0


def live_state(user) -> dict[str, int]:
    """Unread count and last notification id in one query."""
    row = Notification.objects.filter(recipient=user).aggregate(
        unread=Count("id", filter=Q(read_at__isnull=True)), last=Max("id")
    )
    return {"unread_count": row["unread"] or 0, "last_notification_id": row["last"] or 0}


def recent_with_live_state(user, limit: int = 5) -> tuple[list[Notification], dict[str, int]]:
    """The user's ``limit`` newest notifications and ``live_state``, in one query.

    The counts are window aggregates over all the user's rows (computed before the LIMIT), so
    a page that shows the latest notifications also gets the nav badge without a second query.
    """
    rows = list(
        Notification.objects.filter(recipient=user)
        .annotate(
            live_unread=Window(Count("id", filter=Q(read_at__isnull=True))),
            live_last=Window(Max("id")),
        )
        .order_by("-id")[:limit]
    )
    if not rows:
        return [], {"unread_count": 0, "last_notification_id": 0}
    return rows, {"unread_count": rows[0].live_unread or 0, "last_notification_id": rows[0].live_last or 0}

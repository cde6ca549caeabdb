"""Reads of notifications. Each is one query on the (recipient, -id) or unread index."""

from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet

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

"""Persisted notifications: the database row is the truth, the socket only the fast path."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.http import url_has_allowed_host_and_scheme

# kind -> human text, formatted with the notification's data. Apps add their kinds here
# (or call ``register_kind``) when they start sending them; unknown kinds fall back.
TITLES: dict[str, str] = {
    "welcome": "Welcome to Everything, {name}!",
    "payment.received": "{sender} sent you {amount}",
    "request.new": "{sender} requested {amount}",
    "message.new": "New message from {sender}",
    "follow.new": "{follower} started following you",
    "order.updated": "Your order {order} was updated",
}
FALLBACK_TITLE = "You have a new notification"


def register_kind(kind: str, title: str) -> None:
    """Let an app declare the human title of a notification kind it sends."""
    TITLES[kind] = title


class _Blank(dict):
    """Format mapping that leaves missing keys out instead of failing."""

    def __missing__(self, key):
        return ""


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["recipient", "-id"], name="notif_recipient_id_idx"),
            models.Index(
                fields=["recipient"],
                condition=models.Q(read_at__isnull=True),
                name="notif_recipient_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    @property
    def title(self) -> str:
        data = self.data if isinstance(self.data, dict) else {}
        if data.get("title"):
            return str(data["title"])
        template = TITLES.get(self.kind)
        if not template:
            return FALLBACK_TITLE
        try:
            text = template.format_map(_Blank(data))
        except (ValueError, IndexError, AttributeError, KeyError):
            return FALLBACK_TITLE
        return " ".join(text.split()) or FALLBACK_TITLE

    @property
    def url(self) -> str:
        data = self.data if isinstance(self.data, dict) else {}
        url = data.get("url") or ""
        # Only local paths: a notification must never link off-site.
        if not isinstance(url, str) or not url.startswith("/"):
            return ""
        return url if url_has_allowed_host_and_scheme(url, allowed_hosts=set()) else ""

"""Notifications and live events (DESIGN §4).

Everything pushed is persisted first and pushed in ``transaction.on_commit``: the
socket is only the fast path, the database row is the truth. A client that missed
a push catches up through ``GET /api/v1/notifications/?after=<id>``.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from .models import Notification
from .selectors import unread_count

logger = logging.getLogger(__name__)


def user_group_name(user_id: int) -> str:
    """The channel-layer group every socket of one user joins."""
    return f"user.{int(user_id)}"


def session_group_name(session_key: str) -> str:
    """The group of the sockets opened by one login session (closed when it logs out)."""
    return f"session.{hashlib.sha256(session_key.encode()).hexdigest()[:32]}"


def sockets_close_for_session(session_key: str) -> None:
    """Close every socket opened by this session, e.g. when it logs out. Best effort."""
    try:
        async_to_sync(get_channel_layer().group_send)(session_group_name(session_key), {"type": "session.ended"})
    except Exception:
        logger.exception("could not close the sockets of a logged-out session")


def _send_now(user_id: int, event: dict[str, Any]) -> None:
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        async_to_sync(layer.group_send)(user_group_name(user_id), {"type": "user.event", "event": event})
    except Exception:  # the socket is best effort; the client catches up over REST
        logger.exception("live event %s for user %s was not pushed", event.get("type"), user_id)


def event_publish(*, user_id: int, type: str, data: dict, id: int | None = None) -> None:
    """Push ``{"id", "type", "data"}`` to every socket of ``user_id`` once the transaction commits.

    Guarantees: nothing is sent from a transaction that rolls back; outside a transaction
    it is sent at once. Channel-layer failures are logged and swallowed, never raised:
    whatever the event announces must already be persisted where the client can fetch it.
    Any app may call it.
    """
    event = {"id": id, "type": type, "data": data}
    transaction.on_commit(lambda: _send_now(user_id, event))


def notification_serialize(notification: Notification) -> dict[str, Any]:
    """The JSON form shared by the socket and the API."""
    return {
        "id": notification.id,
        "kind": notification.kind,
        "title": notification.title,
        "data": notification.data,
        "url": notification.url,
        "created_at": notification.created_at.isoformat() if notification.created_at else None,
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
    }


def notify(recipient, *, kind: str, data: dict | None = None) -> Notification:
    """Tell ``recipient`` something happened.

    Atomic: the notification is persisted first (inside the caller's transaction, if
    any), then a ``notification.new`` event is pushed to the recipient's sockets on
    commit. If the surrounding transaction rolls back, there is neither a row nor a push.
    Any app may call it.
    """
    with transaction.atomic():
        notification = Notification.objects.create(recipient=recipient, kind=kind, data=data or {})
        event_publish(
            user_id=notification.recipient_id,
            type="notification.new",
            id=notification.id,
            data=notification_serialize(notification),
        )
    return notification


def notifications_mark_read(
    user,
    *,
    ids: list[int] | None = None,
    up_to_id: int | None = None,
    all: bool = False,
) -> int:
    """Mark some of ``user``'s unread notifications read; returns how many changed.

    Exactly one of ``ids`` (those rows), ``up_to_id`` (every row with id <= it) or
    ``all=True``. Only the user's own rows are touched: other people's ids are
    silently ignored. Atomic; on commit a ``notification.read`` event carrying the
    new ``unread_count`` is pushed so the user's other tabs update their badge.
    """
    chosen = sum([ids is not None, up_to_id is not None, bool(all)])
    if chosen != 1:
        raise ValueError("Give exactly one of ids, up_to_id or all=True.")
    rows = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(id__in=list(ids))
    elif up_to_id is not None:
        rows = rows.filter(id__lte=up_to_id)
    with transaction.atomic():
        updated = rows.update(read_at=timezone.now())
        if updated:
            event_publish(
                user_id=user.pk,
                type="notification.read",
                data={
                    "unread_count": unread_count(user),
                    "ids": list(ids) if ids is not None else None,
                    "up_to_id": up_to_id,
                    "all": bool(all),
                },
            )
    return updated

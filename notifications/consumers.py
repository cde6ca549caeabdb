"""The user's websocket at /ws/ (DESIGN §4): one per tab, session-authenticated."""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .inbound import inbound_handler
from .services import session_group_name, user_group_name

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401


class UserConsumer(AsyncJsonWebsocketConsumer):
    """Joins only the signed-in user's own group and relays its events as JSON.

    Server -> client: ``{"id", "type", "data"}``. Client -> server: ``{"type": "ping"}``
    is answered with ``{"type": "pong"}``; other types go to the handler an app
    registered (``notifications.inbound``, e.g. messaging's ``typing``); unknown
    types are ignored.
    """

    group_name: str | None = None
    session_group: str | None = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept first so the browser sees our close code rather than a failed handshake.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group_name = user_group_name(user.pk)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        session = self.scope.get("session")
        if session is not None and session.session_key:
            # Logging out of this session closes this socket (see notifications.signals).
            self.session_group = session_group_name(session.session_key)
            await self.channel_layer.group_add(self.session_group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)
            self.group_name = None
        if self.session_group:
            await self.channel_layer.group_discard(self.session_group, self.channel_name)
            self.session_group = None

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        # Malformed JSON or binary frames are ignored instead of killing the socket.
        if text_data is None:
            return
        try:
            content = await self.decode_json(text_data)
        except ValueError:
            return
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content, **kwargs):
        if not self.group_name:
            return
        if not isinstance(content, dict):
            return
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})
            return
        handler = inbound_handler(content.get("type"))
        if handler is None:
            return
        try:
            await sync_to_async(handler)(self.scope["user"], content)
        except Exception:  # a bad frame never kills the socket
            logger.exception("socket message %r failed", content.get("type"))

    async def user_event(self, event):
        await self.send_json(event["event"])

    async def session_ended(self, event):
        await self.close(code=CLOSE_UNAUTHENTICATED)

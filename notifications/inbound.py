"""Client -> server socket messages handled by apps above notifications (DESIGN §2).

notifications cannot import messaging, so an app registers a handler for a
message type in its ``AppConfig.ready()``::

    from notifications.inbound import register_inbound
    register_inbound("typing", handle_typing)

A handler is a plain synchronous function ``handler(user, content: dict) -> None``
(run in a worker thread); it must check permissions itself and must not raise for
bad input (errors are logged and swallowed: a socket never dies of a bad frame).
"""

from __future__ import annotations

from collections.abc import Callable

InboundHandler = Callable[[object, dict], None]

_HANDLERS: dict[str, InboundHandler] = {}


def register_inbound(message_type: str, handler: InboundHandler) -> None:
    _HANDLERS[message_type] = handler


def inbound_handler(message_type: object) -> InboundHandler | None:
    if not isinstance(message_type, str):
        return None
    return _HANDLERS.get(message_type)

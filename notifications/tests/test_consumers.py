"""The /ws/ socket through the real ASGI application (origin check, session auth, routing).

The consumer reads the session from another thread, hence transactional databases.
With REDIS_URL set, settings pick the Redis channel layer and these same tests run on it.
"""

import os

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from everything.asgi import application
from notifications.services import event_publish, notify

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def socket(cookie: bytes | None = None, headers=ORIGIN) -> WebsocketCommunicator:
    """A communicator for /ws/; ``cookie`` from ``session_cookie`` (made outside the event loop)."""
    headers = list(headers)
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/", headers=headers)


def test_anonymous_socket_is_closed_with_4401():
    async def scenario():
        ws = socket()
        connected, _ = await ws.connect()
        closed = await ws.receive_output(timeout=2)
        await ws.wait()
        return connected, closed

    connected, closed = async_to_sync(scenario)()
    assert connected  # accepted first, so the browser sees the close code
    assert closed == {"type": "websocket.close", "code": 4401}


def test_foreign_origin_is_refused(alice):
    cookie = session_cookie(alice)

    async def scenario():
        ws = socket(cookie, headers=[(b"origin", b"https://evil.example"), (b"host", b"localhost")])
        connected, _ = await ws.connect()
        await ws.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


def test_a_users_notification_reaches_their_socket_and_not_anothers(alice, bob):
    alice_cookie, bob_cookie = session_cookie(alice), session_cookie(bob)

    async def scenario():
        ws_alice, ws_alice_other_tab, ws_bob = socket(alice_cookie), socket(alice_cookie), socket(bob_cookie)
        for ws in (ws_alice, ws_alice_other_tab, ws_bob):
            connected, _ = await ws.connect()
            assert connected
        notification = await database_sync_to_async(notify)(
            alice, kind="payment.received", data={"sender": "@bob", "amount": "$2.50"}
        )
        got = await ws_alice.receive_json_from(timeout=2)
        got_other_tab = await ws_alice_other_tab.receive_json_from(timeout=2)
        bob_got_nothing = await ws_bob.receive_nothing(timeout=0.5)
        for ws in (ws_alice, ws_alice_other_tab, ws_bob):
            await ws.disconnect()
        return notification, got, got_other_tab, bob_got_nothing

    notification, got, got_other_tab, bob_got_nothing = async_to_sync(scenario)()
    assert got == got_other_tab
    assert got["id"] == notification.id
    assert got["type"] == "notification.new"
    assert got["data"]["title"] == "@bob sent you $2.50"
    assert bob_got_nothing is True


def test_ping_pong_and_unknown_messages_are_ignored(alice):
    cookie = session_cookie(alice)

    async def scenario():
        ws = socket(cookie)
        await ws.connect()
        await ws.send_json_to({"type": "subscribe-to-everyone", "user": 1})
        await ws.send_to(text_data="not json at all")
        await ws.send_json_to(["a", "list"])
        silent = await ws.receive_nothing(timeout=0.3)
        await ws.send_json_to({"type": "ping"})
        pong = await ws.receive_json_from(timeout=2)
        await ws.disconnect()
        return silent, pong

    silent, pong = async_to_sync(scenario)()
    assert silent is True
    assert pong == {"type": "pong"}


def test_disconnected_socket_leaves_the_group(alice):
    cookie = session_cookie(alice)

    async def scenario():
        ws = socket(cookie)
        await ws.connect()
        await ws.disconnect()
        # A fresh listener is the only member left: it gets the event, nothing errors.
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(f"user.{alice.id}", channel)
        await database_sync_to_async(event_publish)(user_id=alice.id, type="ping.test", data={})
        return await layer.receive(channel)

    message = async_to_sync(scenario)()
    assert message["event"]["type"] == "ping.test"
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):  # the socket's channel is gone from the group
        assert len(layer.groups.get(f"user.{alice.id}", {})) == 1


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_redis_channel_layer_is_used_when_redis_url_is_set():
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    assert isinstance(get_channel_layer(), (RedisChannelLayer, RedisPubSubChannelLayer))


def test_logging_out_closes_that_sessions_sockets_only(alice):
    from django.contrib.auth import logout
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory

    client = Client()
    client.force_login(alice)
    session_key = client.cookies["sessionid"].value
    cookie = f"sessionid={session_key}".encode()
    other_cookie = session_cookie(alice)  # the same person logged in elsewhere

    def log_out():
        request = RequestFactory().post("/accounts/logout/")
        request.session = SessionStore(session_key)
        request.user = alice
        logout(request)

    async def scenario():
        ws, ws_elsewhere = socket(cookie), socket(other_cookie)
        await ws.connect()
        await ws_elsewhere.connect()
        await database_sync_to_async(log_out)()
        closed = await ws.receive_output(timeout=2)
        elsewhere_open = await ws_elsewhere.receive_nothing(timeout=0.3)
        await ws_elsewhere.disconnect()
        return closed, elsewhere_open

    closed, elsewhere_open = async_to_sync(scenario)()
    assert closed == {"type": "websocket.close", "code": 4401}
    assert elsewhere_open is True

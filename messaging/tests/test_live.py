"""Messaging over the real /ws/ socket: events reach the conversation's members and no one else.

Three people: ann and ben share a conversation, cat does not. Each has a socket
through ``everything.asgi.application`` (origin check, session auth, routing).
With REDIS_URL set, settings pick the Redis channel layer and these same tests run
on it. The consumer reads the session in another thread, hence transactional
databases (events are published on commit, which is at once here).
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from accounts.models import Follow
from accounts.tests.factories import UserFactory
from everything.asgi import application
from messaging import services

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
WAIT = 3  # seconds to wait for an event that must come
QUIET = 0.4  # seconds of silence that count as "nothing came"


@pytest.fixture(autouse=True)
def _fresh_in_memory_layer():
    """The in-memory layer is process-global: empty it so one test's events never leak into another."""
    yield
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        async_to_sync(layer.flush)()


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def socket(cookie: bytes) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/", headers=[*ORIGIN, (b"cookie", cookie)])


@pytest.fixture
def people():
    ann, ben, cat = (UserFactory(handle=f"{h}_live", display_name=h.title()) for h in ("ann", "ben", "cat"))
    Follow.objects.create(follower=ben, followee=ann)
    conversation = services.conversation_direct_open(ann, other=ben)
    return ann, ben, cat, conversation


async def connect(*cookies: bytes) -> list[WebsocketCommunicator]:
    sockets = []
    for cookie in cookies:
        ws = socket(cookie)
        connected, _ = await ws.connect()
        assert connected
        sockets.append(ws)
    return sockets


async def next_event(ws: WebsocketCommunicator, type_: str) -> dict:
    """The next event of ``type_`` (skipping others, e.g. conversation.updated)."""
    while True:
        event = await ws.receive_json_from(timeout=WAIT)
        if event.get("type") == type_:
            return event


async def close(*sockets: WebsocketCommunicator) -> None:
    for ws in sockets:
        await ws.disconnect()


def test_a_message_reaches_every_member_tab_and_not_a_stranger(people):
    ann, ben, cat, conversation = people
    cookies = session_cookie(ann), session_cookie(ben), session_cookie(ben), session_cookie(cat)

    async def scenario():
        ws_ann, ws_ben, ws_ben_tab2, ws_cat = await connect(*cookies)
        message = await database_sync_to_async(services.message_post)(ann, conversation=conversation, body="hi ben")
        got_ben = await next_event(ws_ben, "message.new")
        got_ben_tab2 = await next_event(ws_ben_tab2, "message.new")
        got_ann = await next_event(ws_ann, "message.new")  # the sender's other tabs show it too
        cat_silent = await ws_cat.receive_nothing(timeout=QUIET)
        await close(ws_ann, ws_ben, ws_ben_tab2, ws_cat)
        return message, got_ben, got_ben_tab2, got_ann, cat_silent

    message, got_ben, got_ben_tab2, got_ann, cat_silent = async_to_sync(scenario)()
    assert got_ben == got_ben_tab2 == got_ann
    assert got_ben["id"] == message.pk
    assert got_ben["data"]["conversation"] == conversation.pk
    assert got_ben["data"]["body"] == "hi ben"
    assert got_ben["data"]["sender"]["handle"] == "ann_live"
    assert cat_silent is True


def test_typing_reaches_the_other_members_only(people):
    ann, ben, cat, conversation = people
    cookies = session_cookie(ann), session_cookie(ben), session_cookie(cat)

    async def scenario():
        ws_ann, ws_ben, ws_cat = await connect(*cookies)
        await ws_ann.send_json_to({"type": "typing", "conversation": conversation.pk})
        got_ben = await next_event(ws_ben, "typing")
        ann_silent = await ws_ann.receive_nothing(timeout=QUIET)  # not echoed to the typist
        cat_silent = await ws_cat.receive_nothing(timeout=QUIET)
        # A stranger "typing" in someone else's conversation reaches no one, and is not an error.
        await ws_cat.send_json_to({"type": "typing", "conversation": conversation.pk})
        await ws_cat.send_json_to({"type": "typing", "conversation": "nonsense"})
        await ws_cat.send_json_to({"type": "typing"})
        quiet_after_stranger = [await ws.receive_nothing(timeout=QUIET) for ws in (ws_ann, ws_ben, ws_cat)]
        await ws_cat.send_json_to({"type": "ping"})
        pong = await ws_cat.receive_json_from(timeout=WAIT)  # cat's socket is still alive
        await close(ws_ann, ws_ben, ws_cat)
        return got_ben, ann_silent, cat_silent, quiet_after_stranger, pong

    got_ben, ann_silent, cat_silent, quiet_after_stranger, pong = async_to_sync(scenario)()
    assert got_ben["type"] == "typing"
    assert got_ben["data"] == {"conversation": conversation.pk, "user": ann.pk, "handle": "ann_live", "name": "Ann"}
    assert ann_silent is True and cat_silent is True
    assert quiet_after_stranger == [True, True, True]
    assert pong == {"type": "pong"}


def test_read_receipts_reach_the_members_only(people):
    ann, ben, cat, conversation = people
    message = services.message_post(ann, conversation=conversation, body="read me")
    cookies = session_cookie(ann), session_cookie(cat)

    async def scenario():
        ws_ann, ws_cat = await connect(*cookies)
        await database_sync_to_async(services.conversation_mark_read)(ben, conversation=conversation)
        got_ann = await next_event(ws_ann, "message.read")
        cat_silent = await ws_cat.receive_nothing(timeout=QUIET)
        await close(ws_ann, ws_cat)
        return got_ann, cat_silent

    got_ann, cat_silent = async_to_sync(scenario)()
    assert got_ann["data"]["conversation"] == conversation.pk
    assert got_ann["data"]["user"] == ben.pk
    assert got_ann["data"]["last_read_message_id"] == message.pk
    assert cat_silent is True


def test_edits_deletions_and_reactions_reach_the_members_only(people):
    ann, ben, cat, conversation = people
    message = services.message_post(ann, conversation=conversation, body="draft")
    cookies = session_cookie(ben), session_cookie(cat)

    async def scenario():
        ws_ben, ws_cat = await connect(*cookies)
        await database_sync_to_async(services.message_edit)(ann, message=message, body="final")
        edited = await next_event(ws_ben, "message.updated")
        await database_sync_to_async(services.reaction_toggle)(ann, message=message, emoji="👍")
        reacted = await next_event(ws_ben, "message.updated")
        await database_sync_to_async(services.message_delete)(ann, message=message)
        deleted = await next_event(ws_ben, "message.updated")
        cat_silent = await ws_cat.receive_nothing(timeout=QUIET)
        await close(ws_ben, ws_cat)
        return edited, reacted, deleted, cat_silent

    edited, reacted, deleted, cat_silent = async_to_sync(scenario)()
    assert edited["data"]["body"] == "final" and edited["data"]["edited_at"]
    assert reacted["data"]["reactions"] == [{"emoji": "👍", "count": 1, "user_ids": [ann.pk]}]
    assert deleted["data"]["deleted"] is True and deleted["data"]["body"] == ""
    assert cat_silent is True


def test_a_removed_group_member_stops_receiving(people):
    ann, ben, cat, _ = people
    Follow.objects.create(follower=cat, followee=ann)
    group = services.conversation_group_create(ann, name="Crew", members=[ben, cat])
    cookies = session_cookie(ben), session_cookie(cat)

    async def scenario():
        ws_ben, ws_cat = await connect(*cookies)
        await database_sync_to_async(services.message_post)(ann, conversation=group, body="everyone")
        ben_first = await next_event(ws_ben, "message.new")
        cat_first = await next_event(ws_cat, "message.new")
        await database_sync_to_async(services.group_member_remove)(ann, conversation=group, member=cat)
        # ben sees the "removed" notice; drain cat's socket of the removal's own events.
        await next_event(ws_ben, "message.new")
        while not await ws_cat.receive_nothing(timeout=QUIET):
            await ws_cat.receive_json_from(timeout=WAIT)
        await database_sync_to_async(services.message_post)(ann, conversation=group, body="without cat")
        ben_second = await next_event(ws_ben, "message.new")
        await ws_cat.send_json_to({"type": "typing", "conversation": group.pk})  # no longer a member
        cat_silent = await ws_cat.receive_nothing(timeout=QUIET)
        ben_no_typing = await ws_ben.receive_nothing(timeout=QUIET)
        await close(ws_ben, ws_cat)
        return ben_first, cat_first, ben_second, cat_silent, ben_no_typing

    ben_first, cat_first, ben_second, cat_silent, ben_no_typing = async_to_sync(scenario)()
    assert ben_first["data"]["body"] == cat_first["data"]["body"] == "everyone"
    assert ben_second["data"]["body"] == "without cat"
    assert cat_silent is True and ben_no_typing is True


def test_after_a_reconnect_the_missed_messages_are_fetched_once(people):
    """The socket is only the fast path: what was sent while it was down comes from ?after=<last id>."""
    ann, ben, _, conversation = people
    seen = services.message_post(ann, conversation=conversation, body="before the tunnel")
    cookie = session_cookie(ben)

    async def scenario():
        (ws_ben,) = await connect(cookie)
        await ws_ben.disconnect()  # ben's train enters a tunnel
        missed = [
            await database_sync_to_async(services.message_post)(ann, conversation=conversation, body=f"missed {i}")
            for i in range(3)
        ]
        (ws_ben,) = await connect(cookie)  # back online: events are not replayed by the socket
        replayed = await ws_ben.receive_nothing(timeout=QUIET)
        await close(ws_ben)
        return missed, replayed

    missed, replayed = async_to_sync(scenario)()
    assert replayed is True
    client = Client()
    client.force_login(ben)
    response = client.get(reverse("messaging:fragment", args=[conversation.pk]) + f"?after={seen.pk}")
    html = response.content.decode()
    assert [f'id="m-{m.pk}"' in html for m in missed] == [True, True, True]
    assert f'id="m-{seen.pk}"' not in html
    assert html.count('<li class="msg') == 3

"""notify() and event_publish(): persisted first, pushed on commit, never from a rollback."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from notifications.models import Notification
from notifications.services import event_publish, notifications_mark_read, notify, user_group_name


async def _listen(user_id):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(user_group_name(user_id), channel)
    return layer, channel


async def _drain(layer, channel, timeout=0.3):
    """Every message waiting on ``channel`` (stops after ``timeout`` of silence)."""
    received = []
    while True:
        try:
            received.append(await asyncio.wait_for(layer.receive(channel), timeout))
        except TimeoutError:
            return received


class Boom(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_rolled_back_notify_persists_nothing_and_sends_nothing(alice):
    def rolled_back():
        with pytest.raises(Boom), transaction.atomic():
            notify(alice, kind="payment.received", data={"amount": "$1.00"})
            raise Boom

    async def scenario():
        layer, channel = await _listen(alice.id)
        await database_sync_to_async(rolled_back)()
        return await _drain(layer, channel)

    assert async_to_sync(scenario)() == []
    assert not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_committed_notify_sends_exactly_one_event_after_commit(alice):
    sent_before_commit = []

    def committed():
        with transaction.atomic():
            n = notify(alice, kind="payment.received", data={"sender": "@bob", "amount": "$1.00", "url": "/w/"})
            sent_before_commit.append(n)
        return n

    async def scenario():
        layer, channel = await _listen(alice.id)
        n = await database_sync_to_async(committed)()
        return n, await _drain(layer, channel)

    notification, messages = async_to_sync(scenario)()
    assert len(messages) == 1
    message = messages[0]
    assert message["type"] == "user.event"
    event = message["event"]
    assert event["id"] == notification.id
    assert event["type"] == "notification.new"
    assert event["data"]["id"] == notification.id
    assert event["data"]["title"] == "@bob sent you $1.00"
    assert event["data"]["url"] == "/w/"
    assert event["data"]["read_at"] is None
    assert event["data"]["created_at"] == notification.created_at.isoformat()
    assert Notification.objects.get().recipient == alice


def test_notify_pushes_only_on_commit(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        notify(alice, kind="x", data={})
        assert Notification.objects.count() == 1  # persisted before anything is pushed
    assert len(callbacks) == 1


def test_channel_layer_failure_is_logged_not_raised(alice, django_capture_on_commit_callbacks, monkeypatch, caplog):
    class BrokenLayer:
        async def group_send(self, group, message):
            raise ConnectionError("redis is down")

    monkeypatch.setattr("notifications.services.get_channel_layer", lambda: BrokenLayer())
    with django_capture_on_commit_callbacks(execute=True):
        n = notify(alice, kind="x", data={})
    assert Notification.objects.filter(pk=n.pk).exists()
    assert "was not pushed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_event_publish_reaches_only_that_users_group(alice, bob):
    async def scenario():
        layer, alice_channel = await _listen(alice.id)
        _, bob_channel = await _listen(bob.id)
        await database_sync_to_async(event_publish)(user_id=alice.id, type="balance.changed", data={"x": 1})
        return await _drain(layer, alice_channel), await _drain(layer, bob_channel)

    to_alice, to_bob = async_to_sync(scenario)()
    assert [m["event"] for m in to_alice] == [{"id": None, "type": "balance.changed", "data": {"x": 1}}]
    assert to_bob == []


def test_mark_read_touches_only_own_rows(alice, bob, django_capture_on_commit_callbacks):
    mine = [notify(alice, kind="x", data={}) for _ in range(3)]
    theirs = notify(bob, kind="x", data={})
    with django_capture_on_commit_callbacks() as callbacks:
        assert notifications_mark_read(alice, ids=[mine[0].id, theirs.id]) == 1
    assert len(callbacks) == 1
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert notifications_mark_read(alice, up_to_id=mine[1].id) == 1
    assert notifications_mark_read(alice, all=True) == 1
    assert notifications_mark_read(alice, all=True) == 0
    assert not Notification.objects.filter(recipient=alice, read_at__isnull=True).exists()


def test_mark_read_needs_exactly_one_selector(alice):
    with pytest.raises(ValueError):
        notifications_mark_read(alice)
    with pytest.raises(ValueError):
        notifications_mark_read(alice, ids=[1], all=True)


@pytest.mark.django_db(transaction=True)
def test_mark_read_publishes_the_new_unread_count(alice):
    first = notify(alice, kind="x", data={})
    notify(alice, kind="x", data={})

    async def scenario():
        layer, channel = await _listen(alice.id)
        await database_sync_to_async(notifications_mark_read)(alice, ids=[first.id])
        return await _drain(layer, channel)

    (message,) = async_to_sync(scenario)()
    assert message["event"]["type"] == "notification.read"
    assert message["event"]["data"]["unread_count"] == 1
    assert message["event"]["data"]["ids"] == [first.id]

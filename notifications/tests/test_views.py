import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import engines
from django.test import RequestFactory
from django.urls import reverse

from accounts.tests.factories import UserFactory
from notifications.context_processors import live
from notifications.models import Notification
from notifications.services import notify

EMPTY = "Nothing yet. When someone pays you, messages you or follows you, it shows up here."


def test_list_requires_login(client, db):
    response = client.get(reverse("notifications:list"))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_empty_state(client, alice):
    client.force_login(alice)
    response = client.get(reverse("notifications:list"))
    assert response.status_code == 200
    assert EMPTY in response.content.decode()


def test_list_shows_own_notifications_newest_first_with_unread_highlighted(client, alice, bob):
    old = notify(alice, kind="payment.received", data={"sender": "@carol", "amount": "$1.00", "url": "/wallet/"})
    new = notify(alice, kind="follow.new", data={"follower": "@dave"})
    notify(bob, kind="follow.new", data={"follower": "@eve"})
    Notification.objects.filter(pk=old.pk).update(read_at=new.created_at)
    client.force_login(alice)
    html = client.get(reverse("notifications:list")).content.decode()
    assert html.index("@dave started following you") < html.index("@carol sent you $1.00")
    assert "@eve" not in html
    assert 'href="/wallet/"' in html
    assert html.count("notification-unread") == 1
    assert "Mark all as read" in html


def test_list_is_paginated(client, alice):
    for i in range(35):
        notify(alice, kind="x", data={"title": f"number {i:02d}"})
    client.force_login(alice)
    first = client.get(reverse("notifications:list")).content.decode()
    assert "number 34" in first and "number 04" not in first
    second = client.get(reverse("notifications:list"), {"page": 2}).content.decode()
    assert "number 04" in second and "number 34" not in second


def test_mark_all_read_is_post_only_and_redirects_back(client, alice, bob):
    notify(alice, kind="x", data={})
    theirs = notify(bob, kind="x", data={})
    client.force_login(alice)
    url = reverse("notifications:read")
    assert client.get(url).status_code == 405
    response = client.post(url, {"next": "/notifications/?page=1"})
    assert response.status_code == 302
    assert response["Location"] == "/notifications/?page=1"
    assert not Notification.objects.filter(recipient=alice, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read_never_redirects_off_site(client, alice):
    client.force_login(alice)
    response = client.post(reverse("notifications:read"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("notifications:list")


def test_context_processor(alice, django_assert_max_num_queries):
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    assert live(request) == {}

    first = notify(alice, kind="x", data={})
    last = notify(alice, kind="x", data={})
    Notification.objects.filter(pk=first.pk).update(read_at=last.created_at)
    request.user = alice
    with django_assert_max_num_queries(1):
        assert live(request) == {"live_unread_count": 1, "live_last_notification_id": last.id}
        assert live(request)["live_unread_count"] == 1  # memoised per request


@pytest.mark.parametrize("signed_in", [True, False])
def test_context_processor_is_registered(alice, signed_in):
    notify(alice, kind="x", data={})
    request = RequestFactory().get("/")
    request.user = alice if signed_in else AnonymousUser()
    template = engines["django"].from_string("{{ live_unread_count|default:'none' }}")
    assert template.render(request=request) == ("1" if signed_in else "none")


def test_admin_changelist_searches_and_filters(client, alice):
    notify(alice, kind="follow.new", data={"follower": "@x"})
    admin = UserFactory(handle="admin_n", is_staff=True, is_superuser=True)
    client.force_login(admin)
    url = "/admin/notifications/notification/"
    for params in ({}, {"q": "alice_n"}, {"read": "no"}, {"read": "yes"}, {"kind": "follow.new"}):
        assert client.get(url, params).status_code == 200
    assert "alice_n" in client.get(url, {"q": "alice"}).content.decode()


def test_recent_with_live_state_is_one_query(alice, bob, django_assert_max_num_queries):
    from notifications.selectors import live_state, recent_with_live_state

    assert recent_with_live_state(bob) == ([], {"unread_count": 0, "last_notification_id": 0})
    made = [notify(alice, kind="x", data={"n": i}) for i in range(7)]
    Notification.objects.filter(pk__in=[made[0].pk, made[6].pk]).update(read_at=made[6].created_at)
    with django_assert_max_num_queries(1):
        recent, state = recent_with_live_state(alice, limit=5)
    assert [n.pk for n in recent] == [n.pk for n in reversed(made[2:])]
    assert state == live_state(alice) == {"unread_count": 5, "last_notification_id": made[6].pk}

import pytest

from notifications.models import FALLBACK_TITLE, Notification
from notifications.selectors import last_notification_id, live_state, notifications_for, unread_count
from notifications.services import notify


def test_title_uses_the_kind_template(alice):
    n = notify(alice, kind="payment.received", data={"sender": "@bob", "amount": "$5.00"})
    assert n.title == "@bob sent you $5.00"


def test_title_falls_back_for_unknown_kinds_and_missing_data(alice):
    assert Notification(recipient=alice, kind="nobody.knows", data={}).title == FALLBACK_TITLE
    # A known kind with missing data still renders without crashing.
    assert Notification(recipient=alice, kind="payment.received", data={}).title == "sent you"


def test_explicit_title_in_data_wins(alice):
    assert Notification(recipient=alice, kind="x", data={"title": "Hello"}).title == "Hello"


@pytest.mark.parametrize(
    ("url", "expected"),
    [("/wallet/", "/wallet/"), ("https://evil.example/", ""), ("//evil.example/", ""), (None, ""), (5, "")],
)
def test_url_is_only_ever_a_local_path(alice, url, expected):
    assert Notification(recipient=alice, kind="x", data={"url": url}).url == expected


def test_selectors(alice, bob):
    assert unread_count(alice) == 0
    assert last_notification_id(alice) == 0
    assert live_state(alice) == {"unread_count": 0, "last_notification_id": 0}
    first = notify(alice, kind="x", data={})
    second = notify(alice, kind="x", data={})
    notify(bob, kind="x", data={})
    Notification.objects.filter(pk=first.pk).update(read_at=second.created_at)
    assert unread_count(alice) == 1
    assert last_notification_id(alice) == second.id
    assert live_state(alice) == {"unread_count": 1, "last_notification_id": second.id}
    assert list(notifications_for(alice)) == [second, first]


@pytest.mark.parametrize(
    "url", ["/\\evil.com", "/\t/evil.com", "//evil.com", "https://evil.com/", "javascript:alert(1)"]
)
def test_off_site_links_are_dropped(alice, url):
    from notifications.models import Notification

    assert Notification(recipient=alice, kind="x", data={"url": url}).url == ""
    assert Notification(recipient=alice, kind="x", data={"url": "/wallet/"}).url == "/wallet/"

"""The public profile page ``/@handle``, its Follow/Block buttons, and /settings/blocked/."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts import social
from accounts.models import Block, Follow
from accounts.tests.factories import UserFactory
from notifications.models import Notification

User = get_user_model()


@pytest.fixture
def alice(db):
    return UserFactory(handle="alice", display_name="Alice Liddell")


@pytest.fixture
def bob(db):
    bob = UserFactory(handle="bob", display_name="Bob Builder", bio="I build <b>things</b>.")
    User.objects.filter(pk=bob.pk).update(date_joined=dt.datetime(2023, 3, 14, 12, tzinfo=dt.UTC))
    bob.refresh_from_db()
    return bob


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


def page(client, handle="bob") -> str:
    response = client.get(f"/@{handle}")
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# ---- what each viewer sees -------------------------------------------------------------------


def test_anonymous_sees_the_public_profile_and_a_login_link(client, bob, alice):
    social.follow_create(alice, followee=bob)
    html = page(client)
    assert "Bob Builder" in html and "@bob" in html
    assert "I build &lt;b&gt;things&lt;/b&gt;." in html  # the bio is escaped
    assert '<strong data-follower-count="bob">1</strong> follower' in html and "<strong>0</strong> following" in html
    assert "Joined" in html and "March 2023" in html
    assert 'href="/accounts/login/?next=/%40bob"' in html and "Log in to follow" in html
    for absent in ('action="/@bob/follow"', "/@bob/block", "/messages/with/bob/", "/wallet/send/", "Edit profile"):
        assert absent not in html


def test_a_signed_in_viewer_gets_every_button(as_alice, bob):
    html = page(as_alice)
    assert 'action="/@bob/follow"' in html and ">Follow<" in html
    assert 'href="/messages/with/bob/"' in html
    assert 'href="/wallet/send/?to=@bob"' in html
    assert 'href="/@bob/tip"' in html
    assert 'action="/@bob/block"' in html
    # The confirm step says what blocking does before the POST button.
    assert (
        "They won't be able to message you, pay you or request money from you, "
        "and your conversation will be hidden." in html.replace("&#x27;", "'")
    )
    assert "csrfmiddlewaretoken" in html
    assert "Log in to follow" not in html and "Edit profile" not in html


def test_following_shows_unfollow_and_mutual_shows_it(as_alice, alice, bob):
    social.follow_create(alice, followee=bob)
    html = page(as_alice)
    assert 'action="/@bob/unfollow"' in html and 'data-state="following"' in html
    assert "You follow each other" not in html and "Follows you" not in html

    social.follow_create(bob, followee=alice)
    html = page(as_alice)
    assert "You follow each other" in html
    assert '<strong data-follower-count="bob">1</strong> follower' in html and "<strong>1</strong> following" in html


def test_follows_you_is_shown(as_alice, alice, bob):
    social.follow_create(bob, followee=alice)
    html = page(as_alice)
    assert "Follows you" in html and "You follow each other" not in html


def test_your_own_profile_links_to_settings(as_alice, alice):
    html = page(as_alice, "alice")
    assert "Alice Liddell" in html
    assert 'href="/settings/"' in html and "Edit profile" in html
    for absent in ('action="/@alice/follow"', "/@alice/block", "/messages/with/alice/", "/wallet/send/?to="):
        assert absent not in html


def test_someone_you_blocked_shows_a_note_and_unblock_only(as_alice, alice, bob):
    social.block_create(alice, blocked=bob)
    html = page(as_alice)
    assert "You blocked @bob." in html
    assert 'action="/@bob/unblock"' in html
    for absent in ("/messages/with/bob/", "/wallet/send/?to=@bob", "/@bob/tip", 'action="/@bob/follow"'):
        assert absent not in html
    assert "Bob Builder" in html  # still viewable


def test_someone_who_blocked_you_has_no_message_or_pay(as_alice, alice, bob):
    social.block_create(bob, blocked=alice)
    html = page(as_alice)
    assert "Bob Builder" in html
    for absent in ("/messages/with/bob/", "/wallet/send/?to=@bob", "/@bob/tip", 'action="/@bob/follow"', "You blocked"):
        assert absent not in html
    assert 'action="/@bob/block"' in html  # you may block them too


@pytest.mark.parametrize("path", ["/@nobody", "/@a_very_long_handle_x", "/@bob%00", "/@%20"])
def test_unknown_handles_are_404(client, bob, path):
    assert client.get(path).status_code == 404


def test_an_inactive_person_is_404(as_alice, bob):
    User.objects.filter(pk=bob.pk).update(is_active=False)
    assert as_alice.get("/@bob").status_code == 404


def test_one_address_per_profile(client, bob):
    response = client.get("/@Bob")
    assert response.status_code == 301 and response["Location"] == "/@bob"
    response = client.get("/@bob/")
    assert response.status_code == 301 and response["Location"] == "/@bob"


def test_times_use_the_viewers_time_zone(client, bob):
    viewer = UserFactory(handle="tokyo", time_zone="Asia/Tokyo")
    User.objects.filter(pk=bob.pk).update(date_joined=dt.datetime(2023, 3, 31, 20, tzinfo=dt.UTC))
    client.force_login(viewer)
    assert "April 2023" in page(client)  # 05:00 on 1 April in Tokyo


def test_the_profile_page_runs_a_bounded_number_of_queries(as_alice, alice, bob, django_assert_max_num_queries):
    social.follow_create(alice, followee=bob)
    with django_assert_max_num_queries(6) as few:
        page(as_alice)
    for _ in range(25):
        someone = UserFactory()
        social.follow_create(someone, followee=bob)
        social.follow_create(bob, followee=someone)
        social.block_create(someone, blocked=alice)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = page(as_alice)
    assert '<strong data-follower-count="bob">26</strong> followers' in html


def test_anonymous_profile_page_queries(client, bob, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        page(client)


# ---- the POST buttons ------------------------------------------------------------------------


def test_follow_then_unfollow_through_the_buttons(as_alice, alice, bob):
    response = as_alice.post("/@bob/follow", follow=True)
    assert response.redirect_chain == [("/@bob", 302)]
    assert "You follow @bob now." in response.content.decode()
    assert Follow.objects.filter(follower=alice, followee=bob).exists()
    assert Notification.objects.filter(recipient=bob, kind="follow.new").count() == 1

    as_alice.post("/@bob/follow")  # a double submit changes nothing
    assert Notification.objects.filter(recipient=bob, kind="follow.new").count() == 1

    response = as_alice.post("/@bob/unfollow", follow=True)
    assert "You unfollowed @bob." in response.content.decode()
    assert not Follow.objects.exists()


def test_block_then_unblock_through_the_buttons(as_alice, alice, bob):
    social.follow_create(alice, followee=bob)
    social.follow_create(bob, followee=alice)
    response = as_alice.post("/@bob/block", follow=True)
    assert response.redirect_chain == [("/@bob", 302)]
    html = response.content.decode()
    assert "You blocked @bob." in html
    assert Block.objects.filter(blocker=alice, blocked=bob).exists()
    assert not Follow.objects.exists()

    response = as_alice.post("/@bob/unblock", follow=True)
    assert "You unblocked @bob." in response.content.decode()
    assert not Block.objects.exists()
    assert not Follow.objects.exists()  # nothing restored


def test_refusals_are_shown_as_messages(as_alice, alice, bob):
    social.block_create(bob, blocked=alice)
    html = as_alice.post("/@bob/follow", follow=True).content.decode()
    assert "You cannot follow @bob." in html
    html = as_alice.post("/@alice/follow", follow=True).content.decode()
    assert "You cannot follow yourself." in html
    html = as_alice.post("/@alice/block", follow=True).content.decode()
    assert "You cannot block yourself." in html
    assert not Follow.objects.exists()
    assert set(Block.objects.values_list("blocker__handle", flat=True)) == {"bob"}


@pytest.mark.parametrize("action", ["follow", "unfollow", "block", "unblock"])
def test_buttons_need_a_signed_in_user(client, bob, action):
    response = client.post(f"/@bob/{action}")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/%40bob"
    assert not Follow.objects.exists() and not Block.objects.exists()


@pytest.mark.parametrize("action", ["follow", "unfollow", "block", "unblock"])
def test_buttons_are_post_only(as_alice, bob, action):
    assert as_alice.get(f"/@bob/{action}").status_code == 405


@pytest.mark.parametrize("action", ["follow", "block"])
def test_buttons_are_csrf_protected(alice, bob, action):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post(f"/@bob/{action}").status_code == 403
    assert not Follow.objects.exists() and not Block.objects.exists()


def test_buttons_for_unknown_or_inactive_people_are_404(as_alice, bob):
    assert as_alice.post("/@nobody/follow").status_code == 404
    User.objects.filter(pk=bob.pk).update(is_active=False)
    assert as_alice.post("/@bob/follow").status_code == 404
    assert as_alice.post("/@bob/block").status_code == 404


def test_unblocking_someone_deactivated_since_works(as_alice, alice, bob):
    social.block_create(alice, blocked=bob)
    User.objects.filter(pk=bob.pk).update(is_active=False)
    response = as_alice.post("/@bob/unblock")
    assert response.status_code == 302 and response["Location"] == "/settings/blocked/"
    assert not Block.objects.exists()


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [("/settings/blocked/", "/settings/blocked/"), ("https://evil.example/", "/@bob"), ("//evil.example", "/@bob")],
)
def test_only_local_next_addresses_are_followed(as_alice, alice, bob, next_url, expected):
    social.block_create(alice, blocked=bob)
    response = as_alice.post("/@bob/unblock", {"next": next_url})
    assert response["Location"] == expected


# ---- /settings/blocked/ ----------------------------------------------------------------------


def test_blocked_page_lists_the_people_you_blocked(as_alice, alice, bob):
    carol = UserFactory(handle="carol", display_name="Carol C")
    social.block_create(alice, blocked=bob)
    social.block_create(alice, blocked=carol)
    social.block_create(carol, blocked=alice)  # blocked *by* carol: not listed for that reason
    Block.objects.filter(blocked=bob).update(created_at=timezone.now() - dt.timedelta(days=1))
    html = as_alice.get("/settings/blocked/").content.decode()
    assert html.index("Carol C") < html.index("Bob Builder")  # newest first
    assert html.count('action="/@') == 2
    assert 'action="/@bob/unblock"' in html and 'action="/@carol/unblock"' in html
    assert 'name="next" value="/settings/blocked/"' in html
    assert 'href="/settings/blocked/" class="is-active"' in html  # in the settings navigation


def test_blocked_page_empty_state(as_alice):
    html = as_alice.get("/settings/blocked/").content.decode()
    assert "You haven't blocked anyone." in html.replace("&#x27;", "'")


def test_blocked_page_needs_login(client, db):
    response = client.get("/settings/blocked/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_blocked_page_unblock_goes_back_to_the_list(as_alice, alice, bob):
    social.block_create(alice, blocked=bob)
    response = as_alice.post("/@bob/unblock", {"next": "/settings/blocked/"}, follow=True)
    assert response.redirect_chain == [("/settings/blocked/", 302)]
    assert "You unblocked @bob." in response.content.decode()


def test_blocked_page_queries_do_not_grow_and_it_paginates(as_alice, alice, django_assert_max_num_queries):
    social.block_create(alice, blocked=UserFactory())
    with django_assert_max_num_queries(8) as few:
        as_alice.get("/settings/blocked/")
    for _ in range(55):
        social.block_create(alice, blocked=UserFactory())
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = as_alice.get("/settings/blocked/").content.decode()
    assert html.count("/unblock") == 50
    assert "Page 1 of 2" in html
    assert as_alice.get("/settings/blocked/", {"page": 2}).content.decode().count("/unblock") == 6


# ---- settings ------------------------------------------------------------------------------


def test_settings_offers_the_message_policy_and_links(as_alice, alice):
    html = as_alice.get("/settings/").content.decode()
    assert "Who can message you" in html
    for value in ("everyone", "following", "nobody"):
        assert f'value="{value}"' in html
    assert 'href="/@alice"' in html and 'href="/settings/blocked/"' in html


def _settings_post(**overrides):
    data = {
        "display_name": "Alice Liddell",
        "bio": "",
        "home_currency": "USD",
        "country": "US",
        "state": "NY",
        "time_zone": "UTC",
    }
    data.update(overrides)
    return data


def test_settings_saves_the_message_policy(as_alice, alice):
    response = as_alice.post("/settings/", _settings_post(message_policy="following"))
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.message_policy == "following"
    # Left out of a post: unchanged.
    as_alice.post("/settings/", _settings_post(display_name="Alice L"))
    alice.refresh_from_db()
    assert (alice.message_policy, alice.display_name) == ("following", "Alice L")


def test_settings_refuses_an_unknown_message_policy(as_alice, alice):
    response = as_alice.post("/settings/", _settings_post(message_policy="friends", display_name="Changed"))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    alice.refresh_from_db()
    assert (alice.message_policy, alice.display_name) == ("everyone", "Alice Liddell")

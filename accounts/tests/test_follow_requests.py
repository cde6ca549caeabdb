"""Protected accounts: follow requests (service, pages, API), follower lists and the follow button."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts import selectors, social
from accounts.models import Follow, FollowRequest
from accounts.services import profile_update
from accounts.tests.factories import UserFactory
from notifications.models import Notification


@pytest.fixture
def alice(db):
    return UserFactory(handle="alice", display_name="Alice Liddell")


@pytest.fixture
def bob(db):
    return UserFactory(handle="bob", display_name="Bob Builder")


@pytest.fixture
def dave(db):
    """A protected account."""
    return UserFactory(handle="dave", display_name="Dave Private", is_protected=True)


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# ---- service ---------------------------------------------------------------------------------


def test_following_a_protected_account_makes_one_request_and_notifies_once(alice, dave):
    result = social.follow_start(alice, followee=dave)
    assert result.status == social.REQUESTED and result.created
    again = social.follow_start(alice, followee=dave)
    assert again.status == social.REQUESTED and not again.created
    assert FollowRequest.objects.filter(requester=alice, target=dave).count() == 1
    assert not Follow.objects.exists()
    notes = Notification.objects.filter(recipient=dave, kind="follow.request")
    assert notes.count() == 1 and notes.get().data["requester"] == "@alice"
    assert "asked to follow you" in notes.get().title
    assert selectors.has_requested(alice, dave) and selectors.follow_request_count(dave) == 1


def test_follow_start_on_a_public_account_follows(alice, bob):
    result = social.follow_start(alice, followee=bob)
    assert result.status == social.FOLLOWING and result.created and result.follow.followee == bob
    assert Notification.objects.filter(recipient=bob, kind="follow.new").count() == 1


def test_follow_create_refuses_a_protected_account_without_side_effects(alice, dave):
    with pytest.raises(social.FollowNeedsApproval) as error:
        social.follow_create(alice, followee=dave)
    assert error.value.code == "approval_required" and error.value.status == 409
    assert not FollowRequest.objects.exists() and not Follow.objects.exists()


def test_approve_makes_the_follow_deletes_the_request_and_notifies_the_requester(alice, dave):
    social.follow_start(alice, followee=dave)
    follow = social.follow_request_approve(dave, requester=alice)
    assert follow.follower == alice and follow.followee == dave
    assert not FollowRequest.objects.exists()
    note = Notification.objects.get(recipient=alice, kind="follow.approved")
    assert note.data["target"] == "@dave" and "approved your follow request" in note.title
    # Idempotent, and no follow.new for an approval.
    assert social.follow_request_approve(dave, requester=alice) == follow
    assert Notification.objects.filter(recipient=alice, kind="follow.approved").count() == 1
    assert not Notification.objects.filter(kind="follow.new").exists()
    assert social.follow_start(alice, followee=dave).status == social.FOLLOWING


def test_approving_nothing_is_404(alice, dave):
    with pytest.raises(social.FollowRequestNotFound):
        social.follow_request_approve(dave, requester=alice)
    assert not Follow.objects.exists()


def test_decline_and_cancel(alice, bob, dave):
    social.follow_start(alice, followee=dave)
    social.follow_start(bob, followee=dave)
    assert social.follow_request_decline(dave, requester=alice) is True
    assert social.follow_request_decline(dave, requester=alice) is False
    assert social.follow_request_cancel(bob, target=dave) is True
    assert social.follow_request_cancel(bob, target=dave) is False
    assert not FollowRequest.objects.exists() and not Follow.objects.exists()
    assert not Notification.objects.filter(kind="follow.approved").exists()


def test_unfollow_also_withdraws_a_pending_request(alice, dave):
    social.follow_start(alice, followee=dave)
    assert social.follow_delete(alice, followee=dave) is True
    assert not FollowRequest.objects.exists()


def test_turning_protection_off_approves_every_pending_request(alice, bob, dave):
    social.follow_start(alice, followee=dave)
    social.follow_start(bob, followee=dave)
    profile_update(dave, is_protected=False)
    assert set(Follow.objects.filter(followee=dave).values_list("follower__handle", flat=True)) == {"alice", "bob"}
    assert not FollowRequest.objects.exists()
    assert Notification.objects.filter(kind="follow.approved").count() == 2
    # Turning it on again changes nothing for existing followers.
    profile_update(dave, is_protected=True)
    assert Follow.objects.filter(followee=dave).count() == 2


def test_blocks_delete_pending_requests_both_ways(alice, bob, dave):
    social.follow_start(alice, followee=dave)
    social.block_create(dave, blocked=alice)
    assert not FollowRequest.objects.exists()
    social.follow_start(bob, followee=dave)
    social.block_create(bob, blocked=dave)
    assert not FollowRequest.objects.exists()
    with pytest.raises(social.BlockedError):
        social.follow_start(alice, followee=dave)


def test_profile_for_has_requested_in_one_query(alice, dave, django_assert_num_queries):
    social.follow_start(alice, followee=dave)
    with django_assert_num_queries(1):
        profile = selectors.profile_for("dave", alice)
    assert profile.requested and profile.follow_state == "requested" and not profile.connections_visible
    assert selectors.profile_for("dave", None).follow_state == "anonymous"


def test_website_must_be_http(alice):
    from core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as error:
        profile_update(alice, website="javascript:alert(1)")
    assert "website" in error.value.fields
    profile_update(alice, website="https://alice.example")
    alice.refresh_from_db()
    assert alice.website == "https://alice.example"


# ---- pages -----------------------------------------------------------------------------------


def test_follow_button_post_sends_a_request_for_a_protected_account(client, alice, dave):
    client.force_login(alice)
    response = client.post("/@dave/follow", follow=True)
    assert "Follow request sent to @dave." in response.content.decode()
    assert FollowRequest.objects.filter(requester=alice, target=dave).exists()
    response = client.post("/@dave/unfollow", follow=True)
    assert "Your follow request to @dave is cancelled." in response.content.decode()
    assert not FollowRequest.objects.exists()


def test_follow_requests_page_lists_and_decides(client, alice, bob, dave):
    client.force_login(dave)
    html = client.get("/settings/follow-requests/").content.decode()
    assert 'data-testid="requests-empty"' in html
    social.follow_start(alice, followee=dave)
    social.follow_start(bob, followee=dave)
    html = client.get("/settings/follow-requests/").content.decode()
    assert html.count('data-testid="follow-request"') == 2
    assert 'action="/settings/follow-requests/alice/approve"' in html
    response = client.post("/settings/follow-requests/alice/approve", follow=True)
    assert "@alice follows you now." in response.content.decode()
    assert Follow.objects.filter(follower=alice, followee=dave).exists()
    client.post("/settings/follow-requests/bob/decline")
    assert not FollowRequest.objects.exists() and not Follow.objects.filter(follower=bob).exists()
    assert client.get("/settings/follow-requests/alice/approve").status_code == 405


def test_follow_requests_page_needs_login_and_paginates(client, dave, django_assert_max_num_queries):
    assert client.get("/settings/follow-requests/").status_code == 302
    for _ in range(55):
        social.follow_start(UserFactory(), followee=dave)
    client.force_login(dave)
    with django_assert_max_num_queries(12):
        html = client.get("/settings/follow-requests/").content.decode()
    assert html.count('data-testid="follow-request"') == 50 and "Page 1 of 2" in html
    assert client.get("/settings/follow-requests/?page=2").content.decode().count('data-testid="follow-request"') == 5


def test_settings_form_saves_link_and_protection(client, alice, bob):
    social.follow_start(bob, followee=alice)
    client.force_login(alice)
    form = client.get("/settings/").content.decode()
    assert 'name="website"' in form and 'name="is_protected"' in form
    data = {
        "display_name": "Alice",
        "bio": "",
        "website": "alice.example",
        "is_protected": "on",
        "home_currency": "USD",
        "country": "FR",
        "state": "",
        "time_zone": "UTC",
        "message_policy": "everyone",
    }
    assert client.post("/settings/", data).status_code == 302
    alice.refresh_from_db()
    assert alice.is_protected and alice.website == "https://alice.example"


def test_lists_pages_public_and_empty(client, alice, bob):
    social.follow_create(alice, followee=bob)
    client.force_login(alice)
    html = client.get("/@bob/followers").content.decode()
    assert 'data-testid="person"' in html and "@alice" in html
    html = client.get("/@bob/following").content.decode()
    assert 'data-testid="people-empty"' in html and "doesn't follow anyone yet" in html
    # Signed out too.
    client.logout()
    assert client.get("/@bob/followers").status_code == 200
    assert client.get("/@Bob/followers").status_code == 301
    assert client.get("/@nobody/followers").status_code == 404


def test_protected_lists_are_private_except_to_owner_and_followers(client, alice, bob, dave):
    social.follow_start(alice, followee=dave)
    social.follow_request_approve(dave, requester=alice)
    client.force_login(bob)
    for which in ("followers", "following"):
        response = client.get(f"/@dave/{which}")
        assert response.status_code == 403 and 'data-testid="people-private"' in response.content.decode()
        assert "These are private" in response.content.decode()
    client.force_login(alice)
    assert client.get("/@dave/followers").status_code == 200
    client.force_login(dave)
    assert "@alice" in client.get("/@dave/followers").content.decode()


def test_blocked_either_way_gets_the_private_page(client, alice, bob):
    social.block_create(bob, blocked=alice)
    client.force_login(alice)
    response = client.get("/@bob/followers")
    assert response.status_code == 403 and "You can't see who follows @bob" in response.content.decode()
    client.force_login(bob)
    assert client.get("/@alice/following").status_code == 403


def test_lists_page_queries_are_bounded(client, alice, bob, django_assert_max_num_queries):
    client.force_login(alice)
    social.follow_create(UserFactory(), followee=bob)
    with django_assert_max_num_queries(20) as few:
        client.get("/@bob/followers")
    for _ in range(20):
        someone = UserFactory()
        social.follow_create(someone, followee=bob)
        social.follow_create(alice, followee=someone)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get("/@bob/followers").content.decode()
    assert html.count('data-testid="person"') == 21 and 'data-state="following"' in html


def test_follow_button_partial_renders_each_state(rf, alice, bob, dave):
    from django.template.loader import render_to_string

    def render(handle, viewer):
        request = rf.get("/")
        request.user = viewer
        return render_to_string(
            "accounts/_follow_button.html", {"profile": selectors.profile_for(handle, viewer)}, request=request
        )

    from django.contrib.auth.models import AnonymousUser

    assert "Log in to follow" in render("bob", AnonymousUser())
    assert render("alice", alice).strip() == ""
    assert 'data-state="follow"' in render("bob", alice)
    social.follow_start(alice, followee=dave)
    html = render("dave", alice)
    assert 'data-state="requested"' in html and "Requested · Cancel" in html
    social.block_create(alice, blocked=bob)
    assert 'data-state="blocked"' in render("bob", alice)
    assert render("alice", bob).strip() == ""  # they blocked you: no button


# ---- API -------------------------------------------------------------------------------------


def test_api_follow_answers_requested_and_the_profile_shows_it(alice, dave):
    api = api_for(alice)
    body = api.post("/api/v1/users/dave/follow/").json()
    assert body["status"] == "requested" and body["requested"] is True and body["is_following"] is False
    assert body["is_protected"] is True and body["followers_count"] == 0
    profile = api.get("/api/v1/users/dave/").json()
    assert profile["requested"] is True and profile["connections_visible"] is False
    assert {"website", "is_protected", "date_joined", "followers_count", "following_count"} <= set(profile)
    assert api.delete("/api/v1/users/dave/follow/").status_code == 204
    assert not FollowRequest.objects.exists()


def test_api_follow_requests_list_approve_decline(alice, bob, dave):
    social.follow_start(alice, followee=dave)
    social.follow_start(bob, followee=dave)
    api = api_for(dave)
    body = api.get("/api/v1/me/follow-requests/").json()
    assert [row["user"]["handle"] for row in body["results"]] == ["bob", "alice"]
    approved = api.post("/api/v1/me/follow-requests/alice/approve/")
    assert approved.status_code == 200 and approved.json()["follows_you"] is True
    assert api.post("/api/v1/me/follow-requests/bob/decline/").status_code == 204
    missing = api.post("/api/v1/me/follow-requests/bob/approve/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "follow_request_not_found"
    assert api.post("/api/v1/me/follow-requests/bob/approve/", {"x": 1}, format="json").status_code == 400
    assert APIClient().get("/api/v1/me/follow-requests/").status_code in (401, 403)


def test_api_me_can_protect_and_set_a_link(alice):
    api = api_for(alice)
    body = api.patch("/api/v1/me/", {"is_protected": True, "website": "https://a.example"}, format="json").json()
    assert body["is_protected"] is True and body["website"] == "https://a.example"
    bad = api.patch("/api/v1/me/", {"is_protected": "yes"}, format="json")
    assert bad.status_code == 400


def test_api_lists_with_visibility_rules(alice, bob, dave):
    social.follow_create(alice, followee=bob)
    anon = APIClient()
    body = anon.get("/api/v1/users/bob/followers/").json()
    assert [row["handle"] for row in body["results"]] == ["alice"] and "next" in body
    assert anon.get("/api/v1/users/alice/following/").json()["results"][0]["handle"] == "bob"
    # Protected: only the owner and approved followers.
    social.follow_start(alice, followee=dave)
    private = api_for(bob).get("/api/v1/users/dave/followers/")
    assert private.status_code == 403 and private.json()["error"]["code"] == "lists_private"
    assert api_for(alice).get("/api/v1/users/dave/followers/").status_code == 403  # only requested
    social.follow_request_approve(dave, requester=alice)
    assert api_for(alice).get("/api/v1/users/dave/followers/").json()["results"][0]["handle"] == "alice"
    assert api_for(dave).get("/api/v1/users/dave/following/").status_code == 200
    # Blocked either way.
    social.block_create(bob, blocked=alice)
    assert api_for(alice).get("/api/v1/users/bob/followers/").status_code == 403
    assert anon.get("/api/v1/users/nobody/followers/").status_code == 404


def test_api_lists_paginate_by_cursor_with_bounded_queries(alice, bob, django_assert_max_num_queries):
    people = [UserFactory() for _ in range(7)]
    for person in people:
        social.follow_create(person, followee=bob)
    api = api_for(alice)
    seen = []
    url = "/api/v1/users/bob/followers/?page_size=3"
    while url:
        with django_assert_max_num_queries(4):
            body = api.get(url).json()
        seen += [row["handle"] for row in body["results"]]
        url = body["next"]
    assert seen == [p.handle for p in reversed(people)]
    assert api.get("/api/v1/users/bob/followers/?cursor=bogus").status_code == 404

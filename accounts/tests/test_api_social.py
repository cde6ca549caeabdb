"""The social graph over the API: public profiles, follow, block, the blocked list, the
message-policy setting on /api/v1/me/, and the schema that documents them."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from accounts import social
from accounts.models import Block, Follow
from accounts.tests.factories import UserFactory
from notifications.models import Notification

User = get_user_model()

PROFILE_KEYS = {
    "id",
    "handle",
    "display_name",
    "avatar_url",
    "initials",
    "bio",
    "website",
    "is_protected",
    "date_joined",
    "followers_count",
    "following_count",
    "is_self",
    "is_following",
    "follows_you",
    "mutual",
    "requested",
    "blocked",
    "can_interact",
    "connections_visible",
}


@pytest.fixture
def alice(db):
    return UserFactory(handle="alice", display_name="Alice Liddell")


@pytest.fixture
def bob(db):
    return UserFactory(handle="bob", display_name="Bob Builder", bio="I build things.")


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == code
    assert error["message"]
    return error


# ---- GET /api/v1/users/{handle}/ -------------------------------------------------------------


def test_public_profile_for_anonymous(db, bob, alice):
    social.follow_create(alice, followee=bob)
    response = APIClient().get("/api/v1/users/bob/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PROFILE_KEYS
    assert body["id"] == bob.pk
    assert (body["handle"], body["display_name"], body["bio"], body["initials"]) == (
        "bob",
        "Bob Builder",
        "I build things.",
        "BB",
    )
    assert body["avatar_url"] is None and body["date_joined"]
    assert (body["followers_count"], body["following_count"]) == (1, 0)
    for flag in ("is_self", "is_following", "follows_you", "mutual", "blocked", "can_interact"):
        assert body[flag] is False
    assert "email" not in body


def test_profile_relationships_for_the_caller(api, alice, bob):
    body = api.get("/api/v1/users/bob/").json()
    assert body["can_interact"] is True and body["is_following"] is False

    social.follow_create(alice, followee=bob)
    social.follow_create(bob, followee=alice)
    body = api.get("/api/v1/users/bob/").json()
    assert body["is_following"] and body["follows_you"] and body["mutual"]

    mine = api.get("/api/v1/users/alice/").json()
    assert mine["is_self"] is True and mine["can_interact"] is False


def test_profile_when_blocked_either_way(api, alice, bob):
    social.block_create(alice, blocked=bob)
    body = api.get("/api/v1/users/bob/").json()
    assert body["blocked"] is True and body["can_interact"] is False
    social.block_delete(alice, blocked=bob)
    social.block_create(bob, blocked=alice)
    body = api.get("/api/v1/users/bob/").json()
    assert body["blocked"] is False  # who blocked whom is only said to the blocker
    assert body["can_interact"] is False


@pytest.mark.parametrize("handle", ["@bob", "BOB", "%40Bob"])
def test_profile_handle_spellings(api, bob, handle):
    response = api.get(f"/api/v1/users/{handle}/")
    assert response.status_code == 200
    assert response.json()["handle"] == "bob"


@pytest.mark.parametrize("handle", ["nobody", "x" * 40, "bob%00", "%20"])
def test_unknown_handle_is_404(api, bob, handle):
    assert_error(api.get(f"/api/v1/users/{handle}/"), 404, "user_not_found")


def test_inactive_person_is_404_everywhere(api, bob):
    User.objects.filter(pk=bob.pk).update(is_active=False)
    assert_error(api.get("/api/v1/users/bob/"), 404, "user_not_found")
    assert_error(api.post("/api/v1/users/bob/follow/"), 404, "user_not_found")
    assert_error(api.post("/api/v1/users/bob/block/"), 404, "user_not_found")


def test_profile_runs_a_bounded_number_of_queries(api, alice, bob, django_assert_max_num_queries):
    for _ in range(20):
        social.follow_create(UserFactory(), followee=bob)
    with django_assert_max_num_queries(1):
        assert api.get("/api/v1/users/bob/").json()["followers_count"] == 20


# ---- follow ----------------------------------------------------------------------------------


def test_follow_and_unfollow(api, alice, bob):
    response = api.post("/api/v1/users/bob/follow/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PROFILE_KEYS | {"status"}
    assert body["status"] == "following" and body["requested"] is False
    assert body["is_following"] is True and body["followers_count"] == 1
    assert Follow.objects.filter(follower=alice, followee=bob).exists()
    assert Notification.objects.filter(recipient=bob, kind="follow.new").count() == 1

    again = api.post("/api/v1/users/bob/follow/", {}, format="json")  # idempotent
    assert again.status_code == 200 and again.json()["is_following"] is True
    assert Follow.objects.count() == 1
    assert Notification.objects.filter(recipient=bob, kind="follow.new").count() == 1

    response = api.delete("/api/v1/users/bob/follow/")
    assert response.status_code == 204 and not response.content
    assert not Follow.objects.exists()
    assert api.delete("/api/v1/users/bob/follow/").status_code == 204  # idempotent


def test_follow_yourself_is_400(api, alice):
    error = assert_error(api.post("/api/v1/users/alice/follow/"), 400, "cannot_follow_self")
    assert error["message"] == "You cannot follow yourself."
    assert_error(api.delete("/api/v1/users/alice/follow/"), 400, "cannot_follow_self")
    assert not Follow.objects.exists()


def test_follow_when_blocked_is_403(api, alice, bob):
    social.block_create(bob, blocked=alice)
    error = assert_error(api.post("/api/v1/users/bob/follow/"), 403, "blocked")
    assert error["message"] == "You cannot follow @bob."
    social.block_delete(bob, blocked=alice)
    social.block_create(alice, blocked=bob)
    error = assert_error(api.post("/api/v1/users/bob/follow/"), 403, "blocked")
    assert "Unblock them first" in error["message"]
    assert not Follow.objects.exists()


def test_follow_unknown_is_404(api):
    assert_error(api.post("/api/v1/users/nobody/follow/"), 404, "user_not_found")
    assert_error(api.delete("/api/v1/users/nobody/follow/"), 404, "user_not_found")


# ---- block -----------------------------------------------------------------------------------


def test_block_and_unblock(api, alice, bob):
    social.follow_create(alice, followee=bob)
    social.follow_create(bob, followee=alice)
    response = api.post("/api/v1/users/bob/block/")
    assert response.status_code == 200
    body = response.json()
    assert body["blocked"] is True and body["can_interact"] is False
    assert body["is_following"] is False and body["follows_you"] is False
    assert not Follow.objects.exists()
    assert api.post("/api/v1/users/bob/block/").status_code == 200  # idempotent
    assert Block.objects.count() == 1

    assert api.delete("/api/v1/users/bob/block/").status_code == 204
    assert api.delete("/api/v1/users/bob/block/").status_code == 204
    assert not Block.objects.exists()
    assert not Follow.objects.exists()  # nothing restored


def test_block_yourself_is_400(api):
    error = assert_error(api.post("/api/v1/users/alice/block/"), 400, "cannot_block_self")
    assert error["message"] == "You cannot block yourself."
    assert_error(api.delete("/api/v1/users/alice/block/"), 400, "cannot_block_self")


def test_unblock_someone_deactivated_since(api, alice, bob):
    social.block_create(alice, blocked=bob)
    User.objects.filter(pk=bob.pk).update(is_active=False)
    assert api.delete("/api/v1/users/bob/block/").status_code == 204
    assert not Block.objects.exists()


# ---- strict input, authentication, CSRF --------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/users/bob/follow/", "/api/v1/users/bob/block/"])
@pytest.mark.parametrize("body", [{"handle": "carol"}, {"blocked": True, "x": 1}])
def test_unknown_fields_are_refused(api, bob, path, body):
    error = assert_error(api.post(path, body, format="json"), 400, "invalid")
    assert set(error["fields"]) == set(body)
    assert_error(api.delete(path, body, format="json"), 400, "invalid")
    assert not Follow.objects.exists() and not Block.objects.exists()


@pytest.mark.parametrize("raw", ["[1, 2]", "[]", '"x"', "42", "0", "false", "null", "{not json"])
def test_non_object_or_malformed_bodies_are_400(api, bob, raw):
    response = api.post("/api/v1/users/bob/follow/", raw, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert not Follow.objects.exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/users/bob/follow/"),
        ("delete", "/api/v1/users/bob/follow/"),
        ("post", "/api/v1/users/bob/block/"),
        ("delete", "/api/v1/users/bob/block/"),
        ("get", "/api/v1/me/blocked/"),
    ],
)
def test_actions_need_authentication(db, bob, method, path):
    assert_error(getattr(APIClient(), method)(path), 403, "not_authenticated")
    assert not Follow.objects.exists() and not Block.objects.exists()


def test_session_auth_needs_csrf(alice, bob):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert_error(browser.post("/api/v1/users/bob/follow/"), 403, "permission_denied")
    assert_error(browser.post("/api/v1/users/bob/block/"), 403, "permission_denied")
    assert not Follow.objects.exists() and not Block.objects.exists()


# ---- GET /api/v1/me/blocked/ -------------------------------------------------------------------


def test_my_blocked_list(api, alice, bob):
    carol = UserFactory(handle="carol")
    social.block_create(alice, blocked=bob)
    social.block_create(alice, blocked=carol)
    social.block_create(carol, blocked=alice)  # not a block alice made
    response = api.get("/api/v1/me/blocked/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [row["user"]["handle"] for row in body["results"]] == ["carol", "bob"]
    first = body["results"][1]
    assert set(first) == {"user", "blocked_at"}
    assert first["user"] == {
        "id": bob.pk,
        "handle": "bob",
        "display_name": "Bob Builder",
        "avatar_url": None,
        "initials": "BB",
    }


def test_my_blocked_list_paginates_in_bounded_queries(api, alice, django_assert_max_num_queries):
    for _ in range(30):
        social.block_create(alice, blocked=UserFactory())
    with django_assert_max_num_queries(2):
        body = api.get("/api/v1/me/blocked/", {"page_size": 20}).json()
    assert len(body["results"]) == 20 and body["next"]
    rest = api.get(body["next"]).json()
    assert len(rest["results"]) == 10 and rest["next"] is None


# ---- the message policy on /api/v1/me/ ----------------------------------------------------------


def test_me_shows_and_changes_the_message_policy(api, alice):
    assert api.get("/api/v1/me/").json()["message_policy"] == "everyone"
    response = api.patch("/api/v1/me/", {"message_policy": "nobody"}, format="json")
    assert response.status_code == 200 and response.json()["message_policy"] == "nobody"
    alice.refresh_from_db()
    assert alice.message_policy == "nobody"


def test_me_refuses_an_unknown_message_policy(api, alice):
    error = assert_error(api.patch("/api/v1/me/", {"message_policy": "friends"}, format="json"), 400, "invalid")
    assert "message_policy" in error["fields"]
    alice.refresh_from_db()
    assert alice.message_policy == "everyone"


# ---- the schema -------------------------------------------------------------------------------


def test_schema_documents_the_social_endpoints(db):
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    assert "get" in paths["/api/v1/users/{handle}/"]
    assert {"post", "delete"} <= set(paths["/api/v1/users/{handle}/follow/"])
    assert {"post", "delete"} <= set(paths["/api/v1/users/{handle}/block/"])
    assert "get" in paths["/api/v1/me/blocked/"]
    operation_ids = {op["operationId"] for item in paths.values() for op in item.values() if isinstance(op, dict)}
    assert {
        "users_retrieve",
        "users_follow_create",
        "users_follow_destroy",
        "users_block_create",
        "users_block_destroy",
        "me_blocked_list",
    } <= operation_ids
    follow = paths["/api/v1/users/{handle}/follow/"]["post"]
    assert "requestBody" not in follow
    assert {"200", "400", "403", "404"} <= set(follow["responses"])
    assert follow["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/FollowResult")
    profile = schema["components"]["schemas"]["PublicProfile"]["properties"]
    assert set(profile) == PROFILE_KEYS

"""Who sees which post, through every read: the selectors and the API (timeline, detail, profile,
tag, explore, replies). Protected accounts, subscribers-only posts, blocks either way, hidden and
deleted posts, reposts of invisible posts, quotes of invisible posts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Block, Follow
from accounts.tests.factories import UserFactory
from social import selectors
from social.models import Audience, PostTag
from social.services.posts import post_delete, repost_create
from social.tests.factories import make_creator, make_paid_subscription, make_post, make_tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer():
    return UserFactory(handle="viewer")


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def tagged(post, tag="matrix"):
    PostTag.objects.create(post=post, tag=tag)
    return post


def where_seen(viewer, post) -> dict[str, bool]:
    """Whether ``post`` shows up for ``viewer`` in each read, selectors and API alike."""
    anonymous = viewer is None
    who = AnonymousUser() if anonymous else viewer
    client = api(viewer)
    seen = {
        "detail": client.get(f"/api/v1/posts/{post.pk}/").status_code == 200,
        "profile": post.pk in [p.pk for p in selectors.profile_posts(who, post.author, replies=True).posts],
        "profile_api": post.pk
        in [
            p["id"]
            for p in client.get(f"/api/v1/users/{post.author.handle}/posts/?replies=true").json().get("results", [])
        ],
        "tag": post.pk in [p.pk for p in selectors.tag_page(who, "matrix").posts],
        "tag_api": post.pk in [p["id"] for p in client.get("/api/v1/tags/matrix/posts/").json()["results"]],
        "explore": post.pk in [p.pk for p in selectors.explore_page(who)],
        "explore_api": post.pk in [p["id"] for p in client.get("/api/v1/explore/").json()["results"]],
    }
    try:
        selectors.post_for(who, post.pk)
        seen["post_for"] = True
    except selectors.PostNotFound:
        seen["post_for"] = False
    if not anonymous:
        seen["timeline"] = post.pk in [p.pk for p in selectors.timeline_page(who).posts]
        seen["timeline_api"] = post.pk in [p["id"] for p in client.get("/api/v1/timeline/").json()["results"]]
    if post.reply_to_id:
        seen["replies"] = post.pk in [
            p["id"] for p in client.get(f"/api/v1/posts/{post.reply_to_id}/replies/").json().get("results", [])
        ]
    return seen


def assert_nowhere(viewer, post):
    seen = where_seen(viewer, post)
    assert not any(seen.values()), seen


def assert_everywhere(viewer, post, *, except_: tuple[str, ...] = ()):
    seen = where_seen(viewer, post)
    missing = {k for k, v in seen.items() if not v} - set(except_)
    assert not missing, seen


def test_public_post_is_seen_everywhere(viewer):
    author = UserFactory()
    Follow.objects.create(follower=viewer, followee=author)
    post = tagged(make_post(author, "public"))
    assert_everywhere(viewer, post)
    assert_everywhere(None, post)


def test_protected_account(viewer):
    author = UserFactory(is_protected=True)
    post = tagged(make_post(author, "protected"))
    assert_nowhere(viewer, post)
    assert_nowhere(None, post)
    Follow.objects.create(follower=viewer, followee=author)
    # Followers see it everywhere but Explore (protected accounts never appear there).
    assert_everywhere(viewer, post, except_=("explore", "explore_api"))
    assert_everywhere(author, post, except_=("explore", "explore_api", "timeline", "timeline_api"))


@pytest.mark.parametrize("direction", ["author_blocked_viewer", "viewer_blocked_author"])
def test_blocks_either_way(viewer, direction):
    author = UserFactory()
    post = tagged(make_post(author, "blocked"))
    Follow.objects.create(follower=viewer, followee=author)
    assert_everywhere(viewer, post)
    if direction == "author_blocked_viewer":
        Block.objects.create(blocker=author, blocked=viewer)
    else:
        Block.objects.create(blocker=viewer, blocked=author)
    assert_nowhere(viewer, post)
    assert_everywhere(None, post, except_=())  # others still see it


def test_hidden_post_only_its_author_sees(viewer):
    author = UserFactory()
    Follow.objects.create(follower=viewer, followee=author)
    post = tagged(make_post(author, "hidden", hidden_at=timezone.now()))
    assert_nowhere(viewer, post)
    assert_nowhere(None, post)
    seen = where_seen(author, post)
    assert seen["detail"] and seen["profile"] and seen["post_for"] and seen["timeline"]
    assert not seen["explore"]


def test_deleted_post_is_gone(viewer):
    author = UserFactory()
    Follow.objects.create(follower=viewer, followee=author)
    post = tagged(make_post(author, "bye"))
    post_delete(author, post=post)
    assert_nowhere(viewer, post)
    assert_nowhere(author, post)


def test_inactive_author(viewer):
    author = UserFactory()
    post = tagged(make_post(author, "gone"))
    author.is_active = False
    author.save()
    assert_nowhere(viewer, post)


def test_reply_visibility_follows_its_own_author(viewer):
    root = make_post(UserFactory(), "root")
    protected = UserFactory(is_protected=True)
    reply = tagged(make_post(protected, "reply", reply_to=root, thread_root=root))
    assert_nowhere(viewer, reply)
    Follow.objects.create(follower=viewer, followee=protected)
    assert where_seen(viewer, reply)["replies"]


def test_subscribers_only_post_is_listed_but_locked(viewer):
    author = UserFactory()
    make_creator(author)
    Follow.objects.create(follower=viewer, followee=author)
    post = tagged(make_post(author, "secret text", audience=Audience.SUBSCRIBERS, teaser="a teaser"))
    # Listed (a locked card), never in Explore, nor on tag pages (its #tags are words of its text).
    assert_everywhere(viewer, post, except_=("explore", "explore_api", "tag", "tag_api"))
    data = api(viewer).get(f"/api/v1/posts/{post.pk}/").json()
    assert data["locked"] is True and data["text"] is None and data["images"] == [] and data["teaser"] == "a teaser"
    anon = api().get(f"/api/v1/posts/{post.pk}/").json()
    assert anon["locked"] is True and anon["text"] is None
    assert "secret text" not in api(viewer).get("/api/v1/timeline/").content.decode()
    assert selectors.post_for(viewer, post.pk).unlocked is False

    make_paid_subscription(viewer, make_tier(author))
    data = api(viewer).get(f"/api/v1/posts/{post.pk}/").json()
    assert data["locked"] is False and data["text"] == "secret text"
    assert selectors.post_for(viewer, post.pk).unlocked is True
    assert api(author).get(f"/api/v1/posts/{post.pk}/").json()["locked"] is False


def test_lapsed_subscription_locks_again(viewer):
    author = UserFactory()
    make_creator(author)
    sub = make_paid_subscription(viewer, make_tier(author))
    post = make_post(author, "secret", audience=Audience.SUBSCRIBERS)
    assert selectors.post_for(viewer, post.pk).unlocked
    sub.paid_until = timezone.now() - timezone.timedelta(seconds=1)
    sub.save()
    assert not selectors.post_for(viewer, post.pk).unlocked


def test_repost_of_an_invisible_post_is_invisible(viewer):
    reposter, author = UserFactory(), UserFactory()
    Follow.objects.create(follower=viewer, followee=reposter)
    original = make_post(author, "original")
    repost = repost_create(reposter, post=original)
    assert repost.pk in [p.pk for p in selectors.timeline_page(viewer).posts]
    Block.objects.create(blocker=author, blocked=viewer)
    assert repost.pk not in [p.pk for p in selectors.timeline_page(viewer).posts]
    assert api(viewer).get(f"/api/v1/posts/{repost.pk}/").status_code == 404


def test_repost_of_a_locked_post_nests_the_locked_original(viewer):
    reposter, author = UserFactory(), UserFactory()
    make_creator(author)
    original = make_post(author, "fans only", audience=Audience.SUBSCRIBERS, teaser="tease")
    repost = repost_create(reposter, post=original)
    data = api(viewer).get(f"/api/v1/posts/{repost.pk}/").json()
    assert data["kind"] == "repost" and data["repost_of"]["id"] == original.pk
    assert data["repost_of"]["locked"] is True and data["repost_of"]["text"] is None


def test_quote_of_an_invisible_post_is_unavailable(viewer):
    quoter, author = UserFactory(), UserFactory()
    quoted = make_post(author, "quoted")
    quote = make_post(quoter, "look at this", quote_of=quoted)
    data = api(viewer).get(f"/api/v1/posts/{quote.pk}/").json()
    assert data["quote_of"]["id"] == quoted.pk and data["quote_unavailable"] is False
    Block.objects.create(blocker=viewer, blocked=author)
    data = api(viewer).get(f"/api/v1/posts/{quote.pk}/").json()
    assert data["quote_of"] is None and data["quote_unavailable"] is True
    post = selectors.post_for(viewer, quote.pk)
    assert post.quote_visible is False


def test_replies_endpoint_hides_invisible_replies_and_404s_for_invisible_parents(viewer):
    root = make_post(UserFactory(), "root")
    visible = make_post(UserFactory(), "ok", reply_to=root, thread_root=root)
    blocker = UserFactory()
    Block.objects.create(blocker=blocker, blocked=viewer)
    make_post(blocker, "hidden from viewer", reply_to=root, thread_root=root)
    got = api(viewer).get(f"/api/v1/posts/{root.pk}/replies/").json()["results"]
    assert [p["id"] for p in got] == [visible.pk]
    assert api(viewer).get(f"/api/v1/posts/{make_post(blocker).pk}/replies/").status_code == 404

"""The posts API: create (JSON, multipart), detail, delete, like, repost, replies, timeline, pagination, errors."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import Follow
from accounts.tests.factories import UserFactory
from social.models import Like, Post
from social.tests.factories import make_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def me():
    return UserFactory(handle="me_api")


@pytest.fixture
def client(me):
    c = APIClient()
    c.force_authenticate(me)
    return c


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_create_json_and_read_back(client, me):
    response = client.post("/api/v1/posts/", {"text": " hello #world "}, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["text"] == "hello #world" and data["kind"] == "post" and data["author"]["handle"] == "me_api"
    assert data["locked"] is False and data["viewer_liked"] is False
    assert client.get(f"/api/v1/posts/{data['id']}/").json()["id"] == data["id"]


def test_create_multipart_with_images(client):
    response = client.post(
        "/api/v1/posts/",
        {"text": "pics", "images": [SimpleUploadedFile("a.png", png(), "image/png")]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    [image] = response.json()["images"]
    assert image["url"].endswith(f"/posts/{response.json()['id']}/images/0") and image["width"] == 8


@pytest.mark.parametrize(
    "body, field",
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 281}, "text"),
        ({"text": 12}, "text"),
        ({"text": "hi", "reply_to": "abc"}, "reply_to"),
        ({"text": "hi", "reply_to": True}, "reply_to"),
        ({"text": "hi", "audience": "friends"}, "audience"),
        ({"text": "hi", "audience": "subscribers"}, "audience"),
        ({"text": "hi", "surprise": 1}, "surprise"),
    ],
)
def test_create_errors_have_the_project_shape(client, body, field):
    response = client.post("/api/v1/posts/", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] and error["message"] and field in error["fields"]
    assert not Post.objects.exists()


def test_reply_to_missing_post_is_404(client):
    response = client.post("/api/v1/posts/", {"text": "hi", "reply_to": 999999}, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "post_not_found"


def test_anonymous_reads_but_cannot_write():
    anon = APIClient()
    post = make_post(text="public")
    assert anon.get(f"/api/v1/posts/{post.pk}/").status_code == 200
    assert anon.get("/api/v1/posts/").status_code == 200
    assert anon.get("/api/v1/explore/").status_code == 200
    assert anon.post("/api/v1/posts/", {"text": "x"}, format="json").status_code in (401, 403)
    assert anon.post(f"/api/v1/posts/{post.pk}/like/").status_code in (401, 403)
    assert anon.get("/api/v1/timeline/").status_code in (401, 403)


def test_like_and_repost_are_idempotent(client, me):
    post = make_post(text="likeable")
    for _ in range(2):
        response = client.post(f"/api/v1/posts/{post.pk}/like/")
        assert response.status_code == 200 and response.json() == {"liked": True, "like_count": 1}
    assert client.get(f"/api/v1/posts/{post.pk}/").json()["viewer_liked"] is True
    assert client.delete(f"/api/v1/posts/{post.pk}/like/").json() == {"liked": False, "like_count": 0}
    assert client.delete(f"/api/v1/posts/{post.pk}/like/").json() == {"liked": False, "like_count": 0}
    assert not Like.objects.exists()

    first = client.post(f"/api/v1/posts/{post.pk}/repost/").json()
    again = client.post(f"/api/v1/posts/{post.pk}/repost/").json()
    assert first == again and first["repost_count"] == 1
    assert client.delete(f"/api/v1/posts/{post.pk}/repost/").json()["repost_count"] == 0
    assert client.post("/api/v1/posts/abc/like/").status_code == 404
    assert client.post(f"/api/v1/posts/{post.pk}/like/", {"x": 1}, format="json").status_code == 400


def test_delete_own_post_only(client, me):
    mine = make_post(me)
    theirs = make_post()
    assert client.delete(f"/api/v1/posts/{theirs.pk}/").status_code == 403
    assert client.delete(f"/api/v1/posts/{mine.pk}/").status_code == 204
    assert client.delete(f"/api/v1/posts/{mine.pk}/").status_code == 204  # idempotent
    assert client.get(f"/api/v1/posts/{mine.pk}/").status_code == 404


def test_timeline_api_paginates_without_gaps_while_posts_arrive(client, me):
    friend = UserFactory()
    Follow.objects.create(follower=me, followee=friend)
    expected = [make_post(friend, f"p{i}").pk for i in range(7)]
    seen, url = [], "/api/v1/timeline/?limit=3"
    while url:
        body = client.get(url).json()
        seen += [p["id"] for p in body["results"]]
        make_post(friend, "arrived meanwhile")
        url = body["next"]
    assert seen == sorted(expected, reverse=True)
    assert client.get("/api/v1/timeline/?before=abc").status_code == 400
    assert client.get("/api/v1/timeline/?limit=1000").status_code == 400


def test_new_count(client, me):
    friend = UserFactory()
    Follow.objects.create(follower=me, followee=friend)
    first = make_post(friend)
    make_post(friend)
    make_post(me)
    assert client.get(f"/api/v1/timeline/new-count/?after={first.pk}").json() == {"count": 2}
    assert client.get("/api/v1/timeline/new-count/").status_code == 400


def test_nested_repost_and_quote(client, me):
    original = make_post(text="original")
    quote = make_post(text="quoting", quote_of=original)
    reposted = client.post(f"/api/v1/posts/{quote.pk}/repost/").json()
    data = client.get(f"/api/v1/posts/{reposted['repost_id']}/").json()
    assert data["kind"] == "repost" and data["text"] is not None
    assert data["repost_of"]["id"] == quote.pk and data["repost_of"]["quote_of"]["id"] == original.pk
    assert data["viewer_reposted"] is True


@pytest.mark.parametrize("follows", [2, 30])
def test_timeline_api_query_count_is_bounded(client, me, follows, django_assert_max_num_queries):
    for i in range(follows):
        author = UserFactory()
        Follow.objects.create(follower=me, followee=author)
        post = make_post(author, f"p{i}")
        make_post(author, "quote", quote_of=post)
    with django_assert_max_num_queries(6):  # session/user, follows, ids, rows, the images at once
        response = client.get("/api/v1/timeline/")
    assert response.status_code == 200 and len(response.json()["results"]) == min(20, 2 * follows)


def test_user_posts_and_tags(client):
    author = UserFactory(handle="tagger")
    client.force_authenticate(author)
    client.post("/api/v1/posts/", {"text": "#Café time"}, format="json")
    assert len(client.get("/api/v1/tags/café/posts/").json()["results"]) == 1
    assert len(client.get("/api/v1/users/tagger/posts/").json()["results"]) == 1
    assert client.get("/api/v1/users/nobody_here/posts/").status_code == 404
    assert client.get("/api/v1/users/tagger/posts/?replies=maybe").status_code == 400

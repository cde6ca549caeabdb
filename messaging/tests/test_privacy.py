"""Privacy over HTTP: a conversation exists only for its active members.

Anyone else — a stranger, someone who left or was removed, someone who hid a 1:1
by blocking — gets 404 (never 403: the answer must not reveal that it exists) for
the page, its fragments, its receipts, its attachments, its search results and
every action, and nothing changes. Websocket privacy is in test_live.py.
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts.models import Block, Follow
from accounts.tests.factories import UserFactory
from messaging import services
from messaging.attachments import attachments_prepare
from messaging.models import Membership, Message, Reaction

pytestmark = pytest.mark.django_db

FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), "red").save(buffer, format="PNG")
    return SimpleUploadedFile("photo.png", buffer.getvalue(), content_type="image/png")


@pytest.fixture
def world(settings, tmp_path):
    """ann and ben talk 1:1 and in a group, with a photo; cat is in neither."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    ann, ben, cat = (UserFactory(handle=h, display_name=h.title()) for h in ("ann", "ben", "cat"))
    Follow.objects.create(follower=ben, followee=ann)
    direct = services.conversation_direct_open(ann, other=ben)
    group = services.conversation_group_create(ann, name="Secret club", members=[ben])
    message = services.message_post(ann, conversation=direct, body="the secret is 42")
    photo = services.message_post(ann, conversation=direct, body="", attachments=attachments_prepare(ann, [png()]))
    group_message = services.message_post(ben, conversation=group, body="club secret")
    return {
        "ann": ann,
        "ben": ben,
        "cat": cat,
        "direct": direct,
        "group": group,
        "message": message,
        "photo": photo,
        "attachment": photo.attachments.get(),
        "group_message": group_message,
    }


def every_url(conversation_id: int, message_id: int) -> tuple[list[str], list[tuple[str, dict]]]:
    """(GET urls, POST (url, data)) of everything about one conversation."""
    pk, mid = conversation_id, message_id
    gets = [
        reverse("messaging:conversation", args=[pk]),
        reverse("messaging:conversation", args=[pk]) + "?partial=header",
        reverse("messaging:conversation", args=[pk]) + f"?before={mid}",
        reverse("messaging:fragment", args=[pk]) + "?after=0",
        reverse("messaging:fragment", args=[pk]) + f"?id={mid}",
        reverse("messaging:fragment", args=[pk]) + f"?before={mid + 1}",
        reverse("messaging:fragment", args=[pk]),
        reverse("messaging:receipts", args=[pk]),
        reverse("messaging:edit", args=[pk, mid]),
        reverse("messaging:delete", args=[pk, mid]),
    ]
    posts = [
        (reverse("messaging:post", args=[pk]), {"body": "let me in"}),
        (reverse("messaging:read", args=[pk]), {"up_to_id": str(mid)}),
        (reverse("messaging:accept", args=[pk]), {}),
        (reverse("messaging:leave", args=[pk]), {}),
        (reverse("messaging:mute", args=[pk]), {"muted": "1"}),
        (reverse("messaging:rename", args=[pk]), {"name": "Mine"}),
        (reverse("messaging:members_add", args=[pk]), {"members": "@cat"}),
        (reverse("messaging:member_remove", args=[pk]), {"member": "ben"}),
        (reverse("messaging:edit", args=[pk, mid]), {"body": "changed"}),
        (reverse("messaging:react", args=[pk, mid]), {"emoji": "👍"}),
        (reverse("messaging:delete", args=[pk, mid]), {}),
    ]
    return gets, posts


def snapshot():
    return (
        list(Message.objects.order_by("id").values_list("id", "body", "edited_at", "deleted_at")),
        list(
            Membership.objects.order_by("id").values_list(
                "id", "is_active", "muted", "accepted", "last_read_message_id", "role"
            )
        ),
        Reaction.objects.count(),
    )


def assert_all_404(client, conversation_id: int, message_id: int) -> None:
    gets, posts = every_url(conversation_id, message_id)
    before = snapshot()
    for url in gets:
        for extra in ({}, FETCH):
            response = client.get(url, **extra)
            assert response.status_code == 404, f"GET {url} {extra} answered {response.status_code}"
    for url, data in posts:
        for extra in ({}, FETCH):
            response = client.post(url, data, **extra)
            assert response.status_code == 404, f"POST {url} {extra} answered {response.status_code}"
    assert snapshot() == before, "a non-member changed something"


def test_a_stranger_gets_404_for_everything_of_a_direct_conversation(world):
    assert_all_404(client_for(world["cat"]), world["direct"].pk, world["message"].pk)


def test_a_stranger_gets_404_for_everything_of_a_group(world):
    assert_all_404(client_for(world["cat"]), world["group"].pk, world["group_message"].pk)


def test_members_do_get_them(world):
    client = client_for(world["ben"])
    gets, _ = every_url(world["direct"].pk, world["message"].pk)
    statuses = {url: client.get(url).status_code for url in gets}
    # ben may not edit or delete ann's message: those two are 404 for him too; the rest is his.
    assert [url for url, status in statuses.items() if status != 200] == [
        reverse("messaging:edit", args=[world["direct"].pk, world["message"].pk]),
        reverse("messaging:delete", args=[world["direct"].pk, world["message"].pk]),
    ]
    assert client_for(world["ann"]).get(gets[-1]).status_code == 200  # the sender's delete page


def test_a_missing_conversation_looks_exactly_like_someone_elses(world):
    client = client_for(world["cat"])
    missing = client.get(reverse("messaging:conversation", args=[999_999]))
    theirs = client.get(reverse("messaging:conversation", args=[world["direct"].pk]))
    assert missing.status_code == theirs.status_code == 404
    # The page's CSRF token is masked afresh on every response: compare everything else.
    token = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')
    assert token.sub(b"", missing.content) == token.sub(b"", theirs.content)


def test_attachments_are_served_to_members_only(world):
    url = reverse("messaging:attachment", args=[world["attachment"].pk])
    response = client_for(world["ben"]).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    # Reading it to the end closes it the test client's way (a bare response.close() would fire
    # request_finished and close the test database connection on PostgreSQL).
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert client_for(world["cat"]).get(url).status_code == 404
    assert Client().get(url).status_code in (302, 404)  # anonymous: log in first, never the file
    page = client_for(world["ben"]).get(reverse("messaging:conversation", args=[world["direct"].pk]))
    assert f'<img src="{url}"' in page.content.decode()


def test_a_stranger_finds_nothing_in_search_and_inbox(world):
    client = client_for(world["cat"])
    search = client.get(reverse("messaging:search") + "?q=secret")
    assert search.status_code == 200
    assert "the secret is 42" not in search.content.decode() and "club secret" not in search.content.decode()
    inbox = client.get(reverse("messaging:inbox"))
    assert inbox.context["rows"] == [] and "Secret club" not in inbox.content.decode()
    assert client.get(reverse("messaging:unread")).json() == {"unread": 0, "requests": 0}


def test_leaving_or_being_removed_ends_access(world):
    ann, ben, group = world["ann"], world["ben"], world["group"]
    services.group_member_remove(ann, conversation=group, member=ben)
    assert_all_404(client_for(ben), group.pk, world["group_message"].pk)
    services.conversation_leave(ann, conversation=world["direct"])
    assert client_for(ann).get(reverse("messaging:conversation", args=[world["direct"].pk])).status_code == 404


def test_blocking_hides_the_thread_from_the_blocker(world):
    Block.objects.create(blocker=world["ben"], blocked=world["ann"])
    assert_all_404(client_for(world["ben"]), world["direct"].pk, world["message"].pk)
    url = reverse("messaging:attachment", args=[world["attachment"].pk])
    assert client_for(world["ben"]).get(url).status_code == 404


def test_a_message_id_from_another_conversation_is_404_even_for_a_member(world):
    ann, cat = world["ann"], world["cat"]
    Follow.objects.create(follower=cat, followee=ann)
    elsewhere = services.conversation_direct_open(ann, other=cat)
    # ann is a member of both, but the message does not belong to this conversation.
    client = client_for(ann)
    for name in ("edit", "delete", "react"):
        url = reverse(f"messaging:{name}", args=[elsewhere.pk, world["message"].pk])
        assert client.post(url, {"body": "x", "emoji": "👍"}).status_code == 404
    # cat uses her own conversation's id to reach ann's 1:1 message: still 404.
    cat_client = client_for(cat)
    assert (
        cat_client.post(
            reverse("messaging:react", args=[elsewhere.pk, world["message"].pk]), {"emoji": "👍"}
        ).status_code
        == 404
    )
    fragment = cat_client.get(reverse("messaging:fragment", args=[elsewhere.pk]) + f"?id={world['message'].pk}")
    assert fragment.status_code == 404
    assert not Reaction.objects.exists()


def test_anonymous_visitors_are_sent_to_log_in(world):
    gets, posts = every_url(world["direct"].pk, world["message"].pk)
    client = Client()
    for url in gets:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    for url, data in posts:
        response = client.post(url, data)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url

"""The messaging API: contract, ?after= catch-up, privacy 404s, strict input (400s), bounded queries."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import Follow, MessagePolicy
from accounts.tests.factories import UserFactory
from messaging import services
from messaging.attachments import attachment_storage
from messaging.models import Attachment, Membership, Message, Report

API = "/api/v1"


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path, monkeypatch):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private-media"
    monkeypatch.setattr(Attachment._meta.get_field("file"), "storage", attachment_storage())


@pytest.fixture
def people(db):
    ann = UserFactory(handle="ann", display_name="Ann Archer", verified=True)
    ben = UserFactory(handle="ben", display_name="Ben Baker", verified=True)
    cat = UserFactory(handle="cat", display_name="Cat Cole", verified=True)
    Follow.objects.create(follower=ben, followee=ann)
    return ann, ben, cat


@pytest.fixture
def direct(people):
    ann, ben, _ = people
    return services.conversation_direct_open(ann, other=ben)


def client_for(user) -> APIClient:
    api = APIClient()
    api.force_login(user)
    return api


def error_code(response) -> str:
    return response.json()["error"]["code"]


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 16), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- Conversations ----------------------------------------------------------------------------


def test_inbox_lists_conversations_with_their_shape(people, direct):
    ann, ben, cat = people
    services.message_post(ann, conversation=direct, body="hello ben")
    services.message_post(ann, conversation=direct, body="are you there?")
    response = client_for(ben).get(f"{API}/conversations/")
    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item["id"] == direct.pk and item["kind"] == "direct" and item["name"] == "Ann Archer"
    assert item["unread"] == 2 and item["muted"] is False and item["accepted"] is True
    assert {m["handle"] for m in item["members"]} == {"ann", "ben"}
    assert set(item["members"][0]) >= {"handle", "name", "avatar_url", "role"}
    assert item["last_message"]["body"] == "are you there?"
    assert item["last_message"]["sender"]["handle"] == "ann"
    assert client_for(cat).get(f"{API}/conversations/").json()["results"] == []


def test_requests_folder_and_accept(people):
    ann, _ben, cat = people
    conv = services.conversation_direct_open(cat, other=ann)  # ann doesn't follow cat
    services.message_post(cat, conversation=conv, body="hi, we met at the conference")
    api = client_for(ann)
    assert api.get(f"{API}/conversations/").json()["results"] == []
    [item] = api.get(f"{API}/conversations/", {"folder": "requests"}).json()["results"]
    assert item["id"] == conv.pk and item["accepted"] is False
    response = api.post(f"{API}/conversations/{conv.pk}/accept/")
    assert response.status_code == 200 and response.json()["accepted"] is True
    assert [c["id"] for c in api.get(f"{API}/conversations/").json()["results"]] == [conv.pk]
    assert api.get(f"{API}/conversations/", {"folder": "spam"}).status_code == 400


def test_inbox_pagination_and_forged_cursors(people):
    ann = people[0]
    for i in range(5):
        other = UserFactory(handle=f"p{i}")
        Follow.objects.create(follower=other, followee=ann)
        services.message_post(ann, conversation=services.conversation_direct_open(ann, other=other), body=f"{i}")
    api = client_for(ann)
    first = api.get(f"{API}/conversations/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()
    names = [c["name"] for page in (first, second, third) for c in page["results"]]
    assert names == ["P4", "P3", "P2", "P1", "P0"] and third["next"] is None
    for cursor in ["zzz", "cD0yMDI1LTEzLTQwIDAwOjAwOjAwKzAwOjAw", "cD1hYmM="]:  # garbage, p=2025-13-40…, p=abc
        assert api.get(f"{API}/conversations/", {"cursor": cursor}).status_code == 404


def test_start_a_direct_conversation_or_a_group(people):
    ann, ben, cat = people
    api = client_for(ann)
    response = api.post(f"{API}/conversations/", {"with": "@ben"}, format="json")
    assert response.status_code == 200 and response.json()["kind"] == "direct"
    again = api.post(f"{API}/conversations/", {"with": "ben"}, format="json")
    assert again.json()["id"] == response.json()["id"]  # never duplicated
    group = api.post(f"{API}/conversations/", {"name": "Trip", "members": ["@ben", "@cat"]}, format="json")
    assert group.status_code == 201
    body = group.json()
    assert body["kind"] == "group" and body["name"] == "Trip" and body["role"] == "admin"
    assert {m["handle"]: m["role"] for m in body["members"]} == {"ann": "admin", "ben": "member", "cat": "member"}
    cat.message_policy = MessagePolicy.NOBODY
    cat.save(update_fields=["message_policy"])
    refused = client_for(ben).post(f"{API}/conversations/", {"with": "@cat"}, format="json")
    assert refused.status_code == 403 and error_code(refused) == "messaging_not_allowed"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"with": 12},
        {"with": ["@ben"]},
        {"with": "@ben", "name": "x", "members": []},
        {"name": "Trip"},
        {"name": "Trip", "members": "@ben"},
        {"name": 5, "members": ["@ben"]},
        {"name": "Trip", "members": [1, 2]},
        {"name": "Trip", "members": [{"handle": "ben"}]},
        {"name": "", "members": ["@ben"]},
        {"name": "Trip", "members": [f"@u{i}" for i in range(60)]},
        {"with": "@nobody-by-that-name"},
        {"with": "@ann"},
        [1, 2],
        "hello",
    ],
)
def test_start_refuses_bad_input_with_400(people, body):
    response = client_for(people[0]).post(f"{API}/conversations/", body, format="json")
    assert response.status_code == 400, response.content
    assert "error" in response.json()


def test_malformed_json_is_400(people, direct):
    api = client_for(people[0])
    for raw in ['{"with": ', '{"body": "\\u0000"}', "[" * 100 + "]" * 100]:
        response = api.post(f"{API}/conversations/{direct.pk}/messages/", raw, content_type="application/json")
        assert response.status_code == 400


def test_detail_and_privacy(people, direct):
    _ann, ben, cat = people
    assert client_for(ben).get(f"{API}/conversations/{direct.pk}/").json()["id"] == direct.pk
    stranger = client_for(cat)
    for method, url in [
        ("get", f"/conversations/{direct.pk}/"),
        ("post", f"/conversations/{direct.pk}/accept/"),
        ("post", f"/conversations/{direct.pk}/leave/"),
        ("post", f"/conversations/{direct.pk}/mute/"),
        ("post", f"/conversations/{direct.pk}/read/"),
        ("get", f"/conversations/{direct.pk}/members/"),
        ("post", f"/conversations/{direct.pk}/members/"),
        ("delete", f"/conversations/{direct.pk}/members/ben/"),
        ("get", f"/conversations/{direct.pk}/messages/"),
        ("post", f"/conversations/{direct.pk}/messages/"),
        ("get", "/conversations/999999/"),
        ("get", "/conversations/99999999999999999999/"),
    ]:
        response = getattr(stranger, method)(
            f"{API}{url}", {"muted": True, "members": ["@cat"], "body": "hi"}, format="json"
        )
        assert response.status_code == 404, (method, url, response.status_code)
        assert error_code(response) == "conversation_not_found"
    assert not Message.objects.filter(sender=cat).exists()


def test_anonymous_is_refused(db):
    assert APIClient().get(f"{API}/conversations/").status_code == 403


def test_mute_read_and_leave(people, direct):
    ann, ben, _ = people
    m1 = services.message_post(ann, conversation=direct, body="one")
    services.message_post(ann, conversation=direct, body="two")
    api = client_for(ben)
    assert api.post(f"{API}/conversations/{direct.pk}/mute/", {"muted": True}, format="json").json()["muted"] is True
    for bad in [{"muted": "yes"}, {"muted": 1}, {}, {"muted": None}]:
        response = api.post(f"{API}/conversations/{direct.pk}/mute/", bad, format="json")
        assert response.status_code == 400, bad
    response = api.post(f"{API}/conversations/{direct.pk}/read/", {"up_to_id": m1.pk}, format="json")
    assert response.json() == {"last_read_message_id": m1.pk}
    assert api.get(f"{API}/conversations/{direct.pk}/").json()["unread"] == 1
    for bad in [{"up_to_id": "x"}, {"up_to_id": True}, {"up_to_id": -1}, {"up_to_id": 1.5}, {"up_to_id": 2**70}]:
        assert api.post(f"{API}/conversations/{direct.pk}/read/", bad, format="json").status_code == 400, bad
    assert api.post(f"{API}/conversations/{direct.pk}/read/").json()["last_read_message_id"] > m1.pk
    assert api.get(f"{API}/conversations/{direct.pk}/").json()["unread"] == 0
    assert api.post(f"{API}/conversations/{direct.pk}/leave/").status_code == 204
    assert api.get(f"{API}/conversations/{direct.pk}/").status_code == 404


def test_members_admin_only(people):
    ann, ben, cat = people
    Follow.objects.create(follower=cat, followee=ann)
    UserFactory(handle="dan", verified=True)
    group = services.conversation_group_create(ann, name="Trip", members=[ben])
    admin_api, member_api = client_for(ann), client_for(ben)
    listed = member_api.get(f"{API}/conversations/{group.pk}/members/").json()
    assert [m["handle"] for m in listed] == ["ann", "ben"]
    refused = member_api.post(f"{API}/conversations/{group.pk}/members/", {"members": ["@cat"]}, format="json")
    assert refused.status_code == 403 and error_code(refused) == "not_group_admin"
    added = admin_api.post(f"{API}/conversations/{group.pk}/members/", {"members": ["@cat", "@dan"]}, format="json")
    assert added.status_code == 200 and [m["handle"] for m in added.json()] == ["ann", "ben", "cat", "dan"]
    for bad in [{"members": []}, {"members": "@cat"}, {"members": [7]}, {}]:
        assert admin_api.post(f"{API}/conversations/{group.pk}/members/", bad, format="json").status_code == 400
    assert member_api.delete(f"{API}/conversations/{group.pk}/members/cat/").status_code == 403
    assert admin_api.delete(f"{API}/conversations/{group.pk}/members/@cat/").status_code == 204
    assert not Membership.objects.get(conversation=group, user=cat).is_active
    assert client_for(cat).get(f"{API}/conversations/{group.pk}/").status_code == 404
    assert admin_api.delete(f"{API}/conversations/{group.pk}/members/cat/").status_code == 404
    assert admin_api.delete(f"{API}/conversations/{group.pk}/members/ann/").status_code == 400


# --- Messages ---------------------------------------------------------------------------------


def test_messages_newest_first_and_after_catch_up(people, direct):
    ann, ben, _ = people
    posted = [services.message_post(ann if i % 2 else ben, conversation=direct, body=f"m{i}") for i in range(7)]
    api = client_for(ben)
    page = api.get(f"{API}/conversations/{direct.pk}/messages/", {"page_size": 3}).json()
    assert [m["body"] for m in page["results"]] == ["m6", "m5", "m4"]
    older = api.get(page["next"]).json()
    assert [m["body"] for m in older["results"]] == ["m3", "m2", "m1"]
    # After a reconnect: everything newer than the last id seen, oldest first, nothing twice.
    caught = api.get(f"{API}/conversations/{direct.pk}/messages/", {"after": posted[2].pk}).json()
    assert [m["id"] for m in caught["results"]] == [m.pk for m in posted[3:]]
    paged = api.get(f"{API}/conversations/{direct.pk}/messages/", {"after": posted[1].pk, "page_size": 2}).json()
    rest = api.get(paged["next"]).json()
    rest2 = api.get(rest["next"]).json()
    assert [m["id"] for p in (paged, rest, rest2) for m in p["results"]] == [m.pk for m in posted[2:]]
    assert rest2["next"] is None
    latest = api.get(f"{API}/conversations/{direct.pk}/messages/", {"after": posted[-1].pk}).json()
    assert latest["results"] == [] and latest["next"] is None
    assert set(caught["results"][0]) == set(services.message_serialize(posted[3]))
    for bad in ["abc", "-1", "1.5", "٣", "9" * 30, ""]:
        response = api.get(f"{API}/conversations/{direct.pk}/messages/", {"after": bad})
        assert response.status_code == 400, bad


def test_send_reply_edit_delete_and_react(people, direct):
    ann, ben, cat = people
    api = client_for(ann)
    first = api.post(f"{API}/conversations/{direct.pk}/messages/", {"body": "hi <b>ben</b>"}, format="json")
    assert first.status_code == 201
    sent = first.json()
    assert sent["body"] == "hi <b>ben</b>" and sent["sender"]["handle"] == "ann" and sent["kind"] == "text"
    reply = client_for(ben).post(
        f"{API}/conversations/{direct.pk}/messages/", {"body": "hey", "reply_to": sent["id"]}, format="json"
    )
    assert reply.status_code == 201 and reply.json()["reply_to"] == sent["id"]

    edited = api.patch(f"{API}/messages/{sent['id']}/", {"body": "hi ben"}, format="json")
    assert edited.status_code == 200 and edited.json()["body"] == "hi ben" and edited.json()["edited_at"]
    assert client_for(ben).patch(f"{API}/messages/{sent['id']}/", {"body": "x"}, format="json").status_code == 403
    Message.objects.filter(pk=sent["id"]).update(created_at=timezone.now() - timedelta(minutes=16))
    late = api.patch(f"{API}/messages/{sent['id']}/", {"body": "too late"}, format="json")
    assert late.status_code == 409 and error_code(late) == "edit_window_passed"

    on = client_for(ben).post(f"{API}/messages/{sent['id']}/reactions/", {"emoji": "👍"}, format="json")
    assert on.status_code == 200 and on.json()["on"] is True
    assert on.json()["message"]["reactions"] == [{"emoji": "👍", "count": 1, "user_ids": [ben.pk]}]
    off = client_for(ben).post(f"{API}/messages/{sent['id']}/reactions/", {"emoji": "👍"}, format="json")
    assert off.json()["on"] is False and off.json()["message"]["reactions"] == []
    for bad in [{"emoji": "abc"}, {"emoji": 1}, {}, {"emoji": "👍" * 40}]:
        assert api.post(f"{API}/messages/{sent['id']}/reactions/", bad, format="json").status_code == 400, bad

    gone = api.delete(f"{API}/messages/{sent['id']}/")
    assert gone.status_code == 200 and gone.json()["deleted"] is True and gone.json()["body"] == ""
    assert client_for(ben).get(f"{API}/messages/{sent['id']}/").json()["deleted"] is True

    stranger = client_for(cat)
    for method in ("get", "patch", "delete"):
        response = getattr(stranger, method)(f"{API}/messages/{reply.json()['id']}/", {"body": "x"}, format="json")
        assert response.status_code == 404 and error_code(response) == "message_not_found"
    assert (
        stranger.post(f"{API}/messages/{reply.json()['id']}/reactions/", {"emoji": "👍"}, format="json").status_code
        == 404
    )
    assert stranger.get(f"{API}/messages/99999999999999999999/").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"body": 123},
        {"body": ["hi"]},
        {"body": None},
        {"body": ""},
        {"body": "   "},
        {"body": "x" * 10_001},
        {"body": "hi", "reply_to": "abc"},
        {"body": "hi", "reply_to": True},
        {"body": "hi", "reply_to": 1.0},
        {"body": "hi", "reply_to": 2**64},
        {"body": "hi", "reply_to": {"id": 1}},
    ],
)
def test_send_refuses_bad_input_with_400(people, direct, body):
    response = client_for(people[0]).post(f"{API}/conversations/{direct.pk}/messages/", body, format="json")
    assert response.status_code == 400, response.content
    assert not Message.objects.exists()


def test_reply_to_a_message_of_another_conversation_is_404(people, direct):
    ann, _, cat = people
    elsewhere = services.message_post(cat, conversation=services.conversation_direct_open(cat, other=ann), body="x")
    response = client_for(ann).post(
        f"{API}/conversations/{direct.pk}/messages/", {"body": "hi", "reply_to": elsewhere.pk}, format="json"
    )
    assert response.status_code == 404


def test_send_with_attachments_multipart(people, direct):
    ann, ben, cat = people
    api = client_for(ann)
    response = api.post(
        f"{API}/conversations/{direct.pk}/messages/",
        {
            "body": "the photo and the invoice",
            "files": [
                SimpleUploadedFile("photo.png", png(), "image/png"),
                SimpleUploadedFile("invoice.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf"),
            ],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    attachments = response.json()["attachments"]
    assert [(a["name"], a["content_type"], a["is_image"]) for a in attachments] == [
        ("photo.png", "image/png", True),
        ("invoice.pdf", "application/pdf", False),
    ]
    assert (attachments[0]["width"], attachments[0]["height"]) == (32, 16)
    web = APIClient()
    web.force_login(ben)
    assert web.get(attachments[0]["url"]).status_code == 200
    api_file = client_for(ben).get(f"{API}/attachments/{attachments[1]['id']}/")
    assert api_file.status_code == 200 and b"".join(api_file.streaming_content).startswith(b"%PDF-")
    assert api_file["Content-Type"] == "application/pdf" and api_file["X-Content-Type-Options"] == "nosniff"
    assert api_file["Content-Disposition"].startswith("attachment")
    web.force_login(cat)
    assert web.get(attachments[0]["url"]).status_code == 404
    refused = client_for(cat).get(f"{API}/attachments/{attachments[1]['id']}/")
    assert refused.status_code == 404 and error_code(refused) == "attachment_not_found"

    only_files = api.post(
        f"{API}/conversations/{direct.pk}/messages/",
        {"files": [SimpleUploadedFile("a.png", png())], "reply_to": str(response.json()["id"])},
        format="multipart",
    )
    assert only_files.status_code == 201 and only_files.json()["reply_to"] == response.json()["id"]

    fake = api.post(
        f"{API}/conversations/{direct.pk}/messages/",
        {"body": "x", "files": [SimpleUploadedFile("evil.png", b"<script>alert(1)</script>", "image/png")]},
        format="multipart",
    )
    assert fake.status_code == 400 and error_code(fake) == "invalid_attachment"
    too_many = api.post(
        f"{API}/conversations/{direct.pk}/messages/",
        {"files": [SimpleUploadedFile(f"{i}.png", png()) for i in range(5)]},
        format="multipart",
    )
    assert too_many.status_code == 400
    assert Message.objects.count() == 2

    stranger = client_for(cat).post(
        f"{API}/conversations/{direct.pk}/messages/",
        {"body": "x", "files": [SimpleUploadedFile("evil.png", b"not an image")]},
        format="multipart",
    )
    assert stranger.status_code == 404  # not a 400 about the file: nothing about the conversation leaks


def test_an_idempotency_key_sends_once(people, direct):
    api = client_for(people[0])
    url = f"{API}/conversations/{direct.pk}/messages/"
    first = api.post(url, {"body": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post(url, {"body": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert Message.objects.filter(body="once").count() == 1


# --- Search and reports -------------------------------------------------------------------------


def test_search_api(people, direct):
    ann, ben, cat = people
    services.message_post(ann, conversation=direct, body="<i>pizza</i> tonight?")
    response = client_for(ben).get(f"{API}/messages/search/", {"q": "pizza"})
    assert response.status_code == 200
    [hit] = response.json()["results"]
    assert hit["message"]["body"] == "<i>pizza</i> tonight?"
    assert hit["conversation"] == {"id": direct.pk, "kind": "direct", "name": "Ann Archer"}
    assert "<mark>pizza</mark>" in hit["snippet_html"] and "&lt;i&gt;" in hit["snippet_html"]
    assert client_for(cat).get(f"{API}/messages/search/", {"q": "pizza"}).json()["results"] == []
    assert client_for(ben).get(f"{API}/messages/search/", {"q": "x" * 201}).status_code == 400
    for limit in ["0", "abc", "201", "-1"]:
        assert client_for(ben).get(f"{API}/messages/search/", {"q": "pizza", "limit": limit}).status_code == 400
    assert client_for(ben).get(f"{API}/messages/search/").json()["results"] == []


def test_reports_api(people, direct):
    ann, ben, cat = people
    message = services.message_post(ann, conversation=direct, body="buy my crypto course")
    api = client_for(ben)
    body = {"conversation": direct.pk, "message": message.pk, "reason": "scam", "details": "spam link"}
    created = api.post(f"{API}/reports/", body, format="json")
    assert created.status_code == 201
    assert created.json()["status"] == "open" and created.json()["message"] == message.pk
    duplicate = api.post(f"{API}/reports/", body, format="json")
    assert duplicate.status_code == 200 and duplicate.json()["id"] == created.json()["id"]
    assert api.post(f"{API}/reports/", {"conversation": direct.pk, "reason": "spam"}, format="json").status_code == 201
    stranger = client_for(cat).post(f"{API}/reports/", body, format="json")
    assert stranger.status_code == 404
    for bad in [
        {"conversation": direct.pk, "reason": "boring"},
        {"conversation": direct.pk},
        {"conversation": "abc", "reason": "spam"},
        {"conversation": True, "reason": "spam"},
        {"conversation": direct.pk, "reason": "spam", "details": 5},
        {"conversation": direct.pk, "reason": "spam", "details": "x" * 2001},
        {"conversation": direct.pk, "message": "x", "reason": "spam"},
    ]:
        assert api.post(f"{API}/reports/", bad, format="json").status_code == 400, bad
    assert Report.objects.count() == 2


# --- Query counts -----------------------------------------------------------------------------


def test_list_endpoints_run_a_bounded_number_of_queries(people, django_assert_max_num_queries):
    ann, ben, _ = people
    group = services.conversation_group_create(ann, name="Many", members=[ben])
    for i in range(25):
        other = UserFactory(handle=f"q{i}")
        Follow.objects.create(follower=other, followee=ann)
        conv = services.conversation_direct_open(ann, other=other)
        message = services.message_post(other, conversation=conv, body=f"hello {i}")
        services.reaction_toggle(ann, message=message, emoji="👍")
        services.message_post(ann, conversation=group, body=f"group {i}")
        services.message_post(ben, conversation=group, body=f"reply {i}")
    api = client_for(ann)
    with django_assert_max_num_queries(12):
        response = api.get(f"{API}/conversations/")
    assert len(response.json()["results"]) == 26
    with django_assert_max_num_queries(12):
        response = api.get(f"{API}/conversations/{group.pk}/messages/")
    assert len(response.json()["results"]) == 50
    with django_assert_max_num_queries(12):
        api.get(f"{API}/conversations/{group.pk}/messages/", {"after": 0, "page_size": 200})
    with django_assert_max_num_queries(12):
        response = api.get(f"{API}/messages/search/", {"q": "hello"})
    assert len(response.json()["results"]) == 25
    with django_assert_max_num_queries(10):
        api.get(f"{API}/conversations/{group.pk}/members/")


# --- Schema -----------------------------------------------------------------------------------


def test_schema_documents_the_routes(people):
    response = client_for(people[0]).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for route in [
        "/api/v1/conversations/",
        "/api/v1/conversations/{id}/",
        "/api/v1/conversations/{id}/accept/",
        "/api/v1/conversations/{id}/leave/",
        "/api/v1/conversations/{id}/mute/",
        "/api/v1/conversations/{id}/read/",
        "/api/v1/conversations/{id}/members/",
        "/api/v1/conversations/{id}/members/{handle}/",
        "/api/v1/conversations/{id}/messages/",
        "/api/v1/messages/{id}/",
        "/api/v1/messages/{id}/reactions/",
        "/api/v1/messages/search/",
        "/api/v1/reports/",
        "/api/v1/attachments/{id}/",
    ]:
        assert route in paths, route
    messages = paths["/api/v1/conversations/{id}/messages/"]
    assert any(p["name"] == "after" for p in messages["get"]["parameters"])
    assert "multipart/form-data" in messages["post"]["requestBody"]["content"]


def test_schema_generation_raises_no_warnings_for_messaging():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        SchemaGenerator(patterns=None).get_schema(request=None, public=True)
    problems = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    words = ("messaging", "conversation", "message", "report", "member", "role", "reason", "kind")
    assert not [p for p in problems if any(word in p.lower() for word in words)], problems

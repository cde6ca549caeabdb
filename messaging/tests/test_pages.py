"""The messaging pages: inbox, requests, a conversation, the fragments live updates fetch, and the forms.

What a person would notice: order, unread counts, previews, the tombstone, "edited",
escaped text with clickable links, bounded queries whatever the amount of data.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Block, Follow, MessagePolicy
from accounts.tests.factories import UserFactory
from core.testing import session_queries
from messaging import services
from messaging.context_processors import unread as unread_context
from messaging.models import Conversation, Membership, Message, MessageKind
from messaging.templatetags.messaging import message_body, message_preview, short_time

pytestmark = pytest.mark.django_db

FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def person(handle: str, **kwargs):
    return UserFactory(handle=handle, display_name=handle.title(), **kwargs)


def direct(a, b):
    """A 1:1 that sits in both inboxes (b follows a, so it is not a request)."""
    Follow.objects.get_or_create(follower=b, followee=a)
    return services.conversation_direct_open(a, other=b)


def conversation_url(conversation) -> str:
    return reverse("messaging:conversation", args=[conversation.pk])


@pytest.fixture
def ann():
    return person("ann")


@pytest.fixture
def ben():
    return person("ben")


@pytest.fixture
def cat():
    return person("cat")


# --- Inbox -----------------------------------------------------------------------------------


def test_empty_inbox_says_what_to_do(ann):
    response = client_for(ann).get(reverse("messaging:inbox"))
    assert response.status_code == 200
    assert "No conversations yet — open someone's profile and press Message, or start a group." in (
        response.content.decode()
    )
    assert reverse("messaging:group_new") in response.content.decode()


def test_anonymous_is_sent_to_log_in():
    response = Client().get(reverse("messaging:inbox"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_inbox_orders_by_last_activity_with_unread_counts_and_previews(ann, ben, cat):
    with_ben = direct(ann, ben)
    with_cat = direct(ann, cat)
    services.message_post(ben, conversation=with_ben, body="first from ben")
    services.message_post(cat, conversation=with_cat, body="hello from cat")
    services.message_post(cat, conversation=with_cat, body="are you there?")
    services.message_post(ben, conversation=with_ben, body="latest from ben")  # ben's thread is newest again
    group = services.conversation_group_create(cat, name="Climbing crew", members=[ann, ben])
    Follow.objects.create(follower=ann, followee=cat)
    services.conversation_accept(ann, conversation=group)
    services.message_post(ann, conversation=group, body="I'm in")

    response = client_for(ann).get(reverse("messaging:inbox"))
    html = response.content.decode()
    rows = [row.conversation_id for row in response.context["rows"]]
    assert rows == [group.pk, with_ben.pk, with_cat.pk]
    unread = {row.conversation_id: row.unread for row in response.context["rows"]}
    assert unread == {group.pk: 0, with_ben.pk: 2, with_cat.pk: 2}
    assert "Climbing crew" in html and "You: I&#x27;m in" in html
    assert "latest from ben" in html and "are you there?" in html
    assert html.index('inbox-title">Climbing crew<') < html.index('inbox-title">Ben<') < html.index('inbox-title">Cat<')


def test_inbox_preview_of_a_deleted_message_and_a_muted_conversation(ann, ben):
    conversation = direct(ann, ben)
    message = services.message_post(ben, conversation=conversation, body="oops, wrong chat")
    services.message_delete(ben, message=message)
    services.conversation_mute(ann, conversation=conversation, muted=True)
    html = client_for(ann).get(reverse("messaging:inbox")).content.decode()
    assert "Message deleted" in html and "oops" not in html
    assert 'aria-label="Muted"' in html


def test_inbox_partial_is_just_the_tabs_and_list(ann, ben):
    direct(ann, ben)
    response = client_for(ann).get(reverse("messaging:inbox") + "?partial=1")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="inbox-list"' in html and 'data-testid="requests-tab"' in html


def _many_conversations(me, n: int):
    """n conversations for ``me``: 1:1s and groups, with text, a deletion and reactions."""
    for i in range(n):
        other = person(f"p{i:03d}_{me.handle}")
        if i % 5 == 0:
            conversation = services.conversation_group_create(me, name=f"Group {i}", members=[other])
        else:
            conversation = direct(me, other)
        message = services.message_post(other, conversation=conversation, body=f"message {i} https://x.test/{i}")
        services.reaction_toggle(me, message=message, emoji="👍")
        if i % 7 == 0:
            services.message_delete(other, message=message)


def test_inbox_runs_a_bounded_number_of_queries(ann, ben, django_assert_max_num_queries):
    _many_conversations(ann, 3)
    _many_conversations(ben, 35)
    ann_client, ben_client = client_for(ann), client_for(ben)
    bound = 8 + session_queries()
    with django_assert_max_num_queries(bound) as few:
        small = ann_client.get(reverse("messaging:inbox"))
    with django_assert_max_num_queries(bound) as many:
        response = ben_client.get(reverse("messaging:inbox"))
    assert small.status_code == response.status_code == 200
    assert len(response.context["rows"]) == 35
    assert len(many.captured_queries) == len(few.captured_queries)  # does not grow with the data


def test_inbox_pages_past_fifty(ann):
    _many_conversations(ann, 52)
    client = client_for(ann)
    first = client.get(reverse("messaging:inbox"))
    assert len(first.context["rows"]) == 50
    second = client.get(reverse("messaging:inbox") + "?page=2")
    assert len(second.context["rows"]) == 2


# --- Message requests ---------------------------------------------------------------------------


def test_requests_folder_lists_strangers_until_accepted(ann, ben):
    conversation = services.conversation_direct_open(ben, other=ann)  # ann does not follow ben
    services.message_post(ben, conversation=conversation, body="hi, I found your wallet")
    client = client_for(ann)

    inbox = client.get(reverse("messaging:inbox"))
    assert inbox.context["rows"] == []
    assert "Requests (1)" in inbox.content.decode()
    requests = client.get(reverse("messaging:inbox") + "?folder=requests")
    assert [row.conversation_id for row in requests.context["rows"]] == [conversation.pk]
    assert "hi, I found your wallet" in requests.content.decode()
    assert reverse("messaging:accept", args=[conversation.pk]) in requests.content.decode()

    response = client.post(reverse("messaging:accept", args=[conversation.pk]))
    assert response.status_code == 302
    assert Membership.objects.get(conversation=conversation, user=ann).accepted is True
    inbox = client.get(reverse("messaging:inbox"))
    assert [row.conversation_id for row in inbox.context["rows"]] == [conversation.pk]
    assert "Requests (" not in inbox.content.decode()


def test_deleting_a_request_hides_it(ann, ben):
    conversation = services.conversation_direct_open(ben, other=ann)
    services.message_post(ben, conversation=conversation, body="buy crypto now")
    client = client_for(ann)
    response = client.post(
        reverse("messaging:leave", args=[conversation.pk]), {"next": reverse("messaging:inbox") + "?folder=requests"}
    )
    assert response.status_code == 302 and response["Location"].endswith("?folder=requests")
    assert client.get(reverse("messaging:inbox") + "?folder=requests").context["rows"] == []
    assert client.get(conversation_url(conversation)).status_code == 404


def test_a_request_shows_a_banner_in_the_conversation(ann, ben):
    conversation = services.conversation_direct_open(ben, other=ann)
    services.message_post(ben, conversation=conversation, body="hello?")
    html = client_for(ann).get(conversation_url(conversation)).content.decode()
    assert 'data-testid="request-banner"' in html and "wants to message you" in html


# --- A conversation ---------------------------------------------------------------------------------


def test_conversation_page_shows_messages_and_marks_them_read(ann, ben):
    conversation = direct(ann, ben)
    services.message_post(ann, conversation=conversation, body="hi ben")
    last = services.message_post(ben, conversation=conversation, body="hi ann\nsecond line")
    client = client_for(ann)
    assert client.get(reverse("messaging:unread")).json() == {"unread": 1, "requests": 0}

    response = client.get(conversation_url(conversation))
    html = response.content.decode()
    assert response.status_code == 200
    assert "hi ben" in html and "hi ann<br>second line" in html
    assert 'data-testid="unread-count"' not in html
    assert Membership.objects.get(conversation=conversation, user=ann).last_read_message_id == last.pk
    assert client.get(reverse("messaging:unread")).json() == {"unread": 0, "requests": 0}
    # The money buttons and the report link are there.
    for testid in ("pay-button", "request-button", "escrow-button"):
        assert f'data-testid="{testid}"' in html
    assert f"/messages/{conversation.pk}/report/" in html


def test_conversation_shows_a_new_messages_divider_before_the_first_unread(ann, ben):
    conversation = direct(ann, ben)
    services.message_post(ben, conversation=conversation, body="seen already")
    services.conversation_mark_read(ann, conversation=conversation)
    services.message_post(ben, conversation=conversation, body="brand new")
    html = client_for(ann).get(conversation_url(conversation)).content.decode()
    assert html.index("seen already") < html.index("New messages") < html.index("brand new")


def test_conversation_page_runs_a_bounded_number_of_queries(ann, ben, cat, django_assert_max_num_queries):
    def fill(conversation, people, n):
        previous = None
        for i in range(n):
            author = people[i % len(people)]
            previous = services.message_post(
                author, conversation=conversation, body=f"message {i}", reply_to=previous if i % 3 == 0 else None
            )
            services.reaction_toggle(people[(i + 1) % len(people)], message=previous, emoji="🎉")
            if i % 10 == 0:
                services.message_delete(author, message=previous)
                previous = None

    small = services.conversation_group_create(ann, name="Small", members=[ben])
    fill(small, [ann, ben], 3)
    Follow.objects.create(follower=cat, followee=ann)
    big = services.conversation_group_create(ann, name="Big", members=[ben, cat] + [person(f"m{i}") for i in range(8)])
    fill(big, [ann, ben, cat], 80)

    client = client_for(ann)
    bound = 14 + session_queries()  # the first visit of the big one also marks it read (7 statements)
    with django_assert_max_num_queries(bound):
        assert client.get(conversation_url(small)).status_code == 200
    with django_assert_max_num_queries(bound):
        response = client.get(conversation_url(big))
    assert len(response.context["thread"]) == 50
    assert response.context["has_older"] is True
    with django_assert_max_num_queries(10):
        fragment = client.get(reverse("messaging:fragment", args=[big.pk]) + "?after=0")
    assert fragment.content.decode().count('<li class="msg') == 50


def test_load_earlier_pages_back(ann, ben):
    conversation = direct(ann, ben)
    ids = [services.message_post(ann, conversation=conversation, body=f"m{i}").pk for i in range(60)]
    client = client_for(ann)
    latest = client.get(conversation_url(conversation))
    assert [m.pk for m in latest.context["thread"]] == ids[-50:]
    assert f'href="?before={ids[10]}"' in latest.content.decode()
    older = client.get(conversation_url(conversation) + f"?before={ids[10]}")
    assert [m.pk for m in older.context["thread"]] == ids[:10]
    assert older.context["has_older"] is False
    fragment = client.get(reverse("messaging:fragment", args=[conversation.pk]) + f"?before={ids[10]}")
    assert fragment["X-Has-More"] == "0" and fragment.content.decode().count('<li class="msg') == 10
    fragment = client.get(reverse("messaging:fragment", args=[conversation.pk]) + f"?before={ids[-1]}")
    assert fragment["X-Has-More"] == "1"


def test_fragment_after_an_id_and_a_single_message(ann, ben):
    conversation = direct(ann, ben)
    first = services.message_post(ann, conversation=conversation, body="one")
    second = services.message_post(ben, conversation=conversation, body="two")
    third = services.message_post(ben, conversation=conversation, body="three")
    client = client_for(ann)
    url = reverse("messaging:fragment", args=[conversation.pk])

    after = client.get(f"{url}?after={first.pk}")
    html = after.content.decode()
    assert after.status_code == 200 and after["X-Has-More"] == "0"
    assert f'id="m-{second.pk}"' in html and f'id="m-{third.pk}"' in html and f'id="m-{first.pk}"' not in html
    assert "<html" not in html

    nothing = client.get(f"{url}?after={third.pk}")
    assert nothing.status_code == 200 and 'class="msg' not in nothing.content.decode()

    one = client.get(f"{url}?id={second.pk}")
    assert one.content.decode().count('<li class="msg') == 1 and "two" in one.content.decode()

    for bad in ("?after=abc", "?id=-1", "?before=1e9", "?after=99999999999999999999999"):
        assert client.get(url + bad).status_code == 400
    assert client.get(f"{url}?id=987654").status_code == 404


def test_fragment_after_pages_when_many_were_missed(ann, ben):
    conversation = direct(ann, ben)
    for i in range(55):
        services.message_post(ben, conversation=conversation, body=f"n{i}")
    response = client_for(ann).get(reverse("messaging:fragment", args=[conversation.pk]) + "?after=0")
    assert response["X-Has-More"] == "1" and response.content.decode().count('<li class="msg') == 50


# --- Posting --------------------------------------------------------------------------------------


def test_posting_without_javascript_redirects_back_to_the_message(ann, ben):
    conversation = direct(ann, ben)
    response = client_for(ann).post(reverse("messaging:post", args=[conversation.pk]), {"body": "  hello there  "})
    message = Message.objects.get(conversation=conversation)
    assert response.status_code == 302
    assert response["Location"] == f"{conversation_url(conversation)}#m-{message.pk}"
    assert message.body == "hello there" and message.sender == ann


def test_posting_with_fetch_answers_the_rendered_message(ann, ben):
    conversation = direct(ann, ben)
    original = services.message_post(ben, conversation=conversation, body="lunch?")
    response = client_for(ann).post(
        reverse("messaging:post", args=[conversation.pk]), {"body": "yes!", "reply_to": str(original.pk)}, **FETCH
    )
    message = Message.objects.get(conversation=conversation, sender=ann)
    html = response.content.decode()
    assert response.status_code == 201 and response["X-Message-Id"] == str(message.pk)
    assert f'id="m-{message.pk}"' in html and "yes!" in html
    assert f'href="#m-{original.pk}"' in html and "lunch?" in html  # the quote
    assert message.reply_to == original


def test_posting_errors_are_clear(ann, ben):
    conversation = direct(ann, ben)
    client = client_for(ann)
    url = reverse("messaging:post", args=[conversation.pk])

    too_long = client.post(url, {"body": "x" * 10_001}, **FETCH)
    assert too_long.status_code == 400
    assert "at most 10,000 characters" in too_long.json()["error"]["message"]
    empty = client.post(url, {"body": "   "}, **FETCH)
    assert empty.status_code == 400 and empty.json()["error"]["message"] == "Write a message."

    # Without JavaScript: the page again, with the error and what was typed.
    page = client.post(url, {"body": "y" * 10_001})
    assert page.status_code == 400
    assert "at most 10,000 characters" in page.content.decode()
    assert "y" * 10_001 in page.content.decode()
    assert not Message.objects.filter(conversation=conversation).exists()

    exactly = client.post(url, {"body": "z" * 10_000}, **FETCH)
    assert exactly.status_code == 201


def test_replying_to_a_message_of_another_conversation_is_refused(ann, ben, cat):
    conversation = direct(ann, ben)
    elsewhere = direct(ann, cat)
    other = services.message_post(cat, conversation=elsewhere, body="not here")
    response = client_for(ann).post(
        reverse("messaging:post", args=[conversation.pk]), {"body": "hm", "reply_to": str(other.pk)}, **FETCH
    )
    assert response.status_code == 400
    assert not Message.objects.filter(conversation=conversation).exists()


def test_a_blocked_person_cannot_post_and_sees_why(ann, ben):
    conversation = direct(ann, ben)
    Block.objects.create(blocker=ben, blocked=ann)
    client = client_for(ann)
    html = client.get(conversation_url(conversation)).content.decode()
    assert 'data-testid="composer-closed"' in html and "You can&#x27;t message @ben." in html
    response = client.post(reverse("messaging:post", args=[conversation.pk]), {"body": "hello?"}, **FETCH)
    assert response.status_code == 403 and response.json()["error"]["code"] == "messaging_not_allowed"
    # ben blocked ann: the thread is hidden from him.
    assert client_for(ben).get(conversation_url(conversation)).status_code == 404


# --- Safe rendering -----------------------------------------------------------------------------------


def test_message_text_is_escaped_and_links_are_clickable(ann, ben):
    conversation = direct(ann, ben)
    services.message_post(ben, conversation=conversation, body="<script>alert(1)</script> http://x.test")
    html = client_for(ann).get(conversation_url(conversation)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<a href="http://x.test" rel="nofollow noopener noreferrer" target="_blank">http://x.test</a>' in html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\nb", "a<br>b"),
        ('"><img src=x onerror=alert(1)>', "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        ("see https://example.com/a?b=1&c=2", 'href="https://example.com/a?b=1&amp;c=2"'),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ('http://x.test/" onmouseover="alert(1)', "&quot;"),
        ("", ""),
    ],
)
def test_message_body_filter(text, expected):
    html = message_body(text)
    assert expected in html
    assert "<img" not in html and 'onmouseover="' not in html and 'href="javascript' not in html


def test_previews_and_short_times():
    message = Message(kind=MessageKind.TEXT, body="  many\n\nwords   here ")
    assert message_preview(message) == "many words here"
    message.deleted_at = timezone.now()
    assert message_preview(message) == "Message deleted"
    assert message_preview(Message(kind=MessageKind.TEXT, body="")) == "📎 Attachment"
    assert message_preview(Message(kind=MessageKind.TEXT, body="x" * 200)).endswith("…")
    now = timezone.now()
    assert ":" in short_time(now)
    assert short_time(now - timedelta(days=400))[-4:].isdigit()
    assert short_time(None) == ""


# --- Edit, delete, react ---------------------------------------------------------------------------------


def test_editing_within_fifteen_minutes_shows_edited(ann, ben):
    conversation = direct(ann, ben)
    message = services.message_post(ann, conversation=conversation, body="see you at 7")
    client = client_for(ann)
    url = reverse("messaging:edit", args=[conversation.pk, message.pk])
    page = client.get(url)
    assert page.status_code == 200 and "see you at 7" in page.content.decode()
    assert client.get(url + "?partial=1").content.decode().startswith("<form")
    response = client.post(url, {"body": "see you at 8"}, **FETCH)
    assert response.status_code == 200
    assert "see you at 8" in response.content.decode() and 'data-testid="edited"' in response.content.decode()
    message.refresh_from_db()
    assert message.body == "see you at 8" and message.edited_at is not None
    html = client_for(ben).get(conversation_url(conversation)).content.decode()
    assert "see you at 8" in html and ">edited<" in html


def test_editing_after_fifteen_minutes_is_refused(ann, ben):
    conversation = direct(ann, ben)
    message = services.message_post(ann, conversation=conversation, body="old news")
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=16))
    client = client_for(ann)
    url = reverse("messaging:edit", args=[conversation.pk, message.pk])
    html = client.get(conversation_url(conversation)).content.decode()
    assert url not in html  # no Edit action any more
    response = client.post(url, {"body": "new news"}, **FETCH)
    assert response.status_code == 409 and response.json()["error"]["code"] == "edit_window_passed"
    no_js = client.post(url, {"body": "new news"}, follow=True)
    assert "Messages can be edited for 15 minutes after sending." in no_js.content.decode()
    message.refresh_from_db()
    assert message.body == "old news" and message.edited_at is None


def test_only_the_sender_may_edit_or_delete(ann, ben):
    conversation = direct(ann, ben)
    message = services.message_post(ann, conversation=conversation, body="mine")
    client = client_for(ben)
    edit = client.post(reverse("messaging:edit", args=[conversation.pk, message.pk]), {"body": "yours"}, **FETCH)
    assert edit.status_code == 403
    delete = client.post(reverse("messaging:delete", args=[conversation.pk, message.pk]), **FETCH)
    assert delete.status_code == 403
    assert client.get(reverse("messaging:edit", args=[conversation.pk, message.pk])).status_code == 404
    message.refresh_from_db()
    assert message.body == "mine" and message.deleted_at is None


def test_deleting_leaves_a_tombstone_for_everyone(ann, ben):
    conversation = direct(ann, ben)
    message = services.message_post(ann, conversation=conversation, body="secret plan")
    services.reaction_toggle(ben, message=message, emoji="😮")
    client = client_for(ann)
    url = reverse("messaging:delete", args=[conversation.pk, message.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Delete this message for everyone?" in confirm.content.decode()
    response = client.post(url)
    assert response.status_code == 302
    html = client_for(ben).get(conversation_url(conversation)).content.decode()
    assert "This message was deleted" in html and "secret plan" not in html and "😮" not in html
    again = client.post(url, **FETCH)  # deleting twice is harmless
    assert again.status_code == 200 and "This message was deleted" in again.content.decode()


def test_reactions_toggle(ann, ben):
    conversation = direct(ann, ben)
    message = services.message_post(ann, conversation=conversation, body="we won")
    url = reverse("messaging:react", args=[conversation.pk, message.pk])
    on = client_for(ben).post(url, {"emoji": "🎉"}, **FETCH)
    assert on.status_code == 200
    assert 'class="reaction-chip is-mine"' in on.content.decode() and "🎉" in on.content.decode()
    client_for(ann).post(url, {"emoji": "🎉"})
    html = client_for(ann).get(conversation_url(conversation)).content.decode()
    assert '<span class="reaction-count">2</span>' in html
    off = client_for(ben).post(url, {"emoji": "🎉"}, **FETCH)
    assert '<span class="reaction-count">1</span>' in off.content.decode()
    bad = client_for(ben).post(url, {"emoji": "<b>"}, **FETCH)
    assert bad.status_code == 400


# --- Read state and receipts ---------------------------------------------------------------------------


def test_read_endpoint_moves_forward_only(ann, ben):
    conversation = direct(ann, ben)
    first = services.message_post(ben, conversation=conversation, body="1")
    second = services.message_post(ben, conversation=conversation, body="2")
    client = client_for(ann)
    url = reverse("messaging:read", args=[conversation.pk])
    assert client.post(url, {"up_to_id": str(first.pk)}, **FETCH).json() == {"last_read_message_id": first.pk}
    assert client.get(reverse("messaging:unread")).json()["unread"] == 1
    assert client.post(url, {"up_to_id": str(second.pk)}, **FETCH).json() == {"last_read_message_id": second.pk}
    assert client.post(url, {"up_to_id": str(first.pk)}, **FETCH).json() == {"last_read_message_id": second.pk}
    assert client.post(url, {"up_to_id": "nope"}, **FETCH).status_code == 400
    assert client.get(url).status_code == 405
    assert client.get(reverse("messaging:unread")).json()["unread"] == 0


def test_direct_receipt_says_seen_under_my_last_read_message(ann, ben):
    conversation = direct(ann, ben)
    mine = services.message_post(ann, conversation=conversation, body="did you get it?")
    client = client_for(ann)
    url = reverse("messaging:receipts", args=[conversation.pk])
    assert "hidden" in client.get(url).content.decode()
    services.conversation_mark_read(ben, conversation=conversation)
    html = client.get(url).content.decode()
    assert f'data-anchor="{mine.pk}"' in html and ">Seen<" in html
    page = client.get(conversation_url(conversation)).content.decode()
    slot = page[page.index(f'id="m-{mine.pk}"') :]
    assert slot.index('data-testid="receipt"') < slot.index("</li>")


def test_group_receipt_lists_who_has_seen_the_latest_message(ann, ben, cat):
    Follow.objects.create(follower=ben, followee=ann)
    Follow.objects.create(follower=cat, followee=ann)
    group = services.conversation_group_create(ann, name="Trio", members=[ben, cat])
    latest = services.message_post(ann, conversation=group, body="pizza tonight?")
    services.conversation_mark_read(ben, conversation=group)
    html = client_for(ann).get(reverse("messaging:receipts", args=[group.pk])).content.decode()
    assert f'data-anchor="{latest.pk}"' in html and "Seen by Ben" in html and "Cat" not in html
    services.conversation_mark_read(cat, conversation=group)
    html = client_for(ann).get(reverse("messaging:receipts", args=[group.pk])).content.decode()
    assert "Seen by Ben, Cat" in html


def test_unread_badge_json_and_context_processor(ann, ben, cat):
    conversation = direct(ann, ben)
    services.message_post(ben, conversation=conversation, body="ping")
    request_conversation = services.conversation_direct_open(cat, other=ann)
    services.message_post(cat, conversation=request_conversation, body="hello stranger")
    assert client_for(ann).get(reverse("messaging:unread")).json() == {"unread": 1, "requests": 1}

    class Request:
        user = ann

    context = unread_context(Request())
    assert context["messaging_unread_count"]() == 1
    services.conversation_mute(ann, conversation=conversation, muted=True)
    assert unread_context(Request())["messaging_unread_count"]() == 0

    class Anonymous:
        user = None

    assert unread_context(Anonymous()) == {}


# --- Starting conversations ---------------------------------------------------------------------------


def test_start_page_confirms_then_opens_one_conversation(ann, ben):
    client = client_for(ann)
    url = reverse("messaging:start", args=["ben"])
    page = client.get(url)
    assert page.status_code == 200 and "Start a conversation with @ben" in page.content.decode()
    assert not Conversation.objects.exists()
    response = client.post(url)
    conversation = Conversation.objects.get()
    assert response.status_code == 302 and response["Location"] == conversation_url(conversation)
    # Again: straight to the same conversation, never a duplicate.
    assert client.get(url)["Location"] == conversation_url(conversation)
    assert client.post(reverse("messaging:start", args=["@BEN"]))["Location"] == conversation_url(conversation)
    assert client_for(ben).post(reverse("messaging:start", args=["ann"]))["Location"] == conversation_url(conversation)
    assert Conversation.objects.count() == 1


def test_start_page_explains_why_not(ann, ben, cat):
    client = client_for(ann)
    assert client.get(reverse("messaging:start", args=["nobody_here"])).status_code == 404
    myself = client.get(reverse("messaging:start", args=["ann"]))
    assert myself.status_code == 400 and "yourself" in myself.content.decode()

    Block.objects.create(blocker=ben, blocked=ann)
    blocked = client.get(reverse("messaging:start", args=["ben"]))
    assert blocked.status_code == 403 and "You can&#x27;t message @ben." in blocked.content.decode()
    assert client.post(reverse("messaging:start", args=["ben"])).status_code == 403

    cat.message_policy = MessagePolicy.FOLLOWING
    cat.save()
    policy = client.get(reverse("messaging:start", args=["cat"]))
    assert policy.status_code == 403 and "only accepts messages from people they follow" in policy.content.decode()
    Follow.objects.create(follower=cat, followee=ann)
    assert client.post(reverse("messaging:start", args=["cat"])).status_code == 302
    assert not Conversation.objects.filter(pair_key__contains=str(ben.pk)).exists()


def test_new_group_page(ann, ben, cat):
    client = client_for(ann)
    page = client.get(reverse("messaging:group_new"))
    assert page.status_code == 200 and "/wallet/people/" in page.content.decode()
    missing = client.post(reverse("messaging:group_new"), {"name": "Trip", "members": ""})
    assert missing.status_code == 400 and "Add at least one person." in missing.content.decode()
    unknown = client.post(reverse("messaging:group_new"), {"name": "Trip", "members": "@ben, @ghost"})
    assert unknown.status_code == 400 and "There is no one called @ghost." in unknown.content.decode()
    response = client.post(reverse("messaging:group_new"), {"name": "  Lisbon   trip ", "members": "@ben cat, ben"})
    group = Conversation.objects.get(kind="group")
    assert response.status_code == 302 and response["Location"] == conversation_url(group)
    assert group.name == "Lisbon trip"
    assert sorted(Membership.objects.filter(conversation=group).values_list("user__handle", flat=True)) == [
        "ann",
        "ben",
        "cat",
    ]
    html = client.get(conversation_url(group)).content.decode()
    assert "ann created the group" in html.lower() or "Ann created the group" in html
    assert 'data-testid="split-button"' in html


# --- Group administration from the header ---------------------------------------------------------------


def test_group_admin_actions_from_the_page(ann, ben, cat):
    Follow.objects.create(follower=ben, followee=ann)
    Follow.objects.create(follower=cat, followee=ann)
    group = services.conversation_group_create(ann, name="Band", members=[ben])
    admin, member = client_for(ann), client_for(ben)

    assert admin.post(reverse("messaging:rename", args=[group.pk]), {"name": "The Band"}).status_code == 302
    group.refresh_from_db()
    assert group.name == "The Band"
    admin.post(reverse("messaging:members_add", args=[group.pk]), {"members": "@cat"})
    assert Membership.objects.filter(conversation=group, user=cat, is_active=True).exists()

    # A plain member may not rename or remove; the page says so.
    refused = member.post(reverse("messaging:rename", args=[group.pk]), {"name": "Mine now"}, follow=True)
    assert "Only the group&#x27;s admins can do that." in refused.content.decode()
    member.post(reverse("messaging:member_remove", args=[group.pk]), {"member": "cat"})
    assert Membership.objects.filter(conversation=group, user=cat, is_active=True).exists()
    assert "member_remove" not in member.get(conversation_url(group)).content.decode()

    admin.post(reverse("messaging:member_remove", args=[group.pk]), {"member": "cat"})
    assert not Membership.objects.filter(conversation=group, user=cat, is_active=True).exists()
    assert client_for(cat).get(conversation_url(group)).status_code == 404

    muted = member.post(reverse("messaging:mute", args=[group.pk]), {"muted": "1"})
    assert muted.status_code == 302 and Membership.objects.get(conversation=group, user=ben).muted is True
    member.post(reverse("messaging:mute", args=[group.pk]), {"muted": "0"})
    assert Membership.objects.get(conversation=group, user=ben).muted is False

    left = member.post(reverse("messaging:leave", args=[group.pk]))
    assert left.status_code == 302 and left["Location"] == reverse("messaging:inbox")
    assert member.get(conversation_url(group)).status_code == 404
    header = admin.get(conversation_url(group) + "?partial=header").content.decode()
    assert "1 member" in header and "<html" not in header


def test_money_card_preview_and_fallback(ann, ben):
    from core.money import Money
    from payments.services.send import payment_send
    from payments.tests.factories import fund, sender_user

    payer = sender_user("payer")
    fund(payer, "20.00")
    conversation = direct(payer, ben)
    payment = payment_send(payer, to=ben, amount=Money.parse("5.00", "USD"), note="", idempotency_key="k-1")
    message = services.message_post_card(payer, conversation=conversation, kind=MessageKind.PAYMENT, payment=payment)
    inbox = client_for(ben).get(reverse("messaging:inbox")).content.decode()
    assert "💸 Payment $5.00" in inbox
    page = client_for(ben).get(conversation_url(conversation)).content.decode()
    assert f'id="m-{message.pk}"' in page


def test_start_url_and_json_shapes_are_stable(ann):
    assert reverse("messaging:inbox") == "/messages/"
    assert reverse("messaging:start", args=["bob"]) == "/messages/with/bob/"
    assert reverse("messaging:group_new") == "/messages/new-group/"
    assert reverse("messaging:conversation", args=[7]) == "/messages/7/"
    assert reverse("messaging:fragment", args=[7]) == "/messages/7/messages/"
    assert reverse("messaging:attachment", args=[3]) == "/messages/attachments/3/"
    assert json.loads(client_for(ann).get("/messages/unread/").content) == {"unread": 0, "requests": 0}


# --- Attachments through the composer ---------------------------------------------------------------


def _png_upload(name: str = "photo.png"):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), "blue").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def test_attaching_an_image_and_a_pdf(ann, ben, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    conversation = direct(ann, ben)
    pdf = SimpleUploadedFile(
        "menu.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", content_type="application/pdf"
    )
    response = client_for(ann).post(
        reverse("messaging:post", args=[conversation.pk]), {"body": "", "files": [_png_upload(), pdf]}, **FETCH
    )
    assert response.status_code == 201
    message = Message.objects.get(conversation=conversation)
    image, document = message.attachments.order_by("id")
    html = client_for(ben).get(conversation_url(conversation)).content.decode()
    image_url = reverse("messaging:attachment", args=[image.pk])
    assert f'<img src="{image_url}" alt="photo.png" width="8" height="6"' in html
    assert f'href="{reverse("messaging:attachment", args=[document.pk])}" download' in html and "menu.pdf" in html
    assert "📎 Attachment" in client_for(ben).get(reverse("messaging:inbox")).content.decode()


def test_a_file_that_is_not_an_image_or_pdf_is_refused(ann, ben, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    conversation = direct(ann, ben)
    fake = SimpleUploadedFile("cat.png", b"<svg onload=alert(1)>", content_type="image/png")
    url = reverse("messaging:post", args=[conversation.pk])
    response = client_for(ann).post(url, {"body": "look", "files": [fake]}, **FETCH)
    assert response.status_code == 400 and "can't be attached" in response.json()["error"]["message"]
    fake.seek(0)
    page = client_for(ann).post(url, {"body": "look", "files": [fake]})
    assert page.status_code == 400 and "can&#x27;t be attached" in page.content.decode()
    assert not Message.objects.filter(conversation=conversation).exists()


# --- Money cards ----------------------------------------------------------------------------------


def test_money_cards_render_in_a_bounded_number_of_queries(ben, django_assert_max_num_queries):
    from core.money import Money
    from payments.services.send import payment_send
    from payments.tests.factories import fund, sender_user

    payer = sender_user("payer2")
    fund(payer, "100.00")
    conversation = direct(payer, ben)

    def pay(n):
        for i in range(n):
            payment = payment_send(payer, to=ben, amount=Money.parse("1.00", "USD"), note="", idempotency_key=f"p{i}")
            services.message_post_card(payer, conversation=conversation, kind=MessageKind.PAYMENT, payment=payment)

    client = client_for(ben)
    pay(1)
    client.get(conversation_url(conversation))  # read: both measurements below skip marking read
    with django_assert_max_num_queries(30) as one:
        client.get(conversation_url(conversation))
    pay(8)
    client.get(conversation_url(conversation))
    with django_assert_max_num_queries(30) as nine:
        response = client.get(conversation_url(conversation))
    assert response.content.decode().count('data-testid="money-card"') == 9
    assert len(nine.captured_queries) == len(one.captured_queries)


def test_reply_without_javascript_prefills_the_composer(ann, ben):
    conversation = direct(ann, ben)
    original = services.message_post(ben, conversation=conversation, body="which train?")
    html = client_for(ann).get(conversation_url(conversation) + f"?reply={original.pk}").content.decode()
    assert f'name="reply_to" id="id_reply_to" value="{original.pk}"' in html
    assert "Replying to <strong" in html and "which train?" in html
    assert client_for(ann).get(conversation_url(conversation) + "?reply=x").status_code == 400

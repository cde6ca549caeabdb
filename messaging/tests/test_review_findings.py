"""Regression tests for bugs found in the review of issue 4 (messaging)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Block, Follow
from accounts.tests.factories import UserFactory
from core.errors import ValidationFailed
from core.money import Money
from messaging import money, services
from messaging.models import Message, Reaction
from payments.tests.factories import fund, sender_user

pytestmark = pytest.mark.django_db

FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def pair():
    ann, ben = UserFactory(handle="ann_rev"), UserFactory(handle="ben_rev")
    Follow.objects.create(follower=ben, followee=ann)
    conversation = services.conversation_direct_open(ann, other=ben)
    services.message_post(ann, conversation=conversation, body="hello")
    return ann, ben, conversation


@pytest.fixture
def published(monkeypatch):
    """Every event the messaging services publish, as (user_id, type, data)."""
    events: list[tuple[int, str, dict]] = []

    def record(*, user_id, type, data, id=None):
        events.append((user_id, type, data))

    monkeypatch.setattr(services, "event_publish", record)
    return events


# --- Unicode digits in query/form ids ("²".isdigit() is True, int("²") raises) -------------------


@pytest.mark.parametrize("param", ["after", "before", "id"])
def test_fragment_with_a_unicode_digit_id_is_a_400(pair, param):
    ann, _, conversation = pair
    url = reverse("messaging:fragment", args=[conversation.pk])
    response = client_for(ann).get(url, {param: "²"})
    assert response.status_code == 400


def test_conversation_page_with_a_unicode_digit_before_is_a_400(pair):
    ann, _, conversation = pair
    response = client_for(ann).get(reverse("messaging:conversation", args=[conversation.pk]), {"before": "²"})
    assert response.status_code == 400


def test_mark_read_with_a_unicode_digit_id_is_a_400(pair):
    ann, _, conversation = pair
    response = client_for(ann).post(reverse("messaging:read", args=[conversation.pk]), {"up_to_id": "²"}, **FETCH)
    assert response.status_code == 400


def test_services_treat_a_unicode_digit_id_as_not_found(pair):
    ann, _, _ = pair
    with pytest.raises(services.ConversationNotFound):
        services.membership_for(ann, "²")
    services.typing_signal(ann, {"type": "typing", "conversation": "²"})  # never raises


# --- Reactions must be emoji ------------------------------------------------------------------------


@pytest.mark.parametrize("emoji", ["\u200b", "\u202e", "\u0301", "^", "`", "\u200d\ufe0f"])
def test_a_reaction_that_is_not_an_emoji_is_refused(pair, emoji):
    ann, _, conversation = pair
    message = Message.objects.filter(conversation=conversation).latest("id")
    with pytest.raises(ValidationFailed):
        services.reaction_toggle(ann, message=message.pk, emoji=emoji)
    assert not Reaction.objects.exists()


@pytest.mark.parametrize("emoji", ["👍", "❤️", "👍🏽", "👨‍👩‍👧", "🇫🇷", "1️⃣", "ℹ️", "©️"])
def test_real_emoji_are_accepted(pair, emoji):
    ann, _, conversation = pair
    message = Message.objects.filter(conversation=conversation).latest("id")
    assert services.reaction_toggle(ann, message=message.pk, emoji=emoji) is True


# --- A block: the blocker hears nothing more from a thread they hid ------------------------------------


def test_the_blocked_person_typing_reacting_or_reading_reaches_not_the_blocker(pair, published):
    ann, ben, conversation = pair
    Block.objects.create(blocker=ann, blocked=ben)
    message = Message.objects.filter(conversation=conversation).latest("id")
    services.typing_signal(ben, {"type": "typing", "conversation": conversation.pk})
    services.reaction_toggle(ben, message=message.pk, emoji="👍")
    services.conversation_mark_read(ben, conversation=conversation.pk)
    assert [e for e in published if e[0] == ann.pk] == []


def test_the_blocked_persons_edit_reaches_not_the_blocker(pair, published):
    ann, ben, conversation = pair
    mine = services.message_post(ben, conversation=conversation, body="before")
    Block.objects.create(blocker=ann, blocked=ben)
    services.message_edit(ben, message=mine.pk, body="after")
    services.message_delete(ben, message=mine.pk)
    assert [e for e in published if e[0] == ann.pk and e[1] != "message.new"] == []


# --- Cards: huge ids are 404s, not 500s -----------------------------------------------------------------


@pytest.fixture
def split_card(db):
    alice = sender_user("alice_rev", display_name="Alice")
    bob = sender_user("bob_rev", display_name="Bob")
    carol = sender_user("carol_rev", display_name="Carol")
    for person in (alice, bob, carol):
        fund(person, "100.00")
    group = services.conversation_group_create(alice, name="Flat", members=[bob, carol])
    card = money.thread_split(alice, conversation=group, title="Dinner", total=Money.parse("30.00", "USD"))
    return alice, bob, carol, group, card


@pytest.mark.parametrize("request_id", [2**63, 2**64 + 7, 10**30])
def test_card_request_urls_with_huge_ids_are_404(split_card, request_id):
    _, bob, _, _, card = split_card
    client = client_for(bob)
    assert client.get(reverse("messaging:card_request_pay", args=[card.pk, request_id])).status_code == 404
    url = reverse("messaging:card_request_action", args=[card.pk, request_id, "decline"])
    assert client.post(url, **FETCH).status_code == 404


def test_card_with_a_huge_id_is_404(split_card):
    _, bob, _, _, _ = split_card
    assert client_for(bob).get(reverse("messaging:card", args=[2**64])).status_code == 404


# --- NUL characters in handles ----------------------------------------------------------------------------


def test_nul_in_handles_is_never_a_500(split_card):
    alice, _, _, group, _ = split_card
    client = client_for(alice)
    assert client.get("/messages/with/bob%00x/").status_code == 404
    response = client.post(reverse("messaging:member_remove", args=[group.pk]), {"member": "bob\x00"})
    assert response.status_code == 302
    response = client.post(reverse("messaging:members_add", args=[group.pk]), {"members": "@dan\x00"})
    assert response.status_code in (302, 400)
    api = api_for(alice)
    assert api.delete(f"/api/v1/conversations/{group.pk}/members/bob%00x/").status_code in (400, 404)
    assert api.get("/api/v1/messages/search/", {"q": "a\x00b"}).status_code in (200, 400)


# --- Forged inbox cursors -----------------------------------------------------------------------------


def _cursor(position: str) -> str:
    import base64
    from urllib.parse import urlencode

    return base64.b64encode(urlencode({"p": position, "r": 0, "o": 0}).encode()).decode()


@pytest.mark.parametrize(
    "position", ["0001-01-01 00:00:00+23:59", "9999-12-31 23:59:59-23:59", "0001-01-01 00:00:00", "9999999999999999999"]
)
def test_a_forged_inbox_cursor_is_a_404_not_a_500(pair, position):
    ann, _, conversation = pair
    api = api_for(ann)
    assert api.get("/api/v1/conversations/", {"cursor": _cursor(position)}).status_code == 404
    url = f"/api/v1/conversations/{conversation.pk}/messages/"
    assert api.get(url, {"cursor": _cursor(position)}).status_code in (200, 404)
    assert api.get(url, {"cursor": _cursor(position), "after": "0"}).status_code in (200, 404)


# --- Query counts do not grow with conversations, members, messages or cards ------------------------------


def _query_counts(django_assert_max_num_queries, client, api, urls, api_urls):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for url in urls:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200, url
        counts[url] = len(ctx.captured_queries)
    for url in api_urls:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(url).status_code == 200, url
        counts[url] = len(ctx.captured_queries)
    return counts


def _populate(owner, others, *, groups: int, messages: int):
    """``groups`` groups with everyone, each with ``messages`` messages (replies, reactions, cards)."""
    last = None
    for n in range(groups):
        group = services.conversation_group_create(owner, name=f"G{n}", members=others)
        for i in range(messages):
            author = others[i % len(others)] if i % 2 else owner
            reply = last.pk if last is not None and last.conversation_id == group.pk else None
            last = services.message_post(author, conversation=group, body=f"hello http://x.test/{i}", reply_to=reply)
            services.reaction_toggle(others[0], message=last.pk, emoji="👍")
        money.thread_request(owner, conversation=group, amount=Money.parse("1.00", "USD"), payers=[others[0]])
        money.thread_pay(owner, conversation=group, to=others[1], amount=Money.parse("1.00", "USD"))
        money.thread_split(owner, conversation=group, title="Bill", total=Money.parse("9.00", "USD"))
    return group


def test_pages_and_lists_do_not_grow_with_data(django_assert_max_num_queries):
    owner = sender_user("own_rev", display_name="Owner")
    fund(owner, "1000.00")
    small_others = [sender_user(f"s{i}_rev") for i in range(2)]
    big_others = [sender_user(f"b{i}_rev") for i in range(12)]
    small = _populate(owner, small_others, groups=1, messages=2)
    small_counts = _query_counts(
        django_assert_max_num_queries,
        client_for(owner),
        api_for(owner),
        ["/messages/", f"/messages/{small.pk}/", f"/messages/{small.pk}/messages/?after=0"],
        ["/api/v1/conversations/", f"/api/v1/conversations/{small.pk}/messages/", "/api/v1/messages/search/?q=hello"],
    )
    big = _populate(owner, big_others, groups=4, messages=12)
    big_counts = _query_counts(
        django_assert_max_num_queries,
        client_for(owner),
        api_for(owner),
        ["/messages/", f"/messages/{big.pk}/", f"/messages/{big.pk}/messages/?after=0"],
        ["/api/v1/conversations/", f"/api/v1/conversations/{big.pk}/messages/", "/api/v1/messages/search/?q=hello"],
    )
    small_list, big_list = list(small_counts.values()), list(big_counts.values())
    assert big_list == small_list, (small_counts, big_counts)


# --- XSS ---------------------------------------------------------------------------------------------------


def test_hostile_text_is_escaped_and_only_http_links_become_links(db):
    ann = UserFactory(handle="ann_x", display_name='<img src=x onerror="alert(1)">')
    ben = UserFactory(handle="ben_x")
    Follow.objects.create(follower=ben, followee=ann)
    group = services.conversation_group_create(ann, name="<script>alert(2)</script>", members=[ben])
    services.message_post(
        ann,
        conversation=group,
        body='<b>bold</b> javascript:alert(3) https://ok.test/"onmouseover="alert(4) www.fine.test',
    )
    client = client_for(ben)
    for url in (f"/messages/{group.pk}/", "/messages/", "/messages/search/?q=bold"):
        html = client.get(url).content.decode()
        assert "<script>alert(2)" not in html and "<img src=x" not in html and "<b>bold" not in html, url
        assert 'href="javascript:' not in html and 'onmouseover="alert' not in html, url
    html = client.get(f"/messages/{group.pk}/").content.decode()
    assert 'href="https://ok.test/' in html
    assert 'rel="nofollow noopener noreferrer"' in html

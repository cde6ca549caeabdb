"""Search: only your own conversations, never deleted messages; full-text on PostgreSQL, icontains elsewhere."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from accounts.models import Block, Follow
from accounts.tests.factories import UserFactory
from core.errors import ValidationFailed
from messaging import services
from messaging.models import Message
from messaging.search import BodyVector, SearchQuery, message_search, query_parse, search_snippet

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL full-text search")
on_sqlite = pytest.mark.skipif(connection.vendor == "postgresql", reason="the fallback used off PostgreSQL")


@pytest.fixture
def people(db):
    ann = UserFactory(handle="ann", display_name="Ann Archer", verified=True)
    ben = UserFactory(handle="ben", display_name="Ben Baker", verified=True)
    cat = UserFactory(handle="cat", display_name="Cat Cole", verified=True)
    for follower in (ben, cat):
        Follow.objects.create(follower=follower, followee=ann)
    return ann, ben, cat


@pytest.fixture
def direct(people):
    ann, ben, _ = people
    return services.conversation_direct_open(ann, other=ben)


def ids(messages) -> list[int]:
    return [m.pk for m in messages]


# --- Privacy ----------------------------------------------------------------------------------


def test_members_find_their_messages_and_no_one_else_does(people, direct):
    ann, ben, cat = people
    dinner = services.message_post(ann, conversation=direct, body="Dinner at Luigi's on Friday?")
    services.message_post(ben, conversation=direct, body="Sounds good")
    assert ids(message_search(ann, "dinner")) == [dinner.pk]
    assert ids(message_search(ben, "DINNER")) == [dinner.pk]
    # cat is in no conversation with that word: nothing, not even a hint.
    assert message_search(cat, "dinner") == []
    services.message_post(cat, conversation=services.conversation_direct_open(cat, other=ann), body="dinner plans")
    assert [m.body for m in message_search(cat, "dinner")] == ["dinner plans"]
    assert ids(message_search(ben, "dinner")) == [dinner.pk]


def test_deleted_messages_and_system_notices_are_never_found(people, direct):
    ann, ben, cat = people
    message = services.message_post(ann, conversation=direct, body="the secret password is swordfish")
    assert ids(message_search(ben, "swordfish")) == [message.pk]
    services.message_delete(ann, message=message)
    assert message_search(ben, "swordfish") == []
    assert message_search(ann, "swordfish") == []
    services.conversation_group_create(ann, name="Ski weekend", members=[ben, cat])
    assert Message.objects.filter(kind="system", body__icontains="ski").exists()
    assert message_search(ann, "ski") == []


def test_leaving_a_group_or_blocking_hides_its_messages(people):
    ann, ben, cat = people
    group = services.conversation_group_create(ann, name="Trip", members=[ben, cat])
    services.message_post(ann, conversation=group, body="the cabin code is 4321")
    assert len(message_search(cat, "cabin")) == 1
    services.conversation_leave(cat, conversation=group)
    assert message_search(cat, "cabin") == []

    direct = services.conversation_direct_open(ann, other=ben)
    services.message_post(ann, conversation=direct, body="cabin photos")
    assert len(message_search(ben, "cabin")) == 2
    Block.objects.create(blocker=ben, blocked=ann)  # ben hides the 1:1; the group stays
    assert [m.conversation_id for m in message_search(ben, "cabin")] == [group.pk]


def test_empty_and_bad_queries(people, direct):
    ann = people[0]
    services.message_post(ann, conversation=direct, body="hello")
    assert message_search(ann, "") == []
    assert message_search(ann, "   ") == []
    assert message_search(ann, '""') == []
    with pytest.raises(ValidationFailed):
        message_search(ann, "x" * 201)
    with pytest.raises(ValidationFailed):
        message_search(ann, ["hello"])
    with pytest.raises(ValidationFailed):
        message_search(ann, "hello", limit=0)
    # Characters that mean something to a query language are just text.
    for q in ["%", "_", "'; drop table messaging_message; --", "a & b | !c", "\\", "(", ":*", '"unclosed', "-", "or"]:
        message_search(ann, q)
    assert Message.objects.filter(body="hello").exists()


def test_limit_and_newest_first_among_equals(people, direct):
    ann = people[0]
    posted = [services.message_post(ann, conversation=direct, body=f"lunch number {i}") for i in range(5)]
    found = message_search(ann, "lunch", limit=3)
    assert len(found) == 3
    assert ids(found) == [m.pk for m in reversed(posted)][:3]


# --- The two engines ----------------------------------------------------------------------------


@on_postgres
def test_postgres_full_text_websearch_syntax_and_ranking(people, direct):
    ann, ben, _ = people
    tickets = services.message_post(ann, conversation=direct, body="I bought the train tickets for June")
    reversed_words = services.message_post(ben, conversation=direct, body="tickets? the train is late")
    rent = services.message_post(ben, conversation=direct, body="rent for july, rent rent")
    services.message_post(ben, conversation=direct, body="rent for june")
    assert ids(message_search(ann, '"train tickets"')) == [tickets.pk]  # a phrase, in order
    assert set(ids(message_search(ann, "train tickets"))) == {tickets.pk, reversed_words.pk}
    assert ids(message_search(ann, "rent -june")) == [rent.pk]
    # Whole words (the "simple" configuration): no substring matches.
    assert message_search(ann, "tick") == []
    found = message_search(ann, "rent")
    assert found[0].pk == rent.pk and found[0].search_rank > found[1].search_rank


@on_postgres
def test_postgres_uses_the_gin_index(people, direct):
    ann = people[0]
    services.message_post(ann, conversation=direct, body="indexed words")
    query = SearchQuery("indexed", search_type="websearch", config="simple")
    rows = Message.objects.alias(search=BodyVector()).filter(search=query)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = rows.explain()
    assert "messaging_message_body_fts" in plan


@on_sqlite
def test_sqlite_fallback_every_word_anywhere(people, direct):
    ann, ben, _ = people
    tickets = services.message_post(ann, conversation=direct, body="I bought the train tickets for June")
    services.message_post(ben, conversation=direct, body="the bus is late")
    assert ids(message_search(ann, "TICK")) == [tickets.pk]  # substrings, any case
    assert ids(message_search(ann, "june train")) == [tickets.pk]
    assert ids(message_search(ann, "the -bus")) == [tickets.pk]
    assert message_search(ann, "train bus") == []


# --- Presentation -------------------------------------------------------------------------------


def test_query_parse():
    parsed = query_parse('rent "train tickets" -june or -"bad day"')
    assert parsed.include == ("rent", "train tickets")
    assert parsed.exclude == ("june", "bad day")


def test_snippet_escapes_everything_but_its_own_marks():
    body = '<script>alert("x")</script> Dinner & <b>drinks</b> at 8'
    snippet = search_snippet(body, "dinner drinks")
    assert "<script>" not in snippet and "<b>" not in snippet
    assert "&lt;script&gt;" in snippet
    assert "<mark>Dinner</mark>" in snippet and "<mark>drinks</mark>" in snippet
    assert "&amp;" in snippet


def test_snippet_centres_a_late_match():
    body = "word " * 100 + "needle " + "tail " * 100
    snippet = search_snippet(body, "needle")
    assert snippet.startswith("…") and snippet.endswith("…") and "<mark>needle</mark>" in snippet
    assert len(snippet) < 200


def test_search_page(client, people, direct, django_assert_max_num_queries):
    ann, ben, cat = people
    services.message_post(ann, conversation=direct, body="<img src=x onerror=alert(1)> dinner")
    group = services.conversation_group_create(ann, name="Dinner club <3", members=[ben, cat])
    for i in range(6):
        services.message_post(ben, conversation=group, body=f"dinner idea {i}")
    client.force_login(ben)
    with django_assert_max_num_queries(12):
        response = client.get("/messages/search/", {"q": "dinner"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="list-item search-hit"') == 7
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<mark>dinner</mark>" in html
    assert "Ann Archer" in html  # the 1:1 is named after the other person
    assert "Dinner club &lt;3" in html
    assert f"/messages/{group.pk}/#m-" in html

    client.force_login(cat)
    html = client.get("/messages/search/", {"q": "img"}).content.decode()
    assert "No messages match" in html and "onerror" not in html

    response = client.get("/messages/search/", {"q": "x" * 300})
    assert response.status_code == 200 and "at most 200 characters" in response.content.decode()
    assert "Type a word" in client.get("/messages/search/").content.decode()


def test_search_page_query_count_does_not_grow(client, people, django_assert_max_num_queries):
    ann = people[0]
    for i in range(30):
        other = UserFactory(handle=f"p{i}")
        Follow.objects.create(follower=other, followee=ann)
        conv = services.conversation_direct_open(ann, other=other)
        services.message_post(other, conversation=conv, body=f"coffee {i}")
    client.force_login(ann)
    with django_assert_max_num_queries(12):
        response = client.get("/messages/search/", {"q": "coffee"})
    assert response.content.decode().count('class="list-item search-hit"') == 30


def test_search_page_needs_login(client, db):
    response = client.get("/messages/search/", {"q": "x"})
    assert response.status_code == 302

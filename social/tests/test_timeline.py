"""The timeline and the other post lists: order, keyset pagination, bounded queries, the index."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Follow
from accounts.tests.factories import UserFactory
from core.errors import ValidationFailed
from core.testing import skip_unless_postgres
from social import selectors
from social.models import Audience, Post, PostImage, PostTag
from social.services.posts import like_create, post_create, repost_create
from social.tests.factories import make_creator, make_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def me():
    return UserFactory(handle="me")


def follow(follower, *followees):
    for followee in followees:
        Follow.objects.create(follower=follower, followee=followee)


def ids(page) -> list[int]:
    posts = page.posts if hasattr(page, "posts") else page
    return [post.pk for post in posts]


def test_timeline_has_mine_and_followed_newest_first(me):
    friend, stranger = UserFactory(), UserFactory()
    follow(me, friend)
    a = make_post(me, "mine")
    b = make_post(friend, "friend")
    make_post(stranger, "stranger")
    reply = make_post(friend, "a reply", reply_to=a)
    repost = repost_create(friend, post=make_post(stranger, "reposted"))
    c = make_post(me, "latest")
    assert ids(selectors.timeline_page(me)) == [c.pk, repost.pk, b.pk, a.pk]
    assert reply.pk not in ids(selectors.timeline_page(me))


def test_timeline_is_empty_for_anonymous():
    from django.contrib.auth.models import AnonymousUser

    make_post()
    assert selectors.timeline_page(AnonymousUser()).posts == []


def test_pagination_has_no_gaps_or_duplicates_while_posts_arrive(me):
    friends = [UserFactory() for _ in range(3)]
    follow(me, *friends)
    expected = [make_post(friends[i % 3], f"p{i}").pk for i in range(23)]
    seen: list[int] = []
    page = selectors.timeline_page(me, limit=5)
    seen += ids(page)
    while page.next_before:
        # New posts land between every page: they must not shift the pages already under way.
        make_post(friends[0], "late")
        make_post(me, "late too")
        page = selectors.timeline_page(me, before=page.next_before, limit=5)
        seen += ids(page)
    assert seen == sorted(expected, reverse=True)
    assert len(seen) == len(set(seen))


def test_bad_cursors_are_clear_errors(me):
    for bad in ("abc", "-1", "1.5", True, 0):
        with pytest.raises(ValidationFailed):
            selectors.timeline_page(me, before=bad)
    assert selectors.timeline_page(me, before="12").posts == []


def test_new_count(me):
    friend = UserFactory()
    follow(me, friend)
    first = make_post(friend)
    assert selectors.timeline_new_count(me, after=first.pk) == 0
    for _ in range(3):
        make_post(friend)
    make_post(UserFactory())  # not followed
    make_post(friend, "reply", reply_to=first)  # replies are not on the timeline
    assert selectors.timeline_new_count(me, after=first.pk) == 3


def test_new_count_is_capped(me, monkeypatch):
    monkeypatch.setattr(selectors, "NEW_COUNT_CAP", 2)
    first = make_post(me)
    for _ in range(4):
        make_post(me)
    assert selectors.timeline_new_count(me, after=first.pk) == 2


def _busy_follows(me, count: int) -> None:
    """``count`` followed authors with every kind of post: images, reposts, quotes, subscribers-only."""
    for i in range(count):
        author = UserFactory()
        follow(me, author)
        if i % 3 == 0:
            make_creator(author)
        post = make_post(author, f"post {i}", audience=Audience.SUBSCRIBERS if i % 3 == 0 else Audience.PUBLIC)
        PostImage.objects.create(
            post=post, position=0, file="x.png", content_type="image/png", width=1, height=1, size=1
        )
        quote = make_post(author, "quoting", quote_of=post)
        repost_create(author, post=quote)
        like_create(me, post=post)


@pytest.mark.parametrize("count", [2, 30])
def test_timeline_queries_are_bounded_whatever_the_follows(me, count, django_assert_max_num_queries):
    _busy_follows(me, count)
    # follows, page ids, posts (with the viewer's creator flag), the images of every level at once
    with django_assert_max_num_queries(4):
        page = selectors.timeline_page(me, limit=50)
        for post in page.posts:
            # What a card reads: nothing here may query.
            _ = (post.author.handle, post.unlocked, post.viewer_liked, post.quote_visible, list(post.images.all()))
            if post.repost_of_id:
                _ = (post.repost_of.author.handle, list(post.repost_of.images.all()), post.repost_unlocked)
                if post.repost_of.quote_of_id:
                    _ = (post.repost_of.quote_of.author.handle, list(post.repost_of.quote_of.images.all()))
            if post.quote_of_id:
                _ = (post.quote_of.author.handle, list(post.quote_of.images.all()))
            selectors.creator_enabled(post.author)
    assert len(page.posts) == min(50, 3 * count)


@pytest.mark.parametrize("count", [2, 30])
def test_other_lists_are_bounded_too(me, count, django_assert_max_num_queries):
    _busy_follows(me, count)
    for post in Post.objects.filter(quote_of__isnull=True, repost_of__isnull=True):
        PostTag.objects.create(post=post, tag="busy")
    target = Post.objects.select_related("author").filter(repost_of__isnull=True).first()
    for _ in range(3):
        make_post(UserFactory(), "a reply", reply_to=target)
    with django_assert_max_num_queries(5):
        selectors.explore_page(me)
    with django_assert_max_num_queries(3):  # ids, rows, the images of every level at once
        selectors.tag_page(me, "busy")
    with django_assert_max_num_queries(3):  # ids, rows, the images of every level at once
        selectors.profile_posts(me, target.author, replies=True)
    with django_assert_max_num_queries(6):
        post = selectors.post_for(me, target.pk)
    with django_assert_max_num_queries(12):
        selectors.thread_for(me, post)
    with django_assert_max_num_queries(2):
        selectors.timeline_new_count(me, after=1)


def test_explore_orders_by_score_then_newest(me):
    author = UserFactory()
    quiet = make_post(author, "quiet")
    liked = make_post(author, "liked", like_count=3)
    reposted = make_post(author, "reposted", repost_count=2)  # 4 points
    tie = make_post(author, "tie", reply_count=2, quote_count=1)  # 3 points, newer than liked
    old = make_post(author, "old", like_count=100, created_at=timezone.now() - timezone.timedelta(days=8))
    protected = UserFactory(is_protected=True)
    make_post(protected, "protected", like_count=50)
    make_creator(author)
    make_post(author, "fans only", audience=Audience.SUBSCRIBERS, like_count=50)
    make_post(author, "a reply", reply_to=quiet, like_count=50)
    got = ids(selectors.explore_page(me))
    assert got == [reposted.pk, tie.pk, liked.pk, quiet.pk]
    assert old.pk not in got


def test_tag_page(me):
    author = UserFactory()
    tagged = post_create(author, text="about #Django")
    post_create(author, text="about #python")
    reply = post_create(author, text="#django again", reply_to=tagged)
    assert ids(selectors.tag_page(me, "DJANGO")) == [reply.pk, tagged.pk]
    assert ids(selectors.tag_page(me, "#django")) == [reply.pk, tagged.pk]
    assert selectors.tag_page(me, "no such tag!").posts == []


def test_profile_posts(me):
    author = UserFactory()
    top = make_post(author, "top")
    reply = make_post(author, "reply", reply_to=make_post())
    repost = repost_create(author, post=make_post())
    assert ids(selectors.profile_posts(me, author)) == [repost.pk, top.pk]
    assert ids(selectors.profile_posts(me, author, replies=True)) == [repost.pk, reply.pk, top.pk]


def test_thread_ancestors_and_replies(me):
    a, b = UserFactory(), UserFactory()
    root = post_create(a, text="root")
    r1 = post_create(b, text="r1", reply_to=root)
    r2 = post_create(a, text="r2", reply_to=r1)
    other = post_create(b, text="sibling", reply_to=root)
    answers = [post_create(UserFactory(), text=f"answer {i}", reply_to=r2) for i in range(3)]
    thread = selectors.thread_for(me, selectors.post_for(me, r2.pk), limit=2)
    assert ids(thread.ancestors) == [root.pk, r1.pk]
    assert ids(thread.replies) == [answers[0].pk, answers[1].pk] and thread.next_after == answers[1].pk
    more = selectors.thread_for(me, r2, after=thread.next_after)
    assert ids(more.replies) == [answers[2].pk] and more.next_after is None
    assert other.pk not in ids(thread.ancestors)
    top = selectors.thread_for(me, root)
    assert top.ancestors == [] and ids(top.replies) == [r1.pk, other.pk]


def test_post_for_rejects_bad_ids(me):
    for bad in ("abc", "", None, -1, 0, True, 2**64, "1e3"):
        with pytest.raises(selectors.PostNotFound):
            selectors.post_for(me, bad)


def test_timeline_query_uses_the_partial_index(me):
    """PostgreSQL: the timeline's page query fits social_post_timeline_idx.

    On a small test table the planner may rather walk the primary key backwards (ORDER BY id
    DESC LIMIT 21 with an under-estimated selectivity); the brief allows steering it: first
    ``enable_seqscan = off``, then also ``enable_indexscan = off`` (bitmap scans only), where it
    must still pick the partial index over the two plain author indexes — the proof that the
    query's shape (author IN ids, reply_to IS NULL, deleted_at IS NULL) matches the index.
    """
    skip_unless_postgres()
    followed = UserFactory.create_batch(3)
    others = UserFactory.create_batch(100)
    follow(me, *followed)
    now = timezone.now()
    parent = make_post(others[0], "a popular post")
    # The people followed post a little and reply a lot (the partial index leaves replies out);
    # everyone else posts a lot.
    rows = [Post(author=author, text="mine", created_at=now) for _ in range(20) for author in followed]
    rows += [
        Post(author=author, text="reply", reply_to=parent, created_at=now) for author in followed for _ in range(100)
    ]
    rows += [Post(author=author, text="post", created_at=now) for _ in range(300) for author in others]
    Post.objects.bulk_create(rows, batch_size=2000)
    sql, params = selectors.timeline_ids_query(me).query.sql_with_params()
    plans = []
    with connection.cursor() as cursor:
        for table in ("social_post", "accounts_follow", "accounts_user", "accounts_block"):
            cursor.execute(f"ANALYZE {table}")
        for setting in (None, "enable_seqscan", "enable_indexscan"):
            if setting:
                cursor.execute(f"SET LOCAL {setting} = off")
            cursor.execute("EXPLAIN " + sql, params)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
            if "social_post_timeline_idx" in plans[-1]:
                break
    assert "social_post_timeline_idx" in plans[-1], "\n\n".join(plans)
    assert len(selectors.timeline_page(me).posts) == 20


def test_new_count_after_zero_counts_everything_for_an_empty_timeline(client, django_user_model):
    """A new account's timeline has no top post: the page asks ?after=0 after a reconnect."""
    from social.tests.factories import make_post

    me = django_user_model.objects.create_user("newbie", "newbie@example.com", "pw")
    client.force_login(me)
    assert client.get("/api/v1/timeline/new-count/?after=0").json() == {"count": 0}
    make_post(me, "first")
    assert client.get("/api/v1/timeline/new-count/?after=0").json() == {"count": 1}

"""Post services: writing, replies, quotes, mentions, tags, notifications, likes, reposts, delete, fan-out."""

from __future__ import annotations

import pytest

from accounts.models import Block, Follow
from accounts.social import BlockedError
from accounts.tests.factories import UserFactory
from core.errors import NotPermitted, ValidationFailed
from notifications.models import Notification
from social import tasks
from social.models import Audience, Like, Mention, Post, PostTag
from social.selectors import PostNotFound
from social.services.posts import (
    PostInvalid,
    like_create,
    like_delete,
    parse_hashtags,
    parse_mentions,
    post_create,
    post_delete,
    repost_create,
    repost_delete,
    text_tokens,
)
from social.tests.factories import make_creator, make_paid_subscription, make_post, make_tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann():
    return UserFactory(handle="ann")


@pytest.fixture
def ben():
    return UserFactory(handle="ben")


@pytest.fixture
def cat():
    return UserFactory(handle="cat")


def kinds(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).values_list("kind", flat=True))


# --- text --------------------------------------------------------------------------------------


def test_text_is_stripped_and_kept(ann):
    post = post_create(ann, text="  hello\r\nworld  ")
    assert post.text == "hello\nworld"
    assert post.audience == Audience.PUBLIC and post.reply_to_id is None and post.thread_root_id is None


@pytest.mark.parametrize("text", ["", "   ", "\n\n", None, 12, "x" * 281, "bad\x00nul", "bell\x07", "a\u2028b"])
def test_invalid_text_is_refused_and_nothing_is_written(ann, text):
    with pytest.raises(PostInvalid) as caught:
        post_create(ann, text=text)
    assert "text" in caught.value.fields
    assert not Post.objects.exists()


def test_280_characters_counted_as_python_characters(ann):
    assert post_create(ann, text="é" * 280).text == "é" * 280
    emoji = "👍" * 280  # 280 code points, 1120 bytes: allowed
    assert post_create(ann, text=emoji).text == emoji
    assert post_create(ann, text="👩‍💻 zwj is fine").text.startswith("👩\u200d💻")


def test_inactive_or_anonymous_author_cannot_post(ann):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(NotPermitted):
        post_create(AnonymousUser(), text="hi")
    ann.is_active = False
    ann.save()
    with pytest.raises(NotPermitted):
        post_create(ann, text="hi")


def test_parsers():
    assert parse_mentions("hi @Ben and @ben, mail a@cat.com @x @cat!") == ["ben", "cat"]
    assert parse_hashtags("#Django #django #café_2 C#sharp &#39; #" + "x" * 65) == ["django", "café_2"]
    assert text_tokens("hey @Ben see #Tag.") == [
        ("text", "hey "),
        ("mention", "ben"),
        ("text", " see "),
        ("tag", "Tag"),
        ("text", "."),
    ]


# --- audience ----------------------------------------------------------------------------------


def test_subscribers_only_needs_creator_mode(ann):
    with pytest.raises(PostInvalid) as caught:
        post_create(ann, text="for fans", audience=Audience.SUBSCRIBERS)
    assert "audience" in caught.value.fields
    make_creator(ann)
    post = post_create(ann, text="for fans", audience=Audience.SUBSCRIBERS, teaser="  a teaser ")
    assert post.subscribers_only and post.teaser == "a teaser"


def test_disabled_creator_mode_and_unknown_audience_refused(ann):
    make_creator(ann, is_enabled=False)
    with pytest.raises(PostInvalid):
        post_create(ann, text="x", audience=Audience.SUBSCRIBERS)
    with pytest.raises(PostInvalid):
        post_create(ann, text="x", audience="friends")


def test_teaser_ignored_for_public_posts(ann):
    assert post_create(ann, text="x", teaser="ignored").teaser == ""


# --- replies and quotes ------------------------------------------------------------------------


def test_reply_sets_thread_and_counts_and_notifies(ann, ben, cat):
    root = post_create(ann, text="root")
    reply = post_create(ben, text="reply", reply_to=root)
    deeper = post_create(cat, text="deeper", reply_to=reply.pk)
    assert reply.thread_root_id == root.pk and deeper.thread_root_id == root.pk
    root.refresh_from_db()
    reply.refresh_from_db()
    assert root.reply_count == 1 and reply.reply_count == 1
    assert kinds(ann) == ["reply.new"]
    assert kinds(ben) == ["reply.new"]
    note = Notification.objects.get(recipient=ann)
    assert note.data["post_id"] == reply.pk and note.data["actor_handle"] == "ben"


def test_replying_to_yourself_notifies_no_one(ann):
    root = post_create(ann, text="root")
    post_create(ann, text="me again", reply_to=root)
    assert kinds(ann) == []


def test_replies_are_public(ann, ben):
    make_creator(ben)
    root = post_create(ann, text="root")
    with pytest.raises(PostInvalid):
        post_create(ben, text="r", reply_to=root, audience=Audience.SUBSCRIBERS)


def test_reply_to_invisible_or_deleted_post_is_not_found(ann, ben):
    ann.is_protected = True
    ann.save()
    protected = make_post(ann, "secret")
    with pytest.raises(PostNotFound):
        post_create(ben, text="r", reply_to=protected)
    gone = make_post(ben, "gone")
    post_delete(ben, post=gone)
    with pytest.raises(PostNotFound):
        post_create(ann, text="r", reply_to=gone)
    with pytest.raises(PostNotFound):
        post_create(ann, text="r", reply_to=999_999)
    assert Post.objects.filter(reply_to__isnull=False).count() == 0


def test_reply_blocked_either_way(ann, ben):
    root = make_post(ann, "root")
    Block.objects.create(blocker=ann, blocked=ben)
    with pytest.raises(PostNotFound):  # ben is blocked: ann's post does not exist for him
        post_create(ben, text="r", reply_to=root)
    own = make_post(ben, "ben's")
    with pytest.raises(BlockedError):  # ann made the block: she is told to unblock first
        post_create(ann, text="r", reply_to=own)


def test_reply_to_locked_subscribers_post_refused_until_subscribed(ann, ben):
    make_creator(ann)
    locked = make_post(ann, "for fans", audience=Audience.SUBSCRIBERS)
    with pytest.raises(NotPermitted) as caught:
        post_create(ben, text="r", reply_to=locked)
    assert caught.value.code == "locked"
    make_paid_subscription(ben, make_tier(ann))
    assert post_create(ben, text="r", reply_to=locked).reply_to_id == locked.pk


def test_reply_to_protected_author_not_notified_when_parent_author_cannot_see_reply(ann, ben):
    ben.is_protected = True
    ben.save()
    root = make_post(ann, "root")
    post_create(ben, text="reply from a protected account", reply_to=root)
    assert kinds(ann) == []
    Follow.objects.create(follower=ann, followee=ben)
    post_create(ben, text="again", reply_to=root)
    assert kinds(ann) == ["reply.new"]


def test_reply_to_a_repost_answers_the_original(ann, ben):
    original = make_post(ann, "original")
    repost = repost_create(ben, post=original)
    reply = post_create(ben, text="r", reply_to=repost)
    assert reply.reply_to_id == original.pk


def test_quote_counts_and_targets_the_original(ann, ben, cat):
    original = make_post(ann, "original")
    repost = repost_create(ben, post=original)
    quote = post_create(cat, text="look", quote_of=repost)
    assert quote.quote_of_id == original.pk
    original.refresh_from_db()
    assert original.quote_count == 1
    ann.is_protected = True
    ann.save()
    with pytest.raises(PostNotFound):
        post_create(cat, text="again", quote_of=original)


# --- mentions and tags -------------------------------------------------------------------------


def test_mentions_create_rows_and_notify_once(ann, ben, cat):
    post = post_create(ann, text="hi @ben @BEN @cat @ann @nobody_here #Hello #hello #World")
    assert set(Mention.objects.filter(post=post).values_list("user__handle", flat=True)) == {"ben", "cat"}
    assert kinds(ben) == ["mention.new"] and kinds(cat) == ["mention.new"] and kinds(ann) == []
    assert sorted(PostTag.objects.filter(post=post).values_list("tag", flat=True)) == ["hello", "world"]
    assert Notification.objects.get(recipient=ben).data["url"].rstrip("/").endswith(f"/{post.pk}")


def test_mentions_skip_blocked_and_inactive_people(ann, ben, cat):
    Block.objects.create(blocker=ben, blocked=ann)
    cat.is_active = False
    cat.save()
    post = post_create(ann, text="@ben @cat")
    assert not Mention.objects.filter(post=post).exists()
    assert Notification.objects.count() == 0


def test_mention_of_someone_who_cannot_see_the_post_is_not_notified(ann, ben, cat):
    ann.is_protected = True
    ann.save()
    Follow.objects.create(follower=cat, followee=ann)
    post = post_create(ann, text="@ben @cat")
    assert Mention.objects.filter(post=post).count() == 2
    assert kinds(ben) == [] and kinds(cat) == ["mention.new"]


def test_mention_in_subscribers_only_post_notifies_subscribers_only(ann, ben, cat):
    make_creator(ann)
    make_paid_subscription(cat, make_tier(ann))
    post_create(ann, text="@ben @cat fans only", audience=Audience.SUBSCRIBERS)
    assert kinds(ben) == [] and kinds(cat) == ["mention.new"]


# --- likes -------------------------------------------------------------------------------------


def test_like_is_idempotent_and_counted(ann, ben):
    post = make_post(ann)
    assert like_create(ben, post=post) is True
    assert like_create(ben, post=post.pk) is False
    post.refresh_from_db()
    assert post.like_count == 1 and Like.objects.count() == 1
    assert like_delete(ben, post=post) is True
    assert like_delete(ben, post=post) is False
    post.refresh_from_db()
    assert post.like_count == 0


def test_like_on_a_repost_likes_the_original(ann, ben, cat):
    original = make_post(ann)
    repost = repost_create(ben, post=original)
    like_create(cat, post=repost)
    assert Like.objects.get().post_id == original.pk
    like_delete(cat, post=repost)
    assert not Like.objects.exists()


def test_cannot_like_invisible_posts(ann, ben):
    ann.is_protected = True
    ann.save()
    with pytest.raises(PostNotFound):
        like_create(ben, post=make_post(ann))
    hidden = make_post(ben, hidden_at="2024-01-01T00:00:00Z")
    with pytest.raises(PostNotFound):
        like_create(ann, post=hidden)
    with pytest.raises(PostNotFound):
        like_create(ann, post="abc")


# --- reposts -----------------------------------------------------------------------------------


def test_repost_is_idempotent_and_targets_the_original(ann, ben, cat):
    original = make_post(ann)
    first = repost_create(ben, post=original)
    again = repost_create(ben, post=original)
    assert first.pk == again.pk
    via_repost = repost_create(cat, post=first)
    assert via_repost.repost_of_id == original.pk
    original.refresh_from_db()
    assert original.repost_count == 2
    assert repost_delete(ben, post=original) is True
    assert repost_delete(ben, post=original) is False
    assert repost_delete(cat, post=via_repost) is True
    original.refresh_from_db()
    assert original.repost_count == 0
    # Reposting again after undoing works (the unique constraint only covers live reposts).
    assert repost_create(ben, post=original).pk != first.pk


def test_own_posts_can_be_reposted_but_not_others_protected_ones(ann, ben):
    assert repost_create(ann, post=make_post(ann)).repost_of_id
    ann.is_protected = True
    ann.save()
    Follow.objects.create(follower=ben, followee=ann)
    with pytest.raises(NotPermitted) as caught:
        repost_create(ben, post=make_post(ann))
    assert caught.value.code == "protected"


def test_subscribers_only_posts_can_be_reposted(ann, ben):
    make_creator(ann)
    locked = make_post(ann, "fans", audience=Audience.SUBSCRIBERS)
    assert repost_create(ben, post=locked).repost_of_id == locked.pk


# --- delete ------------------------------------------------------------------------------------


def test_delete_leaves_a_tombstone_and_undoes_counters(ann, ben, cat):
    root = make_post(ben, "root")
    quoted = make_post(cat, "quoted")
    post = post_create(ann, text="@ben #tag reply", reply_to=root, quote_of=quoted)
    repost = repost_create(cat, post=post)
    like_create(cat, post=post)
    root.refresh_from_db()
    quoted.refresh_from_db()
    assert (root.reply_count, quoted.quote_count) == (1, 1)

    tomb = post_delete(ann, post=post)
    assert tomb.deleted_at is not None and tomb.text == "" and tomb.teaser == ""
    assert not PostTag.objects.filter(post=post).exists() and not Mention.objects.filter(post=post).exists()
    root.refresh_from_db()
    quoted.refresh_from_db()
    assert (root.reply_count, quoted.quote_count) == (0, 0)
    repost.refresh_from_db()
    assert repost.deleted_at is not None
    # Idempotent: a second delete changes nothing.
    assert post_delete(ann, post=post).deleted_at == tomb.deleted_at
    root.refresh_from_db()
    assert root.reply_count == 0


def test_only_the_author_deletes(ann, ben):
    post = make_post(ann)
    with pytest.raises(NotPermitted):
        post_delete(ben, post=post)
    ann.is_protected = True
    ann.save()
    with pytest.raises(PostNotFound):  # cannot see it: existence not revealed
        post_delete(ben, post=post)
    with pytest.raises(PostNotFound):
        post_delete(ben, post=10**12)
    assert Post.objects.get(pk=post.pk).deleted_at is None


def test_deleting_a_repost_undoes_it(ann, ben):
    original = make_post(ann)
    repost = repost_create(ben, post=original)
    post_delete(ben, post=repost)
    original.refresh_from_db()
    assert original.repost_count == 0


# --- fan-out -----------------------------------------------------------------------------------


@pytest.fixture
def pushed(monkeypatch):
    events: list[tuple[int, str, dict]] = []
    monkeypatch.setattr(tasks, "event_publish", lambda **kw: events.append((kw["user_id"], kw["type"], kw["data"])))
    return events


def test_new_post_fans_out_to_followers_only(ann, ben, cat, pushed, django_capture_on_commit_callbacks):
    dan, eve = UserFactory(handle="dan"), UserFactory(handle="eve")
    for follower in (ben, cat, dan):
        Follow.objects.create(follower=follower, followee=ann)
    Block.objects.create(blocker=ann, blocked=dan)  # a block left a stale follow: no event
    Follow.objects.create(follower=eve, followee=ben)  # eve follows someone else
    with django_capture_on_commit_callbacks(execute=True):
        post = post_create(ann, text="news")
    assert sorted(user for user, _, _ in pushed) == sorted([ben.pk, cat.pk])
    assert {kind for _, kind, _ in pushed} == {"post.new"}
    assert pushed[0][2] == {"post_id": post.pk, "author": "ann"}


def test_replies_and_reposts_do_not_fan_out(ann, ben, pushed, django_capture_on_commit_callbacks):
    Follow.objects.create(follower=ben, followee=ann)
    root = make_post(UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        post_create(ann, text="reply", reply_to=root)
        repost_create(ann, post=root)
    assert pushed == []


def test_nothing_fans_out_from_a_rolled_back_post(ann, ben, pushed, django_capture_on_commit_callbacks):
    Follow.objects.create(follower=ben, followee=ann)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationFailed):
        post_create(ann, text="x", quote_of=None, audience="nope")
    assert pushed == []


def test_fan_out_is_chunked(ann, pushed, monkeypatch):
    monkeypatch.setattr(tasks, "FAN_OUT_CHUNK", 2)
    followers = [UserFactory() for _ in range(5)]
    for follower in followers:
        Follow.objects.create(follower=follower, followee=ann)
    post = make_post(ann)
    assert tasks.fan_out_new_post(post.pk) == 5
    assert sorted(user for user, _, _ in pushed) == sorted(f.pk for f in followers)
    assert tasks.fan_out_new_post(10**9) == 0


def test_fan_out_event_reaches_the_follower_socket_group(ann, ben, django_capture_on_commit_callbacks):
    """End to end through the channel layer: ben's group receives post.new."""
    from asgiref.sync import async_to_sync, sync_to_async
    from channels.layers import get_channel_layer

    from notifications.services import user_group_name

    Follow.objects.create(follower=ben, followee=ann)
    layer = get_channel_layer()

    def post_and_commit():
        with django_capture_on_commit_callbacks(execute=True):
            return post_create(ann, text="live")

    async def scenario():
        # One event loop throughout: the pub/sub layer keeps its channels per loop.
        channel = await layer.new_channel()
        await layer.group_add(user_group_name(ben.pk), channel)
        post = await sync_to_async(post_and_commit)()
        message = await layer.receive(channel)
        await layer.group_discard(user_group_name(ben.pk), channel)
        return post, message

    post, message = async_to_sync(scenario)()
    assert message["event"]["type"] == "post.new" and message["event"]["data"]["post_id"] == post.pk

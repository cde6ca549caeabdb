"""The social graph's rules: follow, unfollow, block, unblock (accounts.social), the reads
other apps consult (accounts.selectors), the message-policy setting and the admin."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connection, connections

from accounts import selectors, services, social
from accounts.models import Block, Follow, MessagePolicy
from accounts.signals import user_blocked, user_unblocked
from accounts.tests.factories import UserFactory
from core.errors import DomainError, NotFound, NotPermitted, ValidationFailed
from notifications.models import Notification

User = get_user_model()


@pytest.fixture
def alice(db):
    return UserFactory(handle="alice", display_name="Alice Liddell")


@pytest.fixture
def bob(db):
    return UserFactory(handle="bob", display_name="Bob Builder")


@pytest.fixture
def carol(db):
    return UserFactory(handle="carol")


@pytest.fixture
def signals_seen():
    seen: list[tuple[str, str, str]] = []

    def on_block(sender, blocker, blocked, **kwargs):
        seen.append(("blocked", blocker.handle, blocked.handle))

    def on_unblock(sender, blocker, blocked, **kwargs):
        seen.append(("unblocked", blocker.handle, blocked.handle))

    user_blocked.connect(on_block, dispatch_uid="test-on-block")
    user_unblocked.connect(on_unblock, dispatch_uid="test-on-unblock")
    yield seen
    user_blocked.disconnect(dispatch_uid="test-on-block")
    user_unblocked.disconnect(dispatch_uid="test-on-unblock")


def _follows() -> set[tuple[str, str]]:
    return set(Follow.objects.values_list("follower__handle", "followee__handle"))


def _blocks() -> set[tuple[str, str]]:
    return set(Block.objects.values_list("blocker__handle", "blocked__handle"))


# ---- follow ------------------------------------------------------------------------------


def test_follow_creates_one_follow_and_notifies_the_followee(alice, bob):
    follow = social.follow_create(alice, followee=bob)
    assert (follow.follower, follow.followee) == (alice, bob)
    assert _follows() == {("alice", "bob")}
    note = Notification.objects.get(recipient=bob)
    assert note.kind == "follow.new"
    assert note.data == {"follower": "@alice", "url": "/@alice"}
    assert note.title == "@alice started following you"
    assert note.url == "/@alice"
    assert not Notification.objects.filter(recipient=alice).exists()


def test_follow_pushes_the_notification_only_on_commit(alice, bob, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        social.follow_create(alice, followee=bob)
    assert len(callbacks) == 1  # the notification.new push, queued for commit


def test_follow_is_idempotent_and_notifies_once(alice, bob):
    first = social.follow_create(alice, followee=bob)
    again = social.follow_create(alice, followee=bob)
    assert again.pk == first.pk
    assert Follow.objects.count() == 1
    assert Notification.objects.filter(recipient=bob, kind="follow.new").count() == 1


def test_following_is_one_way(alice, bob):
    social.follow_create(alice, followee=bob)
    assert selectors.is_following(alice, bob)
    assert not selectors.is_following(bob, alice)
    assert not selectors.follows_both_ways(alice, bob)
    social.follow_create(bob, followee=alice)
    assert selectors.follows_both_ways(alice, bob) and selectors.mutual(bob, alice)


def test_cannot_follow_yourself(alice):
    with pytest.raises(ValidationFailed) as caught:
        social.follow_create(alice, followee=alice)
    assert caught.value.code == "cannot_follow_self"
    assert caught.value.status == 400
    assert "yourself" in caught.value.message
    assert not Follow.objects.exists()


def test_cannot_follow_someone_you_blocked(alice, bob):
    social.block_create(alice, blocked=bob)
    with pytest.raises(NotPermitted) as caught:
        social.follow_create(alice, followee=bob)
    assert caught.value.code == "blocked"
    assert "You blocked @bob" in caught.value.message and "Unblock" in caught.value.message
    assert not Follow.objects.exists()
    assert not Notification.objects.filter(kind="follow.new").exists()


def test_cannot_follow_someone_who_blocked_you(alice, bob):
    social.block_create(bob, blocked=alice)
    with pytest.raises(NotPermitted) as caught:
        social.follow_create(alice, followee=bob)
    assert caught.value.code == "blocked"
    assert caught.value.message == "You cannot follow @bob."
    assert not Follow.objects.exists()
    assert not Notification.objects.filter(recipient=bob).exists()


def test_cannot_follow_an_inactive_person(alice, bob):
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    with pytest.raises(NotFound):
        social.follow_create(alice, followee=bob)
    assert not Follow.objects.exists()


def test_an_inactive_or_anonymous_actor_is_refused(alice, bob):
    with pytest.raises(NotPermitted):
        social.follow_create(AnonymousUser(), followee=bob)
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    with pytest.raises(NotPermitted):
        social.follow_create(alice, followee=bob)
    with pytest.raises(NotPermitted):
        social.block_create(alice, blocked=bob)
    assert not Follow.objects.exists() and not Block.objects.exists()


def test_unfollow_removes_the_follow_and_is_idempotent(alice, bob):
    social.follow_create(alice, followee=bob)
    social.follow_create(bob, followee=alice)
    assert social.follow_delete(alice, followee=bob) is True
    assert _follows() == {("bob", "alice")}  # only that direction
    assert social.follow_delete(alice, followee=bob) is False
    assert _follows() == {("bob", "alice")}


def test_cannot_unfollow_yourself(alice):
    with pytest.raises(ValidationFailed) as caught:
        social.follow_delete(alice, followee=alice)
    assert caught.value.code == "cannot_follow_self"


def test_unfollow_works_on_someone_deactivated_since(alice, bob):
    social.follow_create(alice, followee=bob)
    User.objects.filter(pk=bob.pk).update(is_active=False)
    assert social.follow_delete(alice, followee=bob) is True


# ---- block -------------------------------------------------------------------------------


def test_block_removes_follows_both_ways_and_signals_once(alice, bob, carol, signals_seen):
    social.follow_create(alice, followee=bob)
    social.follow_create(bob, followee=alice)
    social.follow_create(alice, followee=carol)
    social.follow_create(carol, followee=bob)

    block = social.block_create(alice, blocked=bob)
    assert (block.blocker, block.blocked) == (alice, bob)
    assert _blocks() == {("alice", "bob")}
    assert _follows() == {("alice", "carol"), ("carol", "bob")}  # other people's follows untouched
    assert signals_seen == [("blocked", "alice", "bob")]

    again = social.block_create(alice, blocked=bob)  # idempotent: same row, no second signal
    assert again.pk == block.pk
    assert Block.objects.count() == 1
    assert signals_seen == [("blocked", "alice", "bob")]


def test_cannot_block_yourself(alice, signals_seen):
    with pytest.raises(ValidationFailed) as caught:
        social.block_create(alice, blocked=alice)
    assert caught.value.code == "cannot_block_self"
    assert caught.value.status == 400
    with pytest.raises(ValidationFailed):
        social.block_delete(alice, blocked=alice)
    assert not Block.objects.exists()
    assert signals_seen == []


def test_blocks_are_directional_and_both_may_block(alice, bob, signals_seen):
    social.block_create(alice, blocked=bob)
    social.block_create(bob, blocked=alice)
    assert _blocks() == {("alice", "bob"), ("bob", "alice")}
    assert signals_seen == [("blocked", "alice", "bob"), ("blocked", "bob", "alice")]


def test_the_block_signal_is_sent_inside_the_transaction(alice, bob):
    """A receiver that fails undoes the whole block: the row and the follow removal."""
    social.follow_create(bob, followee=alice)

    def explode(sender, **kwargs):
        assert Block.objects.filter(blocker=kwargs["blocker"], blocked=kwargs["blocked"]).exists()
        assert not Follow.objects.exists()  # follows are already gone when receivers run
        raise RuntimeError("messaging failed")

    user_blocked.connect(explode, dispatch_uid="test-explode")
    try:
        with pytest.raises(RuntimeError):
            social.block_create(alice, blocked=bob)
    finally:
        user_blocked.disconnect(dispatch_uid="test-explode")
    assert not Block.objects.exists()
    assert _follows() == {("bob", "alice")}


def test_blocking_an_inactive_person_is_allowed(alice, bob):
    User.objects.filter(pk=bob.pk).update(is_active=False)
    bob.refresh_from_db()
    social.block_create(alice, blocked=bob)
    assert selectors.has_blocked(alice, bob)


def test_unblock_restores_nothing_else(alice, bob, signals_seen):
    social.follow_create(alice, followee=bob)
    social.follow_create(bob, followee=alice)
    social.block_create(alice, blocked=bob)
    social.block_create(bob, blocked=alice)

    assert social.block_delete(alice, blocked=bob) is True
    assert _blocks() == {("bob", "alice")}  # bob's own block stands
    assert _follows() == set()  # the follows the block removed stay removed
    assert selectors.is_blocked_between(alice, bob)
    assert signals_seen[-1] == ("unblocked", "alice", "bob")

    assert social.block_delete(alice, blocked=bob) is False  # idempotent, no second signal
    assert [s for s in signals_seen if s[0] == "unblocked"] == [("unblocked", "alice", "bob")]


def test_after_unblocking_you_may_follow_again(alice, bob):
    social.block_create(alice, blocked=bob)
    social.block_delete(alice, blocked=bob)
    social.follow_create(alice, followee=bob)
    assert selectors.is_following(alice, bob)


def test_every_error_is_a_domain_error_with_code_and_message(alice, bob):
    social.block_create(bob, blocked=alice)
    for call in (
        lambda: social.follow_create(alice, followee=alice),
        lambda: social.follow_create(alice, followee=bob),
        lambda: social.block_create(alice, blocked=alice),
    ):
        with pytest.raises(DomainError) as caught:
            call()
        assert caught.value.code and caught.value.message


# ---- selectors ---------------------------------------------------------------------------


def test_is_blocked_between_sees_both_directions(alice, bob, carol):
    assert not selectors.is_blocked_between(alice, bob)
    social.block_create(bob, blocked=alice)
    assert selectors.is_blocked_between(alice, bob)
    assert selectors.is_blocked_between(bob, alice)
    assert selectors.is_blocked_between(alice.pk, bob.pk)  # ids work too
    assert not selectors.is_blocked_between(alice, carol)
    assert selectors.has_blocked(bob, alice) and not selectors.has_blocked(alice, bob)


def test_selectors_treat_anonymous_and_self_as_unrelated(alice):
    anonymous = AnonymousUser()
    assert not selectors.is_following(anonymous, alice)
    assert not selectors.is_following(None, alice)
    assert not selectors.is_following(alice, alice)
    assert not selectors.is_blocked_between(anonymous, alice)
    assert not selectors.is_blocked_between(alice, alice)
    assert selectors.blocked_ids(anonymous).all == frozenset()
    assert selectors.following_ids(None) == frozenset()


def test_blocked_ids_gives_both_sets_in_one_query(alice, bob, carol, django_assert_num_queries):
    dave = UserFactory(handle="dave")
    social.block_create(alice, blocked=bob)
    social.block_create(carol, blocked=alice)
    social.block_create(bob, blocked=carol)  # not about alice
    with django_assert_num_queries(1):
        ids = selectors.blocked_ids(alice)
    assert ids.blocked == {bob.pk}
    assert ids.blocked_by == {carol.pk}
    assert ids.all == {bob.pk, carol.pk}
    assert bob.pk in ids and carol.pk in ids and dave.pk not in ids


def test_exclude_blocked_filters_either_way_in_one_query(alice, bob, carol, django_assert_num_queries):
    dave = UserFactory(handle="dave")
    social.block_create(alice, blocked=bob)
    social.block_create(carol, blocked=alice)
    with django_assert_num_queries(1):
        seen = set(selectors.exclude_blocked(User.objects.exclude(pk=alice.pk), alice).values_list("handle", flat=True))
    assert seen == {"dave"}
    # Rows of another model, through a user foreign key:
    social.follow_create(dave, followee=bob)
    social.follow_create(dave, followee=alice)
    rows = selectors.exclude_blocked(Follow.objects.all(), alice, field="followee")
    assert {f.followee.handle for f in rows} == {"alice"}


def test_counts(alice, bob, carol, django_assert_num_queries):
    social.follow_create(bob, followee=alice)
    social.follow_create(carol, followee=alice)
    social.follow_create(alice, followee=bob)
    with django_assert_num_queries(1):
        assert selectors.follow_counts(alice) == (2, 1)
    assert selectors.follower_count(alice) == 2
    assert selectors.following_count(alice) == 1
    assert selectors.follow_counts(carol) == (0, 1)
    assert selectors.following_ids(alice) == {bob.pk}
    assert [f.follower.handle for f in selectors.followers_of(alice)] == ["carol", "bob"]
    assert [f.followee.handle for f in selectors.followed_by(alice)] == ["bob"]


def test_profile_for_in_one_query_with_every_relationship(alice, bob, carol, django_assert_num_queries):
    social.follow_create(alice, followee=bob)
    social.follow_create(bob, followee=alice)
    social.follow_create(carol, followee=bob)
    with django_assert_num_queries(1):
        profile = selectors.profile_for("bob", alice)
    assert profile.user == bob
    assert (profile.followers_count, profile.following_count) == (2, 1)
    assert profile.is_following and profile.follows_you and profile.mutual
    assert not profile.is_self and not profile.you_blocked and not profile.blocked_you
    assert profile.can_interact

    social.block_create(bob, blocked=alice)
    profile = selectors.profile_for("bob", alice)
    assert profile.blocked_you and not profile.you_blocked and profile.blocked_either_way
    assert not profile.is_following and not profile.mutual and not profile.can_interact
    mirror = selectors.profile_for("alice", bob)
    assert mirror.you_blocked and not mirror.can_interact


def test_profile_for_self_and_anonymous(alice):
    mine = selectors.profile_for("alice", alice)
    assert mine.is_self and not mine.can_interact and not mine.is_following
    public = selectors.profile_for("alice", AnonymousUser())
    assert not public.is_self and not public.can_interact and not public.viewer_signed_in
    assert selectors.profile_for("alice").followers_count == 0


@pytest.mark.parametrize("handle", ["ALICE", "@alice", " alice ", "@Alice"])
def test_profile_for_accepts_any_case_and_an_at(alice, handle):
    assert selectors.profile_for(handle).user == alice
    assert selectors.user_for_handle(handle) == alice


@pytest.mark.parametrize("handle", ["nobody", "", "@", "a" * 16, "ali\x00ce", None, 42])
def test_profile_for_unknown_handles_is_not_found(alice, handle):
    with pytest.raises(NotFound):
        selectors.profile_for(handle)
    with pytest.raises(NotFound):
        selectors.user_for_handle(handle)


def test_inactive_people_have_no_profile(alice):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    with pytest.raises(NotFound):
        selectors.profile_for("alice")
    with pytest.raises(NotFound):
        selectors.user_for_handle("alice")
    assert selectors.user_for_handle("alice", active_only=False) == alice


# ---- the message-policy setting ------------------------------------------------------------


def test_message_policy_defaults_to_everyone(alice):
    assert alice.message_policy == MessagePolicy.EVERYONE


@pytest.mark.parametrize("value", ["following", "nobody", "everyone", " Nobody "])
def test_profile_update_sets_the_message_policy(alice, value):
    services.profile_update(alice, message_policy=value)
    alice.refresh_from_db()
    assert alice.message_policy == value.strip().lower()


@pytest.mark.parametrize("value", ["friends", "", None])
def test_profile_update_refuses_an_unknown_message_policy(alice, value):
    with pytest.raises(ValidationFailed) as caught:
        services.profile_update(alice, message_policy=value, bio="changed")
    assert caught.value.code == "invalid_profile"
    assert caught.value.fields["message_policy"] == [
        "Choose who may message you: everyone, people you follow, or nobody."
    ]
    assert alice.message_policy == "everyone" and alice.bio == ""  # all or nothing, in memory too
    alice.refresh_from_db()
    assert alice.message_policy == "everyone" and alice.bio == ""


def test_message_policy_is_a_profile_field():
    assert "message_policy" in services.PROFILE_FIELDS


# ---- admin -------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, db):
    boss = User.objects.create_superuser(handle="boss", email="boss@example.com", password="pw-Boss-123")
    client.force_login(boss)
    return client


@pytest.fixture
def graph(alice, bob, carol):
    social.follow_create(alice, followee=bob)
    social.follow_create(carol, followee=alice)
    social.block_create(bob, blocked=carol)


@pytest.mark.parametrize("path", ["/admin/accounts/follow/", "/admin/accounts/block/"])
def test_admin_changelists_load_for_staff_in_bounded_queries(admin_client, graph, path, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = admin_client.get(path)
    assert response.status_code == 200
    for _ in range(10):
        social.follow_create(UserFactory(), followee=UserFactory())
        social.block_create(UserFactory(), blocked=UserFactory())
    with django_assert_max_num_queries(12):
        assert admin_client.get(path).status_code == 200


def test_admin_search_by_handle(admin_client, graph):
    rows = admin_client.get("/admin/accounts/follow/", {"q": "carol"}).context["cl"].result_list
    assert {(f.follower.handle, f.followee.handle) for f in rows} == {("carol", "alice")}
    rows = admin_client.get("/admin/accounts/block/", {"q": "bob"}).context["cl"].result_list
    assert {(b.blocker.handle, b.blocked.handle) for b in rows} == {("bob", "carol")}


def test_admin_is_read_only(admin_client, graph):
    block = Block.objects.get()
    follow = Follow.objects.filter(follower__handle="alice").get()
    assert admin_client.get("/admin/accounts/follow/add/").status_code == 403
    assert admin_client.get("/admin/accounts/block/add/").status_code == 403
    assert admin_client.get(f"/admin/accounts/block/{block.pk}/change/").status_code == 200  # view only
    assert admin_client.post(f"/admin/accounts/block/{block.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Block.objects.filter(pk=block.pk).exists()
    assert admin_client.get(f"/admin/accounts/follow/{follow.pk}/change/").status_code == 200


def test_admin_is_staff_only(client, graph, alice):
    client.force_login(alice)
    response = client.get("/admin/accounts/block/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_user_admin_shows_the_message_policy(admin_client, alice):
    html = admin_client.get(f"/admin/accounts/user/{alice.pk}/change/").content.decode()
    assert 'name="message_policy"' in html


# ---- concurrency (PostgreSQL) ---------------------------------------------------------------


def _race(*actions) -> list[BaseException]:
    """Run ``actions`` in threads released together; return the unexpected errors."""
    barrier = threading.Barrier(len(actions))
    errors: list[BaseException] = []

    def run(action):
        try:
            barrier.wait()
            action()
        except NotPermitted:
            pass  # a follow that lost the race to the block: refused, as it should be
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (real row locks): set DATABASE_URL=postgres://... as .ci/run does",
)
def test_a_follow_racing_a_block_never_leaves_both():
    alice = UserFactory(handle="alice")
    bob = UserFactory(handle="bob")
    for _ in range(15):
        Follow.objects.all().delete()
        Block.objects.all().delete()
        errors = _race(
            lambda: social.follow_create(bob, followee=alice),
            lambda: social.block_create(alice, blocked=bob),
            lambda: social.follow_create(alice, followee=bob),
        )
        assert not errors, errors
        assert _blocks() == {("alice", "bob")}
        assert _follows() == set()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (real row locks): set DATABASE_URL=postgres://... as .ci/run does",
)
def test_concurrent_identical_follows_make_one_follow_and_one_notification():
    alice = UserFactory(handle="alice")
    bob = UserFactory(handle="bob")
    errors = _race(*[lambda: social.follow_create(alice, followee=bob)] * 4)
    assert not errors, errors
    assert _follows() == {("alice", "bob")}
    assert Notification.objects.filter(recipient=bob, kind="follow.new").count() == 1

"""The rules of messaging, at the service level: blocks, message requests and policies, the edit
window, tombstones, unread counts, ordering, group administration (add, remove, leave, 50 people),
mute and reactions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Block, Follow, MessagePolicy
from accounts.tests.factories import UserFactory
from core.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from messaging import selectors, services
from messaging.models import Conversation, MemberRole, Membership, Message, MessageKind, Reaction

pytestmark = pytest.mark.django_db


def person(handle: str, **kwargs):
    return UserFactory(handle=handle, display_name=handle.title(), **kwargs)


@pytest.fixture
def ann():
    return person("ann")


@pytest.fixture
def ben():
    return person("ben")


@pytest.fixture
def cat():
    return person("cat")


def follows(follower, followee):
    Follow.objects.get_or_create(follower=follower, followee=followee)


def inbox(user, folder="inbox") -> list[int]:
    return [row.conversation_id for row in selectors.inbox_memberships(user, folder=folder)]


def unread(user) -> dict[int, int]:
    return {row.conversation_id: row.unread for row in selectors.inbox_memberships(user)}


def membership(user, conversation) -> Membership:
    return Membership.objects.get(user=user, conversation=conversation)


# --- One conversation per pair ------------------------------------------------------------------


def test_one_conversation_per_pair_whoever_starts_it(ann, ben):
    follows(ben, ann)
    first = services.conversation_direct_open(ann, other=ben)
    assert services.conversation_direct_open(ann, other="@BEN").pk == first.pk
    assert services.conversation_direct_open(ben, other=ann).pk == first.pk
    assert Conversation.objects.count() == 1
    assert first.pair_key == f"{min(ann.pk, ben.pk)}:{max(ann.pk, ben.pk)}"
    with pytest.raises(ValidationFailed):
        services.conversation_direct_open(ann, other=ann)
    with pytest.raises(ValidationFailed):
        services.conversation_direct_open(ann, other="@nobody_by_that_name")


def test_leaving_a_direct_conversation_hides_it_until_a_new_message(ann, ben):
    follows(ben, ann)
    conversation = services.conversation_direct_open(ann, other=ben)
    services.message_post(ann, conversation=conversation, body="hi")
    services.conversation_leave(ben, conversation=conversation)
    assert inbox(ben) == []
    services.message_post(ann, conversation=conversation, body="still there?")
    assert inbox(ben) == [conversation.pk]
    assert unread(ben) == {conversation.pk: 2}


# --- Blocks ---------------------------------------------------------------------------------------


def test_a_block_either_way_stops_new_conversations(ann, ben):
    Block.objects.create(blocker=ben, blocked=ann)
    with pytest.raises(services.MessagingNotAllowed):
        services.conversation_direct_open(ann, other=ben)
    with pytest.raises(services.MessagingNotAllowed):
        services.conversation_direct_open(ben, other=ann)
    with pytest.raises(services.MessagingNotAllowed):
        services.conversation_group_create(ann, name="Trap", members=[ben])
    assert not Conversation.objects.exists()


def test_a_block_stops_messages_and_hides_the_thread_from_the_blocker(ann, ben):
    follows(ben, ann)
    conversation = services.conversation_direct_open(ann, other=ben)
    services.message_post(ann, conversation=conversation, body="hello")
    Block.objects.create(blocker=ben, blocked=ann)

    with pytest.raises(services.MessagingNotAllowed):
        services.message_post(ann, conversation=conversation, body="why no answer?")
    with pytest.raises(services.ConversationNotFound):  # hidden from ben, so not even "not allowed"
        services.message_post(ben, conversation=conversation, body="go away")
    with pytest.raises(services.MessagingNotAllowed):
        services.conversation_direct_open(ann, other=ben)
    assert inbox(ben) == [] and inbox(ann) == [conversation.pk]
    assert selectors.unread_conversations_count(ben) == 0
    with pytest.raises(NotFound):
        services.membership_for(ben, conversation)

    Block.objects.filter(blocker=ben).delete()
    assert inbox(ben) == [conversation.pk]
    services.message_post(ben, conversation=conversation, body="sorry, that was a mistake")


def test_a_request_from_someone_you_block_disappears(ann, ben):
    conversation = services.conversation_direct_open(ben, other=ann)
    services.message_post(ben, conversation=conversation, body="buy my course")
    assert selectors.requests_count(ann) == 1
    Block.objects.create(blocker=ann, blocked=ben)
    assert selectors.requests_count(ann) == 0 and inbox(ann, "requests") == []


def test_a_block_does_not_hide_a_shared_group(ann, ben, cat):
    follows(ben, ann)
    follows(cat, ann)
    group = services.conversation_group_create(ann, name="Book club", members=[ben, cat])
    Block.objects.create(blocker=ben, blocked=cat)
    services.message_post(cat, conversation=group, body="chapter 3?")
    assert group.pk in inbox(ben)
    assert selectors.unread_conversations_count(ben) == 1


# --- Message requests and policies --------------------------------------------------------------------


def test_from_someone_you_do_not_follow_it_is_a_request_until_accepted(ann, ben):
    conversation = services.conversation_direct_open(ben, other=ann)
    services.message_post(ben, conversation=conversation, body="hey")
    assert inbox(ann) == [] and inbox(ann, "requests") == [conversation.pk]
    assert selectors.requests_count(ann) == 1
    assert selectors.unread_conversations_count(ann) == 0  # requests don't light the badge
    assert inbox(ben) == [conversation.pk]  # the starter has it in the inbox

    services.conversation_accept(ann, conversation=conversation)
    assert inbox(ann) == [conversation.pk] and inbox(ann, "requests") == []
    assert selectors.unread_conversations_count(ann) == 1


def test_replying_to_a_request_accepts_it(ann, ben):
    conversation = services.conversation_direct_open(ben, other=ann)
    services.message_post(ben, conversation=conversation, body="hey")
    services.message_post(ann, conversation=conversation, body="hi, who is this?")
    assert membership(ann, conversation).accepted is True
    assert inbox(ann) == [conversation.pk]


def test_from_someone_you_follow_it_goes_straight_to_the_inbox(ann, ben):
    follows(ann, ben)
    conversation = services.conversation_direct_open(ben, other=ann)
    assert membership(ann, conversation).accepted is True


def test_policy_following_refuses_strangers(ann, ben):
    ann.message_policy = MessagePolicy.FOLLOWING
    ann.save()
    with pytest.raises(services.MessagingNotAllowed, match="only accepts messages from people they follow"):
        services.conversation_direct_open(ben, other=ann)
    with pytest.raises(services.MessagingNotAllowed):
        services.conversation_group_create(ben, name="Hi", members=[ann])
    follows(ann, ben)
    conversation = services.conversation_direct_open(ben, other=ann)
    assert membership(ann, conversation).accepted is True


def test_policy_nobody_refuses_new_conversations_but_existing_ones_carry_on(ann, ben, cat):
    follows(ann, ben)
    existing = services.conversation_direct_open(ben, other=ann)
    ann.message_policy = MessagePolicy.NOBODY
    ann.save()
    with pytest.raises(services.MessagingNotAllowed, match="doesn't accept new messages"):
        services.conversation_direct_open(cat, other=ann)
    assert services.conversation_direct_open(ben, other=ann).pk == existing.pk
    services.message_post(ben, conversation=existing, body="still works")


def test_group_members_who_do_not_follow_the_creator_find_it_in_requests(ann, ben, cat):
    follows(ben, ann)
    group = services.conversation_group_create(ann, name="Party", members=[ben, cat])
    assert inbox(ben) == [group.pk] and inbox(cat) == []
    assert inbox(cat, "requests") == [group.pk]


# --- Edit window --------------------------------------------------------------------------------------------


def _age(message, minutes: float):
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))


def test_edit_within_fifteen_minutes_is_marked_edited(ann, ben):
    follows(ben, ann)
    conversation = services.conversation_direct_open(ann, other=ben)
    message = services.message_post(ann, conversation=conversation, body="typo")
    _age(message, 14.5)
    edited = services.message_edit(ann, message=message, body="fixed")
    assert edited.body == "fixed" and edited.edited_at is not None
    same = services.message_edit(ann, message=message, body="fixed")  # nothing changed: no new edit
    assert same.edited_at == edited.edited_at


def test_edit_after_fifteen_minutes_is_refused(ann, ben):
    follows(ben, ann)
    conversation = services.conversation_direct_open(ann, other=ben)
    message = services.message_post(ann, conversation=conversation, body="old")
    _age(message, 15.1)
    with pytest.raises(Conflict) as refused:
        services.message_edit(ann, message=message, body="new")
    assert refused.value.code == "edit_window_passed"
    message.refresh_from_db()
    assert message.body == "old" and message.edited_at is None


def test_only_the_sender_edits_and_only_text(ann, ben):
    follows(ben, ann)
    conversation = services.conversation_direct_open(ann, other=ben)
    message = services.message_post(ann, conversation=conversation, body="mine")
    with pytest.raises(NotPermitted):
        services.message_edit(ben, message=message, body="hijacked")
    group = services.conversation_group_create(ann, name="G", members=[ben])
    notice = Message.objects.get(conversation=group, kind=MessageKind.SYSTEM)
    with pytest.raises(NotPermitted):
        services.message_edit(ann, message=notice, body="rewritten history")
    with pytest.raises(ValidationFailed):
        services.message_edit(ann, message=message, body="x" * 10_001)
    with pytest.raises(ValidationFailed):
        services.message_edit(ann, message=message, body="   ")


# --- Tombstones ----------------------------------------------------------------------------------------


def test_delete_leaves_a_tombstone_without_text_or_reactions(ann, ben):
    follows(ben, ann)
    conversation = services.conversation_direct_open(ann, other=ben)
    message = services.message_post(ann, conversation=conversation, body="regret")
    reply = services.message_post(ben, conversation=conversation, body="what?", reply_to=message)
    services.reaction_toggle(ben, message=message, emoji="😮")
    deleted = services.message_delete(ann, message=message)
    assert deleted.deleted_at is not None and deleted.body == ""
    assert Message.objects.filter(pk=message.pk).exists()  # the row stays
    assert not Reaction.objects.filter(message=message).exists()
    data = services.message_serialize(deleted)
    assert data["deleted"] is True and data["body"] == "" and data["reactions"] == [] and data["attachments"] == []
    reply.refresh_from_db()
    assert reply.reply_to_id == message.pk  # the reply still points at the tombstone
    assert services.message_delete(ann, message=message).deleted_at == deleted.deleted_at  # twice: harmless
    with pytest.raises(Conflict):
        services.message_edit(ann, message=message, body="undo")
    with pytest.raises(Conflict):
        services.reaction_toggle(ben, message=message, emoji="👍")
    with pytest.raises(NotPermitted):  # nobody deletes someone else's message
        services.message_delete(ann, message=reply)


def test_deleted_messages_do_not_count_as_unread(ann, ben):
    follows(ben, ann)
    conversation = services.conversation_direct_open(ann, other=ben)
    message = services.message_post(ann, conversation=conversation, body="oops")
    assert unread(ben) == {conversation.pk: 1}
    services.message_delete(ann, message=message)
    assert unread(ben) == {conversation.pk: 0}
    assert selectors.unread_conversations_count(ben) == 0


# --- Unread counts and read state ---------------------------------------------------------------------


def test_unread_counts_others_messages_after_the_read_mark(ann, ben, cat):
    follows(ben, ann)
    follows(cat, ann)
    group = services.conversation_group_create(ann, name="Three", members=[ben, cat])
    services.message_post(ann, conversation=group, body="1")
    services.message_post(cat, conversation=group, body="2")
    services.message_post(ben, conversation=group, body="mine")  # ben wrote: read up to here
    assert unread(ben) == {group.pk: 0}
    third = services.message_post(cat, conversation=group, body="3")
    fourth = services.message_post(ann, conversation=group, body="4")
    assert unread(ben) == {group.pk: 2}
    assert selectors.unread_conversations_count(ben) == 1

    assert services.conversation_mark_read(ben, conversation=group, up_to_id=third.pk) == third.pk
    assert unread(ben) == {group.pk: 1}
    assert services.conversation_mark_read(ben, conversation=group, up_to_id=1) == third.pk  # never back
    assert services.conversation_mark_read(ben, conversation=group, up_to_id=10**12) == fourth.pk  # clamped
    assert unread(ben) == {group.pk: 0}
    with pytest.raises(ValidationFailed):
        services.conversation_mark_read(ben, conversation=group, up_to_id=-1)
    # System notices (someone left) are not unread messages.
    services.conversation_leave(cat, conversation=group)
    assert unread(ben) == {group.pk: 0}


def test_unread_badge_counts_conversations_not_messages(ann, ben, cat):
    follows(ben, ann)
    follows(ben, cat)
    with_ann = services.conversation_direct_open(ann, other=ben)
    with_cat = services.conversation_direct_open(cat, other=ben)
    for _ in range(3):
        services.message_post(ann, conversation=with_ann, body="ann!")
    services.message_post(cat, conversation=with_cat, body="cat!")
    assert selectors.unread_conversations_count(ben) == 2


# --- Ordering ---------------------------------------------------------------------------------------


def test_inbox_is_ordered_by_last_activity(ann, ben, cat):
    follows(ben, ann)
    follows(cat, ann)
    first = services.conversation_direct_open(ann, other=ben)
    second = services.conversation_direct_open(ann, other=cat)
    group = services.conversation_group_create(ann, name="All", members=[ben, cat])
    assert inbox(ann) == [group.pk, second.pk, first.pk]
    services.message_post(ben, conversation=first, body="bump")
    assert inbox(ann) == [first.pk, group.pk, second.pk]
    services.message_post(ann, conversation=second, body="me too")
    assert inbox(ann) == [second.pk, first.pk, group.pk]
    services.conversation_rename(ann, conversation=group, name="Everyone")  # a notice is activity too
    assert inbox(ann)[0] == group.pk


# --- Groups: admins, members, leaving, 50 people ----------------------------------------------------------


def test_only_admins_add_and_remove_members(ann, ben, cat):
    follows(ben, ann)
    follows(cat, ann)
    group = services.conversation_group_create(ann, name="Band", members=[ben])
    assert membership(ann, group).role == MemberRole.ADMIN and membership(ben, group).role == MemberRole.MEMBER
    with pytest.raises(NotPermitted):
        services.group_members_add(ben, conversation=group, members=[cat])
    services.group_members_add(ann, conversation=group, members=["@cat"])
    assert membership(cat, group).is_active
    with pytest.raises(NotPermitted):
        services.group_member_remove(ben, conversation=group, member=cat)
    with pytest.raises(ValidationFailed):
        services.group_member_remove(ann, conversation=group, member=ann)
    services.group_member_remove(ann, conversation=group, member="@cat")
    assert not membership(cat, group).is_active
    with pytest.raises(services.ConversationNotFound):
        services.message_post(cat, conversation=group, body="let me back in")
    with pytest.raises(NotFound):
        services.group_member_remove(ann, conversation=group, member=cat)  # not in it any more
    # Re-adding someone who was removed brings them back as a plain member.
    services.group_members_add(ann, conversation=group, members=[cat])
    assert membership(cat, group).is_active and membership(cat, group).role == MemberRole.MEMBER
    notices = list(Message.objects.filter(conversation=group, kind=MessageKind.SYSTEM).values_list("body", flat=True))
    assert notices == [
        "Ann created the group “Band”.",
        "Ann added @cat.",
        "Ann removed @cat.",
        "Ann added @cat.",
    ]


def test_group_admin_actions_do_not_apply_to_direct_conversations(ann, ben, cat):
    follows(ben, ann)
    conversation = services.conversation_direct_open(ann, other=ben)
    with pytest.raises(ValidationFailed):
        services.group_members_add(ann, conversation=conversation, members=[cat])
    with pytest.raises(ValidationFailed):
        services.conversation_rename(ann, conversation=conversation, name="Us")


def test_the_last_admin_leaving_hands_the_group_to_the_oldest_member(ann, ben, cat):
    follows(ben, ann)
    follows(cat, ann)
    group = services.conversation_group_create(ann, name="Club", members=[ben, cat])
    services.conversation_leave(ann, conversation=group)
    assert not membership(ann, group).is_active
    assert membership(ben, group).role == MemberRole.ADMIN
    assert membership(cat, group).role == MemberRole.MEMBER
    services.group_member_remove(ben, conversation=group, member=cat)  # ben can act as admin now
    assert Message.objects.filter(conversation=group, body="Ann left.").exists()


def test_a_group_has_at_most_fifty_people(ann):
    others = [person(f"g{i:02d}") for i in range(50)]
    with pytest.raises(ValidationFailed) as too_many:
        services.conversation_group_create(ann, name="Too big", members=others)
    assert too_many.value.code == "group_too_large"
    group = services.conversation_group_create(ann, name="Just right", members=others[:49])
    assert Membership.objects.filter(conversation=group, is_active=True).count() == 50
    with pytest.raises(ValidationFailed) as full:
        services.group_members_add(ann, conversation=group, members=[others[49]])
    assert full.value.code == "group_too_large"
    services.group_member_remove(ann, conversation=group, member=others[0])
    services.group_members_add(ann, conversation=group, members=[others[49]])
    assert Membership.objects.filter(conversation=group, is_active=True).count() == 50


def test_group_names_are_required_and_bounded(ann, ben):
    with pytest.raises(ValidationFailed):
        services.conversation_group_create(ann, name="   ", members=[ben])
    with pytest.raises(ValidationFailed):
        services.conversation_group_create(ann, name="x" * 81, members=[ben])
    with pytest.raises(ValidationFailed):
        services.conversation_group_create(ann, name="ok", members="@ben")  # not a list


# --- Mute ----------------------------------------------------------------------------------------


def test_muted_conversations_do_not_count_in_the_badge(ann, ben):
    follows(ben, ann)
    conversation = services.conversation_direct_open(ann, other=ben)
    services.message_post(ann, conversation=conversation, body="ping")
    assert selectors.unread_conversations_count(ben) == 1
    services.conversation_mute(ben, conversation=conversation, muted=True)
    assert selectors.unread_conversations_count(ben) == 0
    assert unread(ben) == {conversation.pk: 1}  # the inbox still shows it
    services.conversation_mute(ben, conversation=conversation, muted=False)
    assert selectors.unread_conversations_count(ben) == 1


# --- Reactions ----------------------------------------------------------------------------------------


def test_reactions_toggle_and_count_per_emoji(ann, ben):
    follows(ben, ann)
    conversation = services.conversation_direct_open(ann, other=ben)
    message = services.message_post(ann, conversation=conversation, body="we did it")
    assert services.reaction_toggle(ben, message=message, emoji="🎉") is True
    assert services.reaction_toggle(ann, message=message, emoji="🎉") is True
    assert services.reaction_toggle(ann, message=message, emoji="❤️") is True
    summary = services.message_serialize(Message.objects.get(pk=message.pk))["reactions"]
    assert {r["emoji"]: r["count"] for r in summary} == {"🎉": 2, "❤️": 1}
    assert services.reaction_toggle(ben, message=message, emoji="🎉") is False
    assert Reaction.objects.filter(message=message, emoji="🎉").count() == 1
    for bad in ("", "a", "<b>", "🎉" * 20, None, 5):
        with pytest.raises(ValidationFailed):
            services.reaction_toggle(ben, message=message, emoji=bad)


def test_system_notices_take_no_reactions(ann, ben):
    group = services.conversation_group_create(ann, name="G", members=[ben])
    notice = Message.objects.get(conversation=group, kind=MessageKind.SYSTEM)
    with pytest.raises(Conflict):
        services.reaction_toggle(ann, message=notice, emoji="👍")

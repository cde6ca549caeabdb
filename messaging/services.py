"""Messaging services: conversations, members, messages, reactions, read state, typing.

Privacy is enforced here, not in the views: every function that takes a
conversation or a message first resolves the caller's *active* membership and
raises ``NotFound`` (never "forbidden": a stranger must not learn a
conversation exists). Live events go only to the conversation's active members,
through ``notifications.services.event_publish`` after commit (DESIGN §4):

- ``message.new``      data = message_serialize(message)
- ``message.updated``  data = message_serialize(message)   (edit, delete, reactions, card status)
- ``message.read``     data = {"conversation", "user", "last_read_message_id"}
- ``typing``           data = {"conversation", "user", "name"}   (not persisted)
- ``conversation.updated`` data = {"conversation"}            (members, name, accepted)

Who may start a conversation with whom (the recipient's ``message_policy``):
- ``everyone``: anyone; from someone the recipient does not follow it lands in
  their "Requests" folder (``Membership.accepted = False``) until they accept
  (or reply, which accepts);
- ``following``: only people the recipient follows;
- ``nobody``: no one can start a new conversation (existing ones carry on).
A block, in either direction, stops new messages and hides the 1:1 thread.
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Block, Follow, MessagePolicy
from core.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from notifications.services import event_publish

from .models import (
    Conversation,
    ConversationKind,
    MemberRole,
    Membership,
    Message,
    MessageKind,
    Reaction,
)

MESSAGE_MAX_LENGTH = 10_000
GROUP_MAX_MEMBERS = 50
GROUP_NAME_MAX_LENGTH = 80
EDIT_WINDOW = timedelta(minutes=15)
EMOJI_MAX_LENGTH = 16


class ConversationNotFound(NotFound):
    code = "conversation_not_found"
    default_message = "That conversation does not exist."


class MessageNotFound(NotFound):
    code = "message_not_found"
    default_message = "That message does not exist."


class MessagingNotAllowed(NotPermitted):
    code = "messaging_not_allowed"


# --- Lookups that enforce privacy ---------------------------------------------------------


def _pk(value, error: type[NotFound]) -> int:
    pk = getattr(value, "pk", value)
    if isinstance(pk, str) and pk.isascii() and pk.isdigit() and len(pk) <= 19:
        pk = int(pk)
    if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2**63:
        raise error()
    return pk


def membership_for(user, conversation, *, lock: bool = False) -> Membership:
    """The user's ACTIVE membership of ``conversation`` (an instance or an id), else ConversationNotFound."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise ConversationNotFound()
    pk = _pk(conversation, ConversationNotFound)
    rows = Membership.objects.select_related("conversation").filter(conversation_id=pk, user=user, is_active=True)
    if lock:
        rows = rows.select_for_update()
    membership = rows.first()
    if membership is None:
        raise ConversationNotFound()
    if _hidden_by_block(user, membership.conversation):
        raise ConversationNotFound()
    return membership


def message_for(user, message) -> tuple[Message, Membership]:
    """A message of a conversation the user is an active member of, else MessageNotFound."""
    pk = _pk(message, MessageNotFound)
    found = Message.objects.select_related("conversation", "sender").filter(pk=pk).first()
    if found is None:
        raise MessageNotFound()
    try:
        membership = membership_for(user, found.conversation_id)
    except ConversationNotFound:
        raise MessageNotFound() from None
    return found, membership


def active_member_ids(conversation: Conversation | int) -> list[int]:
    pk = getattr(conversation, "pk", conversation)
    return list(Membership.objects.filter(conversation_id=pk, is_active=True).values_list("user_id", flat=True))


def other_member(conversation: Conversation, user):
    """The other person of a 1:1 conversation (None for groups)."""
    if conversation.kind != ConversationKind.DIRECT:
        return None
    low, _, high = (conversation.pair_key or "").partition(":")
    other_id = int(high) if str(user.pk) == low else int(low)
    return get_user_model().objects.filter(pk=other_id).first()


def _blocked_between(a_id: int, b_id: int) -> bool:
    return Block.objects.filter(Q(blocker_id=a_id, blocked_id=b_id) | Q(blocker_id=b_id, blocked_id=a_id)).exists()


def _hidden_by_block(user, conversation: Conversation) -> bool:
    """A 1:1 thread is hidden from someone who blocked the other person."""
    if conversation.kind != ConversationKind.DIRECT:
        return False
    low, _, high = (conversation.pair_key or "").partition(":")
    other_id = int(high) if str(user.pk) == low else int(low)
    return Block.objects.filter(blocker_id=user.pk, blocked_id=other_id).exists()


def _follows(follower_id: int, followee_id: int) -> bool:
    return Follow.objects.filter(follower_id=follower_id, followee_id=followee_id).exists()


# --- Serialisation (socket + API share it) ---------------------------------------------------


def _reaction_summary(message: Message) -> list[dict]:
    counts: dict[str, list[int]] = {}
    reactions = getattr(message, "_prefetched_objects_cache", {}).get("reactions")
    rows = reactions if reactions is not None else message.reactions.all()
    for reaction in rows:
        counts.setdefault(reaction.emoji, []).append(reaction.user_id)
    return [{"emoji": emoji, "count": len(users), "user_ids": users} for emoji, users in counts.items()]


def message_serialize(message: Message) -> dict:
    """The JSON shape of a message for sockets and the API. ``body`` is raw text: render it escaped."""
    deleted = message.deleted_at is not None
    sender = message.sender
    return {
        "id": message.pk,
        "conversation": message.conversation_id,
        "kind": message.kind,
        "sender": {"id": sender.pk, "handle": sender.handle, "name": sender.name} if sender else None,
        "body": "" if deleted else message.body,
        "reply_to": message.reply_to_id,
        "created_at": message.created_at.isoformat() if message.created_at else None,
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "deleted": deleted,
        "payment": message.payment_id,
        "payment_request": message.payment_request_id,
        "escrow": message.escrow_id,
        "split": message.split_id,
        "reactions": [] if deleted else _reaction_summary(message),
        "attachments": []
        if deleted
        else [
            {
                "id": a.pk,
                "name": a.original_name,
                "content_type": a.content_type,
                "size": a.size,
                "url": f"/messages/attachments/{a.pk}/",
                "is_image": a.is_image,
                "width": a.width,
                "height": a.height,
            }
            for a in message.attachments.all()
        ],
    }


def _audience(conversation_id: int) -> list[int]:
    """The active members who see the conversation: in a 1:1, not someone who blocked the other
    person (the thread is hidden from them, so none of its events may reach them either)."""
    members = active_member_ids(conversation_id)
    pair_key = (
        Conversation.objects.filter(pk=conversation_id, kind=ConversationKind.DIRECT)
        .values_list("pair_key", flat=True)
        .first()
    )
    if pair_key:
        pair = [int(part) for part in pair_key.split(":")]
        blockers = set(
            Block.objects.filter(blocker_id__in=pair, blocked_id__in=pair).values_list("blocker_id", flat=True)
        )
        members = [user_id for user_id in members if user_id not in blockers]
    return members


def _publish(conversation_id: int, type: str, data: dict, *, id: int | None = None, exclude: int | None = None) -> None:
    for user_id in _audience(conversation_id):
        if user_id != exclude:
            event_publish(user_id=user_id, type=type, data=data, id=id)


# --- Conversations ---------------------------------------------------------------------------


def _check_can_start(starter, recipient) -> bool:
    """Raise if ``starter`` may not open a conversation with ``recipient``; return whether it is accepted."""
    if _blocked_between(starter.pk, recipient.pk):
        raise MessagingNotAllowed(f"You can't message @{recipient.handle}.")
    recipient_follows = _follows(recipient.pk, starter.pk)
    policy = recipient.message_policy
    if policy == MessagePolicy.NOBODY:
        raise MessagingNotAllowed(f"@{recipient.handle} doesn't accept new messages.")
    if policy == MessagePolicy.FOLLOWING and not recipient_follows:
        raise MessagingNotAllowed(f"@{recipient.handle} only accepts messages from people they follow.")
    return recipient_follows


def _resolve_user(value):
    User = get_user_model()
    if isinstance(value, User):
        user = value
    elif isinstance(value, str):
        handle = value.strip().removeprefix("@").lower()
        # A NUL can't be in a handle (and PostgreSQL would refuse the query: a 500).
        user = User.objects.filter(handle=handle).first() if handle and "\x00" not in handle else None
        handle = handle.replace("\x00", "")
        if user is None:
            raise ValidationFailed(f"There is no one called @{handle[:30]}.", code="unknown_user")
    else:
        raise ValidationFailed("Choose a person.", code="unknown_user")
    if not user.is_active:
        raise ValidationFailed(f"@{user.handle} can't receive messages.", code="unknown_user")
    return user


def conversation_direct_open(user, *, other) -> Conversation:
    """The one 1:1 conversation between ``user`` and ``other``, created if needed (never duplicated).

    Reopening an existing conversation always works unless a block stands; a new
    one follows the recipient's message policy (see the module docstring).
    Race-safe: the unique ``pair_key`` makes a concurrent duplicate return the winner.
    """
    other = _resolve_user(other)
    if other.pk == user.pk:
        raise ValidationFailed("You can't start a conversation with yourself.", code="message_self")
    low, high = sorted((user.pk, other.pk))
    key = f"{low}:{high}"
    existing = Conversation.objects.filter(pair_key=key).first()
    if existing is not None:
        if _blocked_between(user.pk, other.pk):
            raise MessagingNotAllowed(f"You can't message @{other.handle}.")
        # Someone who left a 1:1 rejoins it by opening it again.
        Membership.objects.filter(conversation=existing, user=user, is_active=False).update(
            is_active=True, left_at=None
        )
        return existing
    accepted = _check_can_start(user, other)
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                kind=ConversationKind.DIRECT, pair_key=key, created_by=user, last_activity_at=timezone.now()
            )
            Membership.objects.bulk_create(
                [
                    Membership(conversation=conversation, user=user, accepted=True),
                    Membership(conversation=conversation, user=other, accepted=accepted),
                ]
            )
    except IntegrityError:
        return Conversation.objects.get(pair_key=key)
    return conversation


def conversation_group_create(user, *, name: str, members: list) -> Conversation:
    """A group named ``name`` with the creator (admin) and ``members`` (at most 50 people in all).

    Members who do not follow the creator find it in their Requests folder. People
    who blocked the creator (or whom the creator blocked) cannot be added. Atomic.
    """
    name = _check_group_name(name)
    people = _resolve_members(user, members)
    if len(people) + 1 > GROUP_MAX_MEMBERS:
        raise ValidationFailed(f"A group has at most {GROUP_MAX_MEMBERS} people.", code="group_too_large")
    with transaction.atomic():
        conversation = Conversation.objects.create(
            kind=ConversationKind.GROUP, name=name, created_by=user, last_activity_at=timezone.now()
        )
        following_me = set(
            Follow.objects.filter(followee=user, follower__in=people).values_list("follower_id", flat=True)
        )
        Membership.objects.bulk_create(
            [Membership(conversation=conversation, user=user, role=MemberRole.ADMIN, accepted=True)]
            + [Membership(conversation=conversation, user=p, accepted=p.pk in following_me) for p in people]
        )
        _system_message(conversation, user, f"{user.name} created the group “{name}”.")
    return conversation


def _check_group_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("Give the group a name.", fields={"name": ["Required."]})
    name = " ".join(name.split())
    if len(name) > GROUP_NAME_MAX_LENGTH:
        raise ValidationFailed(
            f"A group name has at most {GROUP_NAME_MAX_LENGTH} characters.", fields={"name": ["Too long."]}
        )
    return name


def _resolve_members(actor, members) -> list:
    if not isinstance(members, (list, tuple)):
        raise ValidationFailed("Members must be a list of people.", fields={"members": ["Must be a list."]})
    if len(members) > GROUP_MAX_MEMBERS:
        raise ValidationFailed(f"A group has at most {GROUP_MAX_MEMBERS} people.", code="group_too_large")
    people, seen = [], {actor.pk}
    for value in members:
        person = _resolve_user(value)
        if person.pk in seen:
            continue
        if _blocked_between(actor.pk, person.pk):
            raise MessagingNotAllowed(f"You can't add @{person.handle}.")
        if person.message_policy == MessagePolicy.NOBODY and not _follows(person.pk, actor.pk):
            raise MessagingNotAllowed(f"@{person.handle} doesn't accept new messages.")
        if person.message_policy == MessagePolicy.FOLLOWING and not _follows(person.pk, actor.pk):
            raise MessagingNotAllowed(f"@{person.handle} only accepts messages from people they follow.")
        seen.add(person.pk)
        people.append(person)
    return people


def _require_group_admin(membership: Membership) -> None:
    if membership.conversation.kind != ConversationKind.GROUP:
        raise ValidationFailed("That only works in a group.", code="not_a_group")
    if membership.role != MemberRole.ADMIN:
        raise NotPermitted("Only the group's admins can do that.", code="not_group_admin")


def group_members_add(user, *, conversation, members: list) -> list[Membership]:
    """An admin adds people (up to 50 members in all). Re-adding someone who left reactivates them."""
    with transaction.atomic():
        membership = membership_for(user, conversation, lock=True)
        _require_group_admin(membership)
        conv = membership.conversation
        people = _resolve_members(user, members)
        current = set(active_member_ids(conv))
        people = [p for p in people if p.pk not in current]
        if len(current) + len(people) > GROUP_MAX_MEMBERS:
            raise ValidationFailed(f"A group has at most {GROUP_MAX_MEMBERS} people.", code="group_too_large")
        added = []
        for person in people:
            row, created = Membership.objects.get_or_create(
                conversation=conv, user=person, defaults={"accepted": _follows(person.pk, user.pk)}
            )
            if not created:
                row.is_active, row.left_at, row.role = True, None, MemberRole.MEMBER
                row.save(update_fields=["is_active", "left_at", "role"])
            added.append(row)
        if added:
            names = ", ".join(f"@{p.handle}" for p in people)
            _system_message(conv, user, f"{user.name} added {names}.")
            _publish(conv.pk, "conversation.updated", {"conversation": conv.pk})
    return added


def group_member_remove(user, *, conversation, member) -> None:
    """An admin removes a member (not themself: leaving is ``conversation_leave``)."""
    with transaction.atomic():
        membership = membership_for(user, conversation, lock=True)
        _require_group_admin(membership)
        target = _resolve_user(member)
        if target.pk == user.pk:
            raise ValidationFailed("To leave the group, use Leave.", code="remove_self")
        row = Membership.objects.filter(conversation=membership.conversation, user=target, is_active=True).first()
        if row is None:
            raise NotFound(f"@{target.handle} is not in this group.", code="member_not_found")
        _publish(membership.conversation_id, "conversation.updated", {"conversation": membership.conversation_id})
        row.is_active, row.left_at = False, timezone.now()
        row.save(update_fields=["is_active", "left_at"])
        _system_message(membership.conversation, user, f"{user.name} removed @{target.handle}.")


def conversation_leave(user, *, conversation) -> None:
    """Leave a group (or hide a 1:1 until it is opened again). The last admin hands over to the oldest member."""
    with transaction.atomic():
        membership = membership_for(user, conversation, lock=True)
        conv = membership.conversation
        membership.is_active, membership.left_at = False, timezone.now()
        membership.save(update_fields=["is_active", "left_at"])
        if conv.kind == ConversationKind.GROUP:
            if membership.role == MemberRole.ADMIN:
                admins = Membership.objects.filter(conversation=conv, is_active=True, role=MemberRole.ADMIN)
                if not admins.exists():
                    heir = Membership.objects.filter(conversation=conv, is_active=True).order_by("id").first()
                    if heir:
                        heir.role = MemberRole.ADMIN
                        heir.save(update_fields=["role"])
            _system_message(conv, user, f"{user.name} left.")
            _publish(conv.pk, "conversation.updated", {"conversation": conv.pk})


def conversation_rename(user, *, conversation, name: str) -> Conversation:
    with transaction.atomic():
        membership = membership_for(user, conversation, lock=True)
        _require_group_admin(membership)
        conv = membership.conversation
        conv.name = _check_group_name(name)
        conv.save(update_fields=["name"])
        _system_message(conv, user, f"{user.name} renamed the group “{conv.name}”.")
        _publish(conv.pk, "conversation.updated", {"conversation": conv.pk})
    return conv


def conversation_mute(user, *, conversation, muted: bool) -> Membership:
    """Mute or unmute: a muted conversation sends no notifications and does not count in the badge."""
    membership = membership_for(user, conversation)
    membership.muted = bool(muted)
    membership.save(update_fields=["muted"])
    return membership


def conversation_accept(user, *, conversation) -> Membership:
    """Move a conversation from the Requests folder to the inbox."""
    membership = membership_for(user, conversation)
    if not membership.accepted:
        membership.accepted = True
        membership.save(update_fields=["accepted"])
        event_publish(user_id=user.pk, type="conversation.updated", data={"conversation": membership.conversation_id})
    return membership


# --- Messages ----------------------------------------------------------------------------


def _check_body(body: object, *, allow_empty: bool = False) -> str:
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise ValidationFailed("A message is text.", fields={"body": ["Must be text."]})
    body = body.replace("\r\n", "\n").replace("\x00", "").strip()
    if not body and not allow_empty:
        raise ValidationFailed("Write a message.", fields={"body": ["Required."]})
    if len(body) > MESSAGE_MAX_LENGTH:
        raise ValidationFailed(
            f"A message has at most {MESSAGE_MAX_LENGTH:,} characters (this one has {len(body):,}).",
            fields={"body": ["Too long."]},
        )
    return body


def _check_can_post(user, membership: Membership) -> None:
    conv = membership.conversation
    if conv.kind == ConversationKind.DIRECT:
        other = other_member(conv, user)
        if other is None or not other.is_active:
            raise MessagingNotAllowed("This person can't receive messages.")
        if _blocked_between(user.pk, other.pk):
            raise MessagingNotAllowed(f"You can't message @{other.handle}.")


def _after_post(user, membership: Membership, message: Message) -> None:
    conv = membership.conversation
    Conversation.objects.filter(pk=conv.pk).update(last_message=message, last_activity_at=message.created_at)
    # Writing in a thread reads it, and replying to a request accepts it.
    Membership.objects.filter(pk=membership.pk).update(last_read_message_id=message.pk, accepted=True)
    if conv.kind == ConversationKind.DIRECT:
        # A 1:1 someone left comes back for them when a new message arrives.
        Membership.objects.filter(conversation=conv, is_active=False).exclude(user=user).update(
            is_active=True, left_at=None
        )
    data = message_serialize(message)
    _publish(conv.pk, "message.new", data, id=message.pk)


def message_post(user, *, conversation, body: str = "", reply_to=None, attachments=None) -> Message:
    """Post a text message (with optional attachments, already validated by ``attachments_prepare``).

    Atomic. Only active members; a block in a 1:1 stops it. Every active member's
    sockets get ``message.new`` on commit.
    """
    attachments = list(attachments or [])
    body = _check_body(body, allow_empty=bool(attachments))
    with transaction.atomic():
        membership = membership_for(user, conversation)
        _check_can_post(user, membership)
        reply = None
        if reply_to is not None:
            reply, _ = message_for(user, reply_to)
            if reply.conversation_id != membership.conversation_id:
                raise MessageNotFound()
        message = Message.objects.create(
            conversation=membership.conversation, sender=user, kind=MessageKind.TEXT, body=body, reply_to=reply
        )
        for attachment in attachments:
            attachment.message = message
            attachment.save()
        _after_post(user, membership, message)
    return message


def message_post_card(
    user,
    *,
    conversation,
    kind: str,
    body: str = "",
    payment=None,
    payment_request=None,
    escrow=None,
    split=None,
) -> Message:
    """Post a money card (payment, request, escrow, split) that references what ``payments`` made.

    Call it inside the same transaction as the payments service call so the card
    and the money commit together. The card's status is read from the referenced
    object when rendered; ``message_card_changed`` re-announces it.
    """
    if kind not in (MessageKind.PAYMENT, MessageKind.REQUEST, MessageKind.ESCROW, MessageKind.SPLIT):
        raise ValidationFailed("Not a money card.", code="invalid_card")
    body = _check_body(body, allow_empty=True)
    with transaction.atomic():
        membership = membership_for(user, conversation)
        _check_can_post(user, membership)
        message = Message.objects.create(
            conversation=membership.conversation,
            sender=user,
            kind=kind,
            body=body,
            payment=payment,
            payment_request=payment_request,
            escrow=escrow,
            split=split,
        )
        _after_post(user, membership, message)
    return message


def message_card_changed(message: Message) -> None:
    """Tell every member a money card's status changed (they re-render it)."""
    _publish(message.conversation_id, "message.updated", message_serialize(message), id=message.pk)


def _system_message(conversation: Conversation, actor, text: str) -> Message:
    message = Message.objects.create(conversation=conversation, sender=actor, kind=MessageKind.SYSTEM, body=text)
    Conversation.objects.filter(pk=conversation.pk).update(last_message=message, last_activity_at=message.created_at)
    _publish(conversation.pk, "message.new", message_serialize(message), id=message.pk)
    return message


def message_edit(user, *, message, body: str) -> Message:
    """The sender edits a text message within 15 minutes of sending it (shown as edited)."""
    body = _check_body(body)
    with transaction.atomic():
        found, _ = message_for(user, message)
        found = Message.objects.select_for_update().get(pk=found.pk)
        if found.sender_id != user.pk or found.kind != MessageKind.TEXT:
            raise NotPermitted("You can only edit your own messages.", code="not_your_message")
        if found.deleted_at is not None:
            raise Conflict("That message was deleted.", code="message_deleted")
        if timezone.now() - found.created_at > EDIT_WINDOW:
            raise Conflict("Messages can be edited for 15 minutes after sending.", code="edit_window_passed")
        if body != found.body:
            found.body = body
            found.edited_at = timezone.now()
            found.save(update_fields=["body", "edited_at"])
            _publish(found.conversation_id, "message.updated", message_serialize(found), id=found.pk)
    return found


def message_delete(user, *, message) -> Message:
    """The sender deletes a message for everyone: the text and attachments go, a tombstone stays."""
    with transaction.atomic():
        found, _ = message_for(user, message)
        found = Message.objects.select_for_update().get(pk=found.pk)
        if found.sender_id != user.pk or found.kind not in (MessageKind.TEXT,):
            raise NotPermitted("You can only delete your own messages.", code="not_your_message")
        if found.deleted_at is not None:
            return found
        files = [a.file for a in found.attachments.all()]
        found.attachments.all().delete()
        found.reactions.all().delete()
        found.body = ""
        found.deleted_at = timezone.now()
        found.save(update_fields=["body", "deleted_at"])
        _publish(found.conversation_id, "message.updated", message_serialize(found), id=found.pk)
        transaction.on_commit(lambda: [f.delete(save=False) for f in files])
    return found


# Characters that only modify or join emoji: alone they are not a reaction.
_EMOJI_JOINERS = "\u200d\ufe0e\ufe0f"
_KEYCAP = "\u20e3"
_KEYCAP_BASES = "0123456789#*"


def _is_emoji_modifier(char: str) -> bool:
    code = ord(char)
    return (
        char in _EMOJI_JOINERS
        or char == _KEYCAP
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
    )


def _check_emoji(emoji: object) -> str:
    """One emoji (sequence): at least one pictographic symbol, plus only joiners, variation
    selectors, skin tones, tags and keycaps. Letters, ASCII punctuation (``^``), combining
    accents and invisible format characters (``\u200b``, ``\u202e``) on their own are refused."""
    if not isinstance(emoji, str):
        raise ValidationFailed("Choose an emoji.", fields={"emoji": ["Required."]})
    emoji = emoji.strip()
    if not emoji or len(emoji) > EMOJI_MAX_LENGTH:
        raise ValidationFailed("Choose an emoji.", fields={"emoji": ["Not an emoji."]})
    pictographic = False
    for index, char in enumerate(emoji):
        if (
            unicodedata.category(char) == "So"
            or char in "\u2139\u24c2"
            or (char in _KEYCAP_BASES and emoji[index + 1 : index + 3] in (_KEYCAP, "\ufe0f" + _KEYCAP))
        ):  # ℹ and Ⓜ are letters in Unicode
            pictographic = True
        elif not _is_emoji_modifier(char):
            raise ValidationFailed("Reactions are emoji only.", fields={"emoji": ["Not an emoji."]})
    if not pictographic:
        raise ValidationFailed("Reactions are emoji only.", fields={"emoji": ["Not an emoji."]})
    return emoji


def reaction_toggle(user, *, message, emoji: str) -> bool:
    """Add the reaction, or remove it if the user already reacted with it. Returns whether it is now on."""
    emoji = _check_emoji(emoji)
    with transaction.atomic():
        found, _ = message_for(user, message)
        if found.deleted_at is not None or found.kind == MessageKind.SYSTEM:
            raise Conflict("You can't react to that message.", code="cannot_react")
        deleted, _ = Reaction.objects.filter(message=found, user=user, emoji=emoji).delete()
        if not deleted:
            try:
                with transaction.atomic():
                    Reaction.objects.create(message=found, user=user, emoji=emoji)
            except IntegrityError:
                pass  # a double click: it is on
        _publish(found.conversation_id, "message.updated", message_serialize(found), id=found.pk)
    return not deleted


def conversation_mark_read(user, *, conversation, up_to_id: int | None = None) -> int:
    """Record that the user has read up to ``up_to_id`` (default: the latest message). Never moves back.

    Publishes ``message.read`` to every member (read receipts, and the user's
    other tabs update their unread badge). Returns the new last-read id.
    """
    with transaction.atomic():
        membership = membership_for(user, conversation, lock=True)
        latest = (
            Message.objects.filter(conversation_id=membership.conversation_id)
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
            or 0
        )
        target = latest
        if up_to_id is not None:
            if isinstance(up_to_id, bool) or not isinstance(up_to_id, int) or up_to_id < 0:
                raise ValidationFailed("up_to_id must be a message id.", fields={"up_to_id": ["Not a message id."]})
            target = min(up_to_id, latest)
        if target > membership.last_read_message_id:
            membership.last_read_message_id = target
            membership.save(update_fields=["last_read_message_id"])
            _publish(
                membership.conversation_id,
                "message.read",
                {
                    "conversation": membership.conversation_id,
                    "user": user.pk,
                    "handle": user.handle,
                    "last_read_message_id": target,
                },
            )
    return membership.last_read_message_id


def typing_signal(user, content: dict) -> None:
    """Socket handler for ``{"type": "typing", "conversation": id}``: tell the other members. Not persisted."""
    if not getattr(user, "is_authenticated", False):
        return
    try:
        membership = membership_for(user, content.get("conversation"))
    except NotFound:
        return  # not a member: silently nothing (never confirm a conversation exists)
    data = {"conversation": membership.conversation_id, "user": user.pk, "handle": user.handle, "name": user.name}
    _publish(membership.conversation_id, "typing", data, exclude=user.pk)

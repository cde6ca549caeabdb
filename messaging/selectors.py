"""Reads for the inbox and conversations: bounded queries whatever the data size."""

from __future__ import annotations

from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, Subquery, Value, prefetch_related_objects
from django.db.models.functions import Coalesce

from accounts.models import Block

from .models import ConversationKind, Membership, Message, MessageKind


def _unread_subquery():
    """Messages after the member's last-read id, not their own, not deleted, not system notices."""
    return Coalesce(
        Subquery(
            Message.objects.filter(conversation_id=OuterRef("conversation_id"), id__gt=OuterRef("last_read_message_id"))
            .exclude(sender_id=OuterRef("user_id"))
            .filter(deleted_at__isnull=True)
            .exclude(kind=MessageKind.SYSTEM)
            .order_by()
            .values("conversation_id")
            .annotate(n=Count("id"))
            .values("n")[:1],
            output_field=IntegerField(),
        ),
        Value(0),
    )


def _hidden_by_block(user):
    """True for a membership of a 1:1 whose other person ``user`` blocked (the thread is hidden)."""
    blocked = Block.objects.filter(blocker=user).values("blocked_id")
    return Exists(
        Membership.objects.filter(
            conversation__kind=ConversationKind.DIRECT, user_id__in=blocked, conversation_id=OuterRef("conversation_id")
        )
    )


def inbox_memberships(user, *, folder: str = "inbox"):
    """The user's active memberships, newest activity first, each annotated with ``unread``.

    ``folder`` "inbox" (accepted) or "requests" (started by people they don't
    follow, not yet accepted). 1:1 threads with someone the user blocked are hidden.
    ``conversation.last_message`` (+ sender) and the conversation's active
    memberships (+ users) are loaded in a fixed number of queries.
    """
    return (
        Membership.objects.filter(user=user, is_active=True, accepted=(folder != "requests"))
        .exclude(_hidden_by_block(user))
        .select_related("conversation", "conversation__last_message", "conversation__last_message__sender")
        .prefetch_related(
            Prefetch(
                "conversation__memberships",
                queryset=Membership.objects.filter(is_active=True).select_related("user").order_by("id"),
                to_attr="active_memberships",
            )
        )
        .annotate(unread=_unread_subquery())
        .order_by("-conversation__last_activity_at", "-conversation_id")
    )


def unread_conversations_count(user) -> int:
    """How many accepted, unmuted conversations have unread messages (the nav badge).

    Threads hidden by a block do not count (the inbox does not show them either).
    """
    return (
        Membership.objects.filter(user=user, is_active=True, accepted=True, muted=False)
        .exclude(_hidden_by_block(user))
        .annotate(unread=_unread_subquery())
        .filter(unread__gt=0)
        .count()
    )


def requests_count(user) -> int:
    """How many conversations wait in the Requests folder (not those hidden by a block)."""
    return Membership.objects.filter(user=user, is_active=True, accepted=False).exclude(_hidden_by_block(user)).count()


def conversation_messages(
    conversation_id: int, *, before: int | None = None, after: int | None = None, limit: int = 50
):
    """A page of messages (oldest first in the result). ``after``: newer than an id (catch-up after a
    reconnect); ``before``: older than an id (scrolling back); neither: the latest ``limit``."""
    rows = (
        Message.objects.filter(conversation_id=conversation_id)
        .select_related("sender", "reply_to", "reply_to__sender")
        .prefetch_related("reactions", "attachments")
    )
    if after is not None:
        return card_links_load(list(rows.filter(id__gt=after).order_by("id")[:limit]))
    if before is not None:
        rows = rows.filter(id__lt=before)
    return card_links_load(list(reversed(rows.order_by("-id")[:limit])))


CARD_LINKS = ("payment", "payment_request", "escrow", "split")


def card_links_load(messages: list) -> list:
    """Load the money-card links (payment, request, escrow, split) of the card messages only.

    Joining the four links into the message query made it 8 relations (``join_collapse_limit``):
    PostgreSQL then spent ~10× the execution time planning it. A link that no message uses costs
    no query (an empty ``IN``), so a page without money cards pays nothing for them.
    """
    cards = [m for m in messages if m is not None and any(getattr(m, f"{link}_id") for link in CARD_LINKS)]
    if cards:
        prefetch_related_objects(cards, *CARD_LINKS)
    return messages


__all__ = [
    "card_links_load",
    "conversation_messages",
    "inbox_memberships",
    "requests_count",
    "unread_conversations_count",
]

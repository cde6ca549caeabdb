"""Actions on the social graph: follow, unfollow, block, unblock.

Views, the API and the admin stay thin and call these; the reads are in
``accounts.selectors``. Every action here:

- takes the acting person first, then keyword-only arguments;
- is idempotent: doing it twice leaves the same state as doing it once, with no
  second notification or signal;
- is atomic and serialised per pair: it locks both users' rows (ascending id), so a
  follow racing a block can never leave a follow standing beside a block.

A new follow sends ``accounts.signals.user_followed``; notifications (above us)
turns it into a ``follow.new`` notification, so accounts imports nothing above it.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q

from core.errors import NotFound, NotPermitted, ValidationFailed

from .models import Block, Follow, User
from .signals import user_blocked, user_followed, user_unblocked


class CannotFollowSelf(ValidationFailed):
    code = "cannot_follow_self"
    default_message = "You cannot follow yourself."


class CannotBlockSelf(ValidationFailed):
    code = "cannot_block_self"
    default_message = "You cannot block yourself."


class BlockedError(NotPermitted):
    code = "blocked"
    default_message = "You cannot do that while one of you has blocked the other."


def _lock_pair(actor: User, other: User) -> dict[int, User]:
    """Lock both users' rows in ascending id order (no deadlocks); returns them by id.

    A no-op on SQLite, where a write transaction serialises everything anyway.
    """
    rows = User.objects.select_for_update(no_key=True).filter(pk__in=[actor.pk, other.pk]).order_by("pk")
    return {user.pk: user for user in rows}


def _check_actor(actor: User) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.pk:
        raise NotPermitted("Log in first.", code="not_authenticated")
    if not actor.is_active:
        raise NotPermitted("This account is not active.", code="inactive")


def follow_create(follower: User, *, followee: User) -> Follow:
    """``follower`` follows ``followee``; returns the ``Follow``.

    Guarantees: idempotent — following someone already followed returns the existing
    row and notifies no one; otherwise one ``Follow`` row is created and the followee
    gets a ``follow.new`` notification (persisted with the row, pushed on commit).
    Refused: following oneself (``CannotFollowSelf``, 400), an inactive person
    (``NotFound``, 404), and anyone blocked either way (``BlockedError``, 403, code
    ``blocked``; the message says to unblock first when the follower made the block).
    Atomic; serialised with blocks between the same two people. Any signed-in, active
    person may call it for themself.
    """
    _check_actor(follower)
    if follower.pk == followee.pk:
        raise CannotFollowSelf()
    with transaction.atomic():
        locked = _lock_pair(follower, followee)
        if followee.pk not in locked or not locked[followee.pk].is_active:
            raise NotFound("There is no one with that handle.", code="user_not_found")
        blocks = set(
            Block.objects.filter(
                Q(blocker_id=follower.pk, blocked_id=followee.pk) | Q(blocker_id=followee.pk, blocked_id=follower.pk)
            ).values_list("blocker_id", flat=True)
        )
        if follower.pk in blocks:
            raise BlockedError(f"You blocked @{followee.handle}. Unblock them first to follow them.")
        if blocks:
            raise BlockedError(f"You cannot follow @{followee.handle}.")
        existing = Follow.objects.filter(follower_id=follower.pk, followee_id=followee.pk).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                follow = Follow.objects.create(follower=follower, followee=followee)
        except IntegrityError:  # a concurrent identical follow won (only possible without row locks)
            return Follow.objects.get(follower_id=follower.pk, followee_id=followee.pk)

        user_followed.send(sender=Follow, follower=follower, followee=followee)
    return follow


def follow_delete(follower: User, *, followee: User) -> bool:
    """``follower`` stops following ``followee``; returns whether a follow was removed.

    Guarantees: idempotent — unfollowing someone not followed changes nothing and
    returns False. Works whatever the followee's state (inactive, blocked). Refused:
    oneself (``CannotFollowSelf``, 400). Atomic. Any signed-in person may call it for
    themself.
    """
    _check_actor(follower)
    if follower.pk == followee.pk:
        raise CannotFollowSelf("You cannot unfollow yourself.")
    with transaction.atomic():
        _lock_pair(follower, followee)
        deleted, _ = Follow.objects.filter(follower_id=follower.pk, followee_id=followee.pk).delete()
    return bool(deleted)


def block_create(blocker: User, *, blocked: User) -> Block:
    """``blocker`` blocks ``blocked``; returns the ``Block``.

    Guarantees, in one transaction: a ``Block`` row exists; any follow between the two,
    in either direction, is deleted; and — only when the block is new —
    ``accounts.signals.user_blocked`` is sent (``blocker=``, ``blocked=``) so the apps
    above can react (messaging hides the pair's thread). A receiver's failure rolls the
    whole block back. Idempotent: blocking again returns the existing row, sends
    nothing, and still makes sure no follow stands. Blocking an inactive person is
    allowed (it protects the blocker if the account comes back). Refused: oneself
    (``CannotBlockSelf``, 400). From then on, ``selectors.is_blocked_between`` is true for
    the pair: payments and messaging refuse messages, payments and requests between
    them. Any signed-in person may call it for themself.
    """
    _check_actor(blocker)
    if blocker.pk == blocked.pk:
        raise CannotBlockSelf()
    with transaction.atomic():
        _lock_pair(blocker, blocked)
        Follow.objects.filter(
            Q(follower_id=blocker.pk, followee_id=blocked.pk) | Q(follower_id=blocked.pk, followee_id=blocker.pk)
        ).delete()
        existing = Block.objects.filter(blocker_id=blocker.pk, blocked_id=blocked.pk).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                block = Block.objects.create(blocker=blocker, blocked=blocked)
        except IntegrityError:  # a concurrent identical block won (only possible without row locks)
            return Block.objects.get(blocker_id=blocker.pk, blocked_id=blocked.pk)
        user_blocked.send(sender=Block, blocker=blocker, blocked=blocked)
    return block


def block_delete(blocker: User, *, blocked: User) -> bool:
    """``blocker`` unblocks ``blocked``; returns whether a block was removed.

    Guarantees: idempotent — unblocking someone not blocked changes nothing, sends
    nothing and returns False. When a block is removed, ``accounts.signals.user_unblocked``
    is sent in the same transaction. Nothing else is restored: follows the block deleted
    stay deleted, and a block the other person made stays in force. Refused: oneself
    (``CannotBlockSelf``, 400). Any signed-in person may call it for themself.
    """
    _check_actor(blocker)
    if blocker.pk == blocked.pk:
        raise CannotBlockSelf("You cannot unblock yourself.")
    with transaction.atomic():
        _lock_pair(blocker, blocked)
        deleted, _ = Block.objects.filter(blocker_id=blocker.pk, blocked_id=blocked.pk).delete()
        if deleted:
            user_unblocked.send(sender=Block, blocker=blocker, blocked=blocked)
    return bool(deleted)

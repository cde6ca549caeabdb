"""Actions on the social graph: follow, unfollow, follow requests, block, unblock.

Views, the API and the admin stay thin and call these; the reads are in
``accounts.selectors``. Every action here:

- takes the acting person first, then keyword-only arguments;
- is idempotent: doing it twice leaves the same state as doing it once, with no
  second notification or signal;
- is atomic and serialised per pair: it locks both users' rows (ascending id), so a
  follow racing a block can never leave a follow standing beside a block.

A new follow sends ``accounts.signals.user_followed``; notifications (above us)
turns it into a ``follow.new`` notification, so accounts imports nothing above it.

Protected accounts (``User.is_protected``) approve their followers: ``follow_start``
makes a ``FollowRequest`` instead of a ``Follow`` (signal ``follow_requested`` →
``follow.request``); the target approves (``follow_request_approve`` → ``follow.approved``
for the requester) or declines it, the requester may cancel it; turning protection off
approves every pending request (``follow_requests_approve_all``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q

from core.errors import Conflict, NotFound, NotPermitted, ValidationFailed

from .models import Block, Follow, FollowRequest, User
from .signals import follow_request_approved, follow_requested, user_blocked, user_followed, user_unblocked


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


@dataclass(frozen=True)
class FollowResult:
    """What ``follow_start`` did: ``status`` is "following" (``follow`` set) or "requested" (``request`` set)."""

    status: str
    follow: Follow | None = None
    request: FollowRequest | None = None
    created: bool = False  # something new was made (and the other person was notified)


FOLLOWING = "following"
REQUESTED = "requested"


class FollowNeedsApproval(Conflict):
    code = "approval_required"
    default_message = "This account is protected: ask to follow it (follow_start) and wait for approval."


class FollowRequestNotFound(NotFound):
    code = "follow_request_not_found"
    default_message = "There is no pending follow request from that person."


def _check_followable(follower: User, followee: User) -> User:
    """Lock the pair and check the follow may happen; returns the followee's locked (fresh) row."""
    locked = _lock_pair(follower, followee)
    fresh = locked.get(followee.pk)
    if fresh is None or not fresh.is_active:
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
    return fresh


def _follow_make(follower: User, followee: User) -> tuple[Follow, bool]:
    """The ``Follow`` row (existing or new) and whether it is new. Caller holds the pair's locks."""
    existing = Follow.objects.filter(follower_id=follower.pk, followee_id=followee.pk).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return Follow.objects.create(follower=follower, followee=followee), True
    except IntegrityError:  # a concurrent identical follow won (only possible without row locks)
        return Follow.objects.get(follower_id=follower.pk, followee_id=followee.pk), False


def follow_start(follower: User, *, followee: User) -> FollowResult:
    """``follower`` follows ``followee``, or asks to when the account is protected.

    Guarantees: a public account is followed at once (``status="following"``; a NEW follow
    sends ``user_followed`` → ``follow.new`` notification). A protected account gets one
    pending ``FollowRequest`` (``status="requested"``; a NEW request sends
    ``follow_requested`` → ``follow.request`` notification to the target). Idempotent:
    following someone already followed answers "following", asking again answers
    "requested", and neither notifies again. Refused: oneself (``CannotFollowSelf``, 400),
    an inactive person (``NotFound``, 404), anyone blocked either way (``BlockedError``,
    403). Atomic; serialised with blocks and with the followee changing their protection
    (both users' rows are locked, and the protection is read from the locked row). Any
    signed-in, active person may call it for themself.
    """
    _check_actor(follower)
    if follower.pk == followee.pk:
        raise CannotFollowSelf()
    with transaction.atomic():
        fresh = _check_followable(follower, followee)
        existing = Follow.objects.filter(follower_id=follower.pk, followee_id=followee.pk).first()
        if existing is not None:
            return FollowResult(FOLLOWING, follow=existing)
        if fresh.is_protected:
            request = FollowRequest.objects.filter(requester_id=follower.pk, target_id=followee.pk).first()
            if request is not None:
                return FollowResult(REQUESTED, request=request)
            try:
                with transaction.atomic():
                    request = FollowRequest.objects.create(requester=follower, target=followee)
            except IntegrityError:  # a concurrent identical request won (only possible without row locks)
                request = FollowRequest.objects.get(requester_id=follower.pk, target_id=followee.pk)
                return FollowResult(REQUESTED, request=request)
            follow_requested.send(sender=FollowRequest, requester=follower, target=followee)
            return FollowResult(REQUESTED, request=request, created=True)
        follow, created = _follow_make(follower, followee)
        if created:
            user_followed.send(sender=Follow, follower=follower, followee=followee)
    return FollowResult(FOLLOWING, follow=follow, created=created)


def follow_create(follower: User, *, followee: User) -> Follow:
    """``follower`` follows the PUBLIC account ``followee``; returns the ``Follow``.

    ``follow_start`` with one more refusal: a protected account that ``follower`` does not
    follow yet answers ``FollowNeedsApproval`` (409 ``approval_required``) and changes
    nothing — callers that can handle a pending request use ``follow_start``. Guarantees:
    idempotent — following someone already followed returns the existing row and notifies
    no one; otherwise one ``Follow`` row is created and the followee gets a ``follow.new``
    notification (persisted with the row, pushed on commit). Refused: following oneself
    (``CannotFollowSelf``, 400), an inactive person (``NotFound``, 404), and anyone blocked
    either way (``BlockedError``, 403, code ``blocked``; the message says to unblock first
    when the follower made the block). Atomic; serialised with blocks between the same two
    people. Any signed-in, active person may call it for themself.
    """
    _check_actor(follower)
    if follower.pk == followee.pk:
        raise CannotFollowSelf()
    with transaction.atomic():
        fresh = _check_followable(follower, followee)
        existing = Follow.objects.filter(follower_id=follower.pk, followee_id=followee.pk).first()
        if existing is not None:
            return existing
        if fresh.is_protected:
            raise FollowNeedsApproval(f"@{followee.handle} approves their followers: send a follow request.")
        follow, created = _follow_make(follower, followee)
        if created:
            user_followed.send(sender=Follow, follower=follower, followee=followee)
    return follow


def follow_delete(follower: User, *, followee: User) -> bool:
    """``follower`` stops following ``followee`` (or withdraws a pending request); returns whether anything went.

    Guarantees: idempotent — unfollowing someone neither followed nor asked changes nothing
    and returns False. Works whatever the followee's state (inactive, blocked). Refused:
    oneself (``CannotFollowSelf``, 400). Atomic. Any signed-in person may call it for
    themself.
    """
    _check_actor(follower)
    if follower.pk == followee.pk:
        raise CannotFollowSelf("You cannot unfollow yourself.")
    with transaction.atomic():
        _lock_pair(follower, followee)
        deleted, _ = Follow.objects.filter(follower_id=follower.pk, followee_id=followee.pk).delete()
        withdrawn, _ = FollowRequest.objects.filter(requester_id=follower.pk, target_id=followee.pk).delete()
    return bool(deleted or withdrawn)


# ---- follow requests (protected accounts) ----------------------------------------------------


def follow_request_approve(target: User, *, requester: User) -> Follow:
    """``target`` approves ``requester``'s pending follow request; returns the new ``Follow``.

    Guarantees, in one transaction: the ``Follow`` exists, the request is gone, and the
    requester is notified ``follow.approved`` (signal ``follow_request_approved``).
    Idempotent: approving someone who already follows returns their follow and notifies
    no one. Refused: no pending request (``FollowRequestNotFound``, 404), and a requester
    who has been deactivated since (404; nothing changes). A block removes requests,
    so a request never stands beside a block. Only the target may call it.
    """
    _check_actor(target)
    if target.pk == requester.pk:
        raise FollowRequestNotFound()
    with transaction.atomic():
        locked = _lock_pair(target, requester)
        existing = Follow.objects.filter(follower_id=requester.pk, followee_id=target.pk).first()
        request = FollowRequest.objects.filter(requester_id=requester.pk, target_id=target.pk).first()
        if existing is not None:
            if request is not None:
                request.delete()
            return existing
        if request is None:
            raise FollowRequestNotFound()
        request.delete()
        fresh = locked.get(requester.pk)
        if fresh is None or not fresh.is_active:
            raise FollowRequestNotFound("That person's account is no longer active.")
        follow, _ = _follow_make(requester, target)
        follow_request_approved.send(sender=FollowRequest, requester=requester, target=target)
    return follow


def follow_request_decline(target: User, *, requester: User) -> bool:
    """``target`` declines ``requester``'s pending request; returns whether one was removed.

    Guarantees: idempotent (nothing pending: False, nothing changes); the requester is not
    told (they may ask again). Atomic. Only the target may call it.
    """
    _check_actor(target)
    with transaction.atomic():
        deleted, _ = FollowRequest.objects.filter(requester_id=requester.pk, target_id=target.pk).delete()
    return bool(deleted)


def follow_request_cancel(requester: User, *, target: User) -> bool:
    """``requester`` withdraws their pending request to follow ``target``; returns whether one was removed.

    Guarantees: idempotent; an existing follow is left alone (``follow_delete`` removes
    both). Atomic. Only the requester may call it.
    """
    _check_actor(requester)
    with transaction.atomic():
        deleted, _ = FollowRequest.objects.filter(requester_id=requester.pk, target_id=target.pk).delete()
    return bool(deleted)


def follow_requests_approve_all(target: User) -> int:
    """Approve every pending request to ``target`` (when they stop being protected); returns how many.

    Guarantees: in the caller's transaction (or its own), each pending request from an
    active requester becomes a ``Follow`` and that requester is notified
    ``follow.approved``; requests from inactive people are dropped; no request to
    ``target`` is left. Idempotent. Called by ``accounts.services.profile_update``; the
    target's row is locked first, so a concurrent ``follow_start`` either lands before (and
    is approved here) or sees the account public.
    """
    with transaction.atomic():
        User.objects.select_for_update(no_key=True).filter(pk=target.pk).first()
        requests = list(
            FollowRequest.objects.filter(target_id=target.pk).select_related("requester").order_by("created_at", "id")
        )
        if not requests:
            return 0
        FollowRequest.objects.filter(pk__in=[r.pk for r in requests]).delete()
        approved = [r.requester for r in requests if r.requester.is_active]
        already = set(
            Follow.objects.filter(followee_id=target.pk, follower_id__in=[u.pk for u in approved]).values_list(
                "follower_id", flat=True
            )
        )
        new = [u for u in approved if u.pk not in already]
        Follow.objects.bulk_create([Follow(follower=u, followee=target) for u in new], ignore_conflicts=True)
        for requester in new:
            follow_request_approved.send(sender=FollowRequest, requester=requester, target=target)
    return len(new)


def block_create(blocker: User, *, blocked: User) -> Block:
    """``blocker`` blocks ``blocked``; returns the ``Block``.

    Guarantees, in one transaction: a ``Block`` row exists; any follow and any pending
    follow request between the two, in either direction, is deleted; and — only when the block is new —
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
        FollowRequest.objects.filter(
            Q(requester_id=blocker.pk, target_id=blocked.pk) | Q(requester_id=blocked.pk, target_id=blocker.pk)
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

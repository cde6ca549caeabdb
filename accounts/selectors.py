"""Reads of the social graph (follows and blocks) and of public profiles.

Every function here only reads. Arguments named after people accept a ``User``, a
user id, or (where it says so) ``None``/an anonymous user, which is related to
nobody. payments, messaging and social consult these; the matching actions are in
``accounts.social``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from core.errors import NotFound

from .models import Block, Follow, FollowRequest, User
from .validators import HANDLE_MAX_LENGTH

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    Person = User | int | AnonymousUser | None


def _id(person) -> int | None:
    """The user id of a User, an id, or None for None/anonymous/unsaved users."""
    if person is None:
        return None
    if isinstance(person, int):
        return person
    if not getattr(person, "is_authenticated", False):
        return None
    return person.pk


# ---- follows -------------------------------------------------------------------------------


def is_following(follower: Person, followee: Person) -> bool:
    """Whether ``follower`` follows ``followee`` (one query; False for anonymous or oneself)."""
    a, b = _id(follower), _id(followee)
    if a is None or b is None or a == b:
        return False
    return Follow.objects.filter(follower_id=a, followee_id=b).exists()


def follows_both_ways(a: Person, b: Person) -> bool:
    """Whether ``a`` and ``b`` follow each other (one query)."""
    a_id, b_id = _id(a), _id(b)
    if a_id is None or b_id is None or a_id == b_id:
        return False
    both = Q(follower_id=a_id, followee_id=b_id) | Q(follower_id=b_id, followee_id=a_id)
    return Follow.objects.filter(both).count() == 2


mutual = follows_both_ways


def following_ids(user: Person) -> frozenset[int]:
    """Ids of everyone ``user`` follows (one query). For "people I follow" checks in bulk."""
    user_id = _id(user)
    if user_id is None:
        return frozenset()
    return frozenset(Follow.objects.filter(follower_id=user_id).values_list("followee_id", flat=True))


def follower_count(user: Person) -> int:
    """How many people follow ``user`` (one query)."""
    return Follow.objects.filter(followee_id=_id(user)).count()


def following_count(user: Person) -> int:
    """How many people ``user`` follows (one query)."""
    return Follow.objects.filter(follower_id=_id(user)).count()


def follow_counts(user: Person) -> tuple[int, int]:
    """``(followers, following)`` of ``user`` in one query."""
    user_id = _id(user)
    counts = Follow.objects.filter(Q(follower_id=user_id) | Q(followee_id=user_id)).aggregate(
        followers=Count("id", filter=Q(followee_id=user_id)),
        following=Count("id", filter=Q(follower_id=user_id)),
    )
    return counts["followers"] or 0, counts["following"] or 0


def followers_of(user: Person) -> QuerySet[Follow]:
    """The follows *of* ``user``, newest first, each with its ``follower`` loaded."""
    return (
        Follow.objects.filter(followee_id=_id(user), follower__is_active=True)
        .select_related("follower")
        .order_by("-created_at", "-id")
    )


def followed_by(user: Person) -> QuerySet[Follow]:
    """The follows *made by* ``user``, newest first, each with its ``followee`` loaded."""
    return (
        Follow.objects.filter(follower_id=_id(user), followee__is_active=True)
        .select_related("followee")
        .order_by("-created_at", "-id")
    )


# ---- follow requests (protected accounts) -----------------------------------------------------


def follow_requests_for(user: Person) -> QuerySet[FollowRequest]:
    """The pending requests to follow ``user``, newest first, each with its active ``requester`` loaded."""
    return (
        FollowRequest.objects.filter(target_id=_id(user), requester__is_active=True)
        .select_related("requester")
        .order_by("-created_at", "-id")
    )


def follow_request_count(user: Person) -> int:
    """How many people wait for ``user`` to approve them (one query)."""
    user_id = _id(user)
    if user_id is None:
        return 0
    return FollowRequest.objects.filter(target_id=user_id, requester__is_active=True).count()


def has_requested(requester: Person, target: Person) -> bool:
    """Whether ``requester`` has a pending request to follow ``target`` (one query)."""
    a, b = _id(requester), _id(target)
    if a is None or b is None or a == b:
        return False
    return FollowRequest.objects.filter(requester_id=a, target_id=b).exists()


# ---- blocks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockedIds:
    """Who is kept apart from a user: ``blocked`` (they blocked these) and ``blocked_by``."""

    blocked: frozenset[int]
    blocked_by: frozenset[int]

    @property
    def all(self) -> frozenset[int]:
        """Everyone blocked either way: the people the user must not see, message or pay."""
        return self.blocked | self.blocked_by

    def __contains__(self, user_id: object) -> bool:
        return user_id in self.blocked or user_id in self.blocked_by


def has_blocked(blocker: Person, blocked: Person) -> bool:
    """Whether ``blocker`` blocked ``blocked`` (one direction only; one query)."""
    a, b = _id(blocker), _id(blocked)
    if a is None or b is None or a == b:
        return False
    return Block.objects.filter(blocker_id=a, blocked_id=b).exists()


def is_blocked_between(a: Person, b: Person) -> bool:
    """Whether either of ``a`` and ``b`` blocked the other (one query).

    This is the check payments and messaging make before letting one of them message,
    pay or request money from the other. False for anonymous people and for oneself.
    """
    a_id, b_id = _id(a), _id(b)
    if a_id is None or b_id is None or a_id == b_id:
        return False
    return Block.objects.filter(Q(blocker_id=a_id, blocked_id=b_id) | Q(blocker_id=b_id, blocked_id=a_id)).exists()


def blocked_ids(user: Person) -> BlockedIds:
    """The ids of people ``user`` blocked and of people who blocked ``user`` (one query)."""
    user_id = _id(user)
    if user_id is None:
        return BlockedIds(frozenset(), frozenset())
    rows = Block.objects.filter(Q(blocker_id=user_id) | Q(blocked_id=user_id)).values_list("blocker_id", "blocked_id")
    blocked, blocked_by = set(), set()
    for blocker_id, blocked_id in rows:
        if blocker_id == user_id:
            blocked.add(blocked_id)
        else:
            blocked_by.add(blocker_id)
    return BlockedIds(frozenset(blocked), frozenset(blocked_by))


def exclude_blocked(queryset: QuerySet, user: Person, *, field: str = "pk") -> QuerySet:
    """``queryset`` without the rows whose ``field`` (a user id/FK path) is blocked either way.

    Two subqueries in the same SQL, so it stays one query whatever the number of blocks:
    ``exclude_blocked(User.objects.filter(...), me)`` for a people search, or
    ``exclude_blocked(Membership.objects..., me, field="user")`` for other apps' rows.
    """
    user_id = _id(user)
    if user_id is None:
        return queryset
    return queryset.exclude(**{f"{field}__in": Block.objects.filter(blocker_id=user_id).values("blocked_id")}).exclude(
        **{f"{field}__in": Block.objects.filter(blocked_id=user_id).values("blocker_id")}
    )


def blocks_made_by(user: Person) -> QuerySet[Block]:
    """The blocks ``user`` made, newest first, each with the ``blocked`` user loaded."""
    return Block.objects.filter(blocker_id=_id(user)).select_related("blocked").order_by("-created_at", "-id")


# ---- profiles ------------------------------------------------------------------------------


def normalise_handle(handle: object) -> str | None:
    """A handle as stored (lowercase, no "@"), or None when it cannot be one (so: not found)."""
    if not isinstance(handle, str):
        return None
    handle = handle.strip().removeprefix("@").lower()
    if not handle or len(handle) > HANDLE_MAX_LENGTH or "\x00" in handle:
        return None
    return handle


def user_for_handle(handle: object, *, active_only: bool = True) -> User:
    """The user with that handle (any case, with or without "@"), or ``NotFound``.

    Only active users unless ``active_only=False`` (to undo a follow or a block of
    someone who has since been deactivated).
    """
    normalised = normalise_handle(handle)
    users = User.objects.filter(is_active=True) if active_only else User.objects.all()
    user = users.filter(handle=normalised).first() if normalised else None
    if user is None:
        raise NotFound("There is no one with that handle.", code="user_not_found")
    return user


@dataclass(frozen=True)
class Profile:
    """A person's public profile as ``viewer`` sees it."""

    user: User
    followers_count: int
    following_count: int
    is_self: bool
    is_following: bool  # the viewer follows them
    follows_you: bool  # they follow the viewer
    you_blocked: bool  # the viewer blocked them
    blocked_you: bool  # they blocked the viewer
    viewer_signed_in: bool = False
    requested: bool = False  # the viewer asked to follow them (protected account) and waits

    @property
    def follow_state(self) -> str:
        """What the follow button shows: anonymous, self, blocked (the viewer blocked them),
        unavailable (they blocked the viewer), following, requested or follow."""
        if not self.viewer_signed_in:
            return "anonymous"
        if self.is_self:
            return "self"
        if self.you_blocked:
            return "blocked"
        if self.blocked_you:
            return "unavailable"
        if self.is_following:
            return "following"
        if self.requested:
            return "requested"
        return "follow"

    @property
    def connections_visible(self) -> bool:
        """Whether the viewer may see their followers/following lists (and protected posts):
        no block either way, and the account is public, or it is the viewer's, or the viewer
        is an approved follower."""
        if self.blocked_either_way:
            return False
        return not self.user.is_protected or self.is_self or self.is_following

    @property
    def mutual(self) -> bool:
        return self.is_following and self.follows_you

    @property
    def blocked_either_way(self) -> bool:
        return self.you_blocked or self.blocked_you

    @property
    def can_interact(self) -> bool:
        """Whether the viewer may be offered Message/Pay: signed in, someone else, no block either way."""
        return self.viewer_signed_in and not self.is_self and not self.blocked_either_way


def _count_of(queryset: QuerySet, field: str) -> Coalesce:
    counted = queryset.order_by().values(field).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def annotate_profiles(queryset: QuerySet[User], viewer: Person = None) -> QuerySet[User]:
    """``queryset`` of users annotated with what ``Profile`` needs (counts and the viewer's relationship).

    Correlated subqueries only: any number of rows stays one query. Turn each row into a
    ``Profile`` with ``profile_from_row(row, viewer)``.
    """
    viewer_id = _id(viewer)
    queryset = queryset.annotate(
        followers_total=_count_of(Follow.objects.filter(followee_id=OuterRef("pk")), "followee_id"),
        following_total=_count_of(Follow.objects.filter(follower_id=OuterRef("pk")), "follower_id"),
    )
    if viewer_id is not None:
        queryset = queryset.annotate(
            viewer_follows=Exists(Follow.objects.filter(follower_id=viewer_id, followee_id=OuterRef("pk"))),
            follows_viewer=Exists(Follow.objects.filter(follower_id=OuterRef("pk"), followee_id=viewer_id)),
            viewer_blocked=Exists(Block.objects.filter(blocker_id=viewer_id, blocked_id=OuterRef("pk"))),
            blocked_viewer=Exists(Block.objects.filter(blocker_id=OuterRef("pk"), blocked_id=viewer_id)),
            viewer_requested=Exists(FollowRequest.objects.filter(requester_id=viewer_id, target_id=OuterRef("pk"))),
        )
    return queryset


def profile_from_row(user: User, viewer: Person = None) -> Profile:
    """The ``Profile`` of a row from ``annotate_profiles(..., viewer)`` (no query)."""
    viewer_id = _id(viewer)
    is_self = viewer_id == user.pk
    related = viewer_id is not None and not is_self
    return Profile(
        user=user,
        followers_count=user.followers_total,
        following_count=user.following_total,
        is_self=is_self,
        is_following=related and user.viewer_follows,
        follows_you=related and user.follows_viewer,
        you_blocked=related and user.viewer_blocked,
        blocked_you=related and user.blocked_viewer,
        viewer_signed_in=viewer_id is not None,
        requested=related and user.viewer_requested,
    )


def profile_for(handle: object, viewer: Person = None) -> Profile:
    """The public profile of the active user with ``handle``, seen by ``viewer``, in ONE query.

    Raises ``NotFound`` (404) for an unknown or inactive handle. ``viewer`` may be None or
    anonymous: every relationship is then False. A profile is shown even when a block
    stands either way; ``Profile.can_interact`` says whether to offer Message and Pay,
    ``Profile.follow_state`` what the follow button shows and ``Profile.connections_visible``
    whether the follower lists (and a protected account's posts) may be shown.
    """
    normalised = normalise_handle(handle)
    if normalised is None:
        raise NotFound("There is no one with that handle.", code="user_not_found")
    user = annotate_profiles(User.objects.filter(handle=normalised, is_active=True), viewer).first()
    if user is None:
        raise NotFound("There is no one with that handle.", code="user_not_found")
    return profile_from_row(user, viewer)


def followers_people(user: Person, viewer: Person = None) -> QuerySet[User]:
    """The active people following ``user``, newest follow first, as rows for ``profile_from_row``.

    Each row has ``link_id`` (the follow's id, the cursor key: order by ``-link_id``) and
    ``linked_at``. People blocked either way with ``viewer`` are left out. One query per page.
    """
    people = User.objects.filter(is_active=True, following_links__followee_id=_id(user)).annotate(
        link_id=F("following_links__id"), linked_at=F("following_links__created_at")
    )
    return annotate_profiles(exclude_blocked(people, viewer), viewer).order_by("-link_id")


def following_people(user: Person, viewer: Person = None) -> QuerySet[User]:
    """The active people ``user`` follows, newest follow first; like ``followers_people``."""
    people = User.objects.filter(is_active=True, follower_links__follower_id=_id(user)).annotate(
        link_id=F("follower_links__id"), linked_at=F("follower_links__created_at")
    )
    return annotate_profiles(exclude_blocked(people, viewer), viewer).order_by("-link_id")

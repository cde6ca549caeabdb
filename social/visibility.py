"""Who may see which post: the one place the rules live (pages, API, timeline and tips use it).

A post is **visible** to a viewer when all of these hold:

- it is live: not deleted, and not hidden by staff (its author still sees a hidden post);
- its author is active, and neither of them blocked the other;
- its author is not protected, or the viewer is the author or follows them.

A repost is visible only when the reposted post is visible too.

A visible post is **unlocked** (text and images shown) when it is public, or the viewer is
its author, or the viewer's subscription to the author is paid (``paid_until`` in the
future). A locked subscribers-only post shows only its teaser and a Subscribe button; its
text and images never leave the server.

Everything here is SQL (``Q`` objects and ``Exists`` subqueries), so a page of posts is one
query whatever the number of follows, blocks or subscriptions.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import Block, Follow

from .models import Audience, Post, Subscription


def viewer_id(viewer) -> int | None:
    """The signed-in viewer's id, or None for anonymous (and inactive) viewers."""
    if viewer is None or not getattr(viewer, "is_authenticated", False) or not getattr(viewer, "is_active", True):
        return None
    return viewer.pk


def visible_q(viewer, prefix: str = "") -> Q:
    """The rules above as a ``Q`` over ``Post`` (``prefix`` e.g. "repost_of__" for a related post)."""
    p = prefix
    me = viewer_id(viewer)
    live = Q(**{f"{p}deleted_at__isnull": True}) & Q(**{f"{p}author__is_active": True})
    if me is None:
        return live & Q(**{f"{p}hidden_at__isnull": True}) & Q(**{f"{p}author__is_protected": False})
    not_hidden = Q(**{f"{p}hidden_at__isnull": True}) | Q(**{f"{p}author_id": me})
    not_blocked = ~Q(**{f"{p}author_id__in": Block.objects.filter(blocker_id=me).values("blocked_id")}) & ~Q(
        **{f"{p}author_id__in": Block.objects.filter(blocked_id=me).values("blocker_id")}
    )
    may_follow = (
        Q(**{f"{p}author__is_protected": False})
        | Q(**{f"{p}author_id": me})
        | Q(**{f"{p}author_id__in": Follow.objects.filter(follower_id=me).values("followee_id")})
    )
    return live & not_hidden & not_blocked & may_follow


def visible_posts(viewer, queryset: QuerySet[Post] | None = None) -> QuerySet[Post]:
    """``queryset`` (default: all posts) narrowed to what ``viewer`` may see, reposts included.

    Not annotated or ordered: callers add ``annotate_for_viewer`` and their own order.
    """
    queryset = Post.objects.all() if queryset is None else queryset
    return queryset.filter(visible_q(viewer)).filter(Q(repost_of__isnull=True) | visible_q(viewer, "repost_of__"))


def subscribed_q(viewer, author_ref: str = "author_id") -> Exists | None:
    """An ``Exists`` that is true when ``viewer`` has a paid subscription to the row's ``author_ref``."""
    me = viewer_id(viewer)
    if me is None:
        return None
    return Exists(
        Subscription.objects.filter(fan_id=me, creator_id=OuterRef(author_ref), paid_until__gt=timezone.now())
    )


def unlocked_q(viewer, prefix: str = "") -> Q:
    """True for posts whose content ``viewer`` may read (see the module docstring)."""
    me = viewer_id(viewer)
    public = Q(**{f"{prefix}audience": Audience.PUBLIC})
    if me is None:
        return public
    return public | Q(**{f"{prefix}author_id": me}) | Q(subscribed_q(viewer, f"{prefix}author_id"))


def post_is_visible(viewer, post: Post) -> bool:
    """``visible_q`` for one post (one query)."""
    return visible_posts(viewer, Post.objects.filter(pk=post.pk)).exists()


def post_is_unlocked(viewer, post: Post) -> bool:
    """Whether ``viewer`` may read ``post``'s text and images (at most one query)."""
    me = viewer_id(viewer)
    if post.audience == Audience.PUBLIC or (me is not None and post.author_id == me):
        return True
    if me is None:
        return False
    return Subscription.objects.filter(fan_id=me, creator_id=post.author_id, paid_until__gt=timezone.now()).exists()

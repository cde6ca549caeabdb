"""Reads of posts: the timeline, explore, tag and profile lists, one post and its thread.

Every list here runs a bounded number of queries whatever the number of follows, blocks,
subscriptions or posts: one for the rows (visibility and the viewer's state are SQL, see
``social.visibility``), plus one per prefetched image set. Pages use a keyset cursor on the
post id (``before``: newest first, ``after``: oldest first), so new posts arriving between
two pages never cause gaps or duplicates.

Every post these functions return carries these annotations (booleans):

- ``viewer_liked`` / ``viewer_reposted``: the viewer liked / reposted the post **shown by the
  card** — for a pure repost row that is the reposted original (``like_create`` on a repost
  likes the original, too). Always False for anonymous viewers.
- ``unlocked``: the viewer may read the row's text and images (``social.visibility.unlocked_q``).
- ``repost_unlocked``: the same for ``repost_of`` (False on non-reposts).
- ``quote_visible`` / ``quote_unlocked``: the embedded ``quote_of`` may be shown / read
  (False when there is no quote). A quote that is not visible renders "This post is unavailable".
- ``repost_quote_visible`` / ``repost_quote_unlocked``: the same for the quote embedded in a
  reposted original (``repost_of.quote_of``).

Loaded with them (no further query when a template reads them): ``author``,
``author.creator`` (may be missing: use ``creator_enabled(user)``), ``repost_of``, ``quote_of``
and ``repost_of.quote_of`` with their authors (+ ``creator``), and
``images`` of the post, of ``repost_of``, of ``quote_of`` and of ``repost_of.quote_of``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Follow, User
from core.errors import NotFound, ValidationFailed

from .models import Audience, CreatorProfile, Like, Post, PostImage, PostTag
from .visibility import unlocked_q, viewer_id, visible_posts

PAGE_SIZE = 20
MAX_PAGE_SIZE = 50
EXPLORE_SIZE = 30
EXPLORE_DAYS = 7
NEW_COUNT_CAP = 99
THREAD_MAX_ANCESTORS = 50
REPLIES_PAGE_SIZE = 50


class PostNotFound(NotFound):
    code = "post_not_found"
    default_message = "That post does not exist or is not visible to you."


@dataclass
class Page:
    """A page of posts, newest first. ``next_before``: pass it as ``before`` for the next page (None = last page)."""

    posts: list[Post] = field(default_factory=list)
    next_before: int | None = None
    viewer_is_creator: bool | None = None  # the timeline's compose box (None: not read with the page)


@dataclass
class Thread:
    """A post's context: ``ancestors`` (root first, visible ones only) and ``replies`` (oldest first).

    ``next_after``: pass it as ``after`` to ``thread_for``/``replies_page`` for more replies (None = no more).
    """

    ancestors: list[Post] = field(default_factory=list)
    replies: list[Post] = field(default_factory=list)
    next_after: int | None = None


@dataclass
class RepliesPage:
    posts: list[Post] = field(default_factory=list)
    next_after: int | None = None


# --- helpers -----------------------------------------------------------------------------------


def parse_post_id(value) -> int | None:
    """``value`` as a positive post id (int or a string of digits), else None (never raises)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and len(value) <= 19):
            return None
        value = int(value)
    if not isinstance(value, int) or not 0 < value < 2**63:
        return None
    return value


def _cursor(value) -> int | None:
    """A keyset cursor (``before``/``after``): None or a positive id; anything else is ``ValidationFailed`` (400)."""
    if value is None or value == "":
        return None
    parsed = parse_post_id(value)
    if parsed is None:
        raise ValidationFailed("That page cursor is not valid.", code="invalid_cursor", fields={"cursor": ["Invalid."]})
    return parsed


def _limit(limit, default: int = PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        return default
    return min(limit, maximum)


def _boolean(condition) -> Case:
    return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())


def creator_enabled(user) -> bool:
    """Whether ``user`` has creator mode on (reads the select_related ``creator``; no query when loaded)."""
    try:
        return bool(user.creator.is_enabled)
    except (AttributeError, User.creator.RelatedObjectDoesNotExist):
        return False


def _images() -> Prefetch:
    return Prefetch("images", queryset=PostImage.objects.order_by("position"))


def images_attach(posts) -> None:
    """Load ``images`` of every post, of its ``repost_of``, ``quote_of`` and ``repost_of.quote_of``
    in ONE query (what four ``prefetch_related`` lookups do in up to four), as a prefetch cache:
    ``post.images.all()`` then runs no query."""
    every: dict[int, list[Post]] = {}
    for post in posts:
        for related in (post, post.repost_of, post.quote_of, post.repost_of and post.repost_of.quote_of):
            if related is not None:
                every.setdefault(related.pk, []).append(related)
    if not every:
        return
    by_post: dict[int, list[PostImage]] = {}
    for image in PostImage.objects.filter(post_id__in=list(every)).order_by("post_id", "position"):
        by_post.setdefault(image.post_id, []).append(image)
    for post_id, same in every.items():
        images = by_post.get(post_id, [])
        for post in same:
            queryset = post.images.all()
            queryset._result_cache = images
            queryset._prefetch_done = True
            post._prefetched_objects_cache = {**getattr(post, "_prefetched_objects_cache", {}), "images": queryset}


def annotate_for_viewer(viewer, queryset: QuerySet[Post], *, images: bool = True) -> QuerySet[Post]:
    """``queryset`` with the related rows and the annotations listed in the module docstring.

    Does not filter: use ``posts_for_viewer`` for visible posts. ``images=False`` leaves the
    images to the caller (``images_attach``: one query for a whole page).
    """
    me = viewer_id(viewer)
    shown = Coalesce(OuterRef("repost_of_id"), OuterRef("pk"))
    if me is None:
        liked = reposted = Value(False, output_field=BooleanField())
    else:
        liked = Exists(Like.objects.filter(user_id=me, post_id=shown))
        reposted = Exists(Post.objects.filter(author_id=me, repost_of_id=shown, deleted_at__isnull=True))
    unlocked_of = lambda ref: Exists(Post.objects.filter(pk=OuterRef(ref)).filter(unlocked_q(viewer)))  # noqa: E731
    visible_of = lambda ref: Exists(visible_posts(viewer, Post.objects.filter(pk=OuterRef(ref))))  # noqa: E731
    queryset = queryset.select_related(
        "author",
        "author__creator",
        "repost_of",
        "repost_of__author",
        "repost_of__author__creator",
        "quote_of",
        "quote_of__author",
        "quote_of__author__creator",
        "repost_of__quote_of",
        "repost_of__quote_of__author",
        "repost_of__quote_of__author__creator",
    )
    if images:
        queryset = queryset.prefetch_related(
            _images(),
            Prefetch("repost_of__images", queryset=PostImage.objects.order_by("position")),
            Prefetch("quote_of__images", queryset=PostImage.objects.order_by("position")),
            Prefetch("repost_of__quote_of__images", queryset=PostImage.objects.order_by("position")),
        )
    return queryset.annotate(
        viewer_liked=liked,
        viewer_reposted=reposted,
        unlocked=_boolean(unlocked_q(viewer)),
        repost_unlocked=unlocked_of("repost_of_id"),
        quote_visible=visible_of("quote_of_id"),
        quote_unlocked=unlocked_of("quote_of_id"),
        repost_quote_visible=visible_of("repost_of__quote_of_id"),
        repost_quote_unlocked=unlocked_of("repost_of__quote_of_id"),
    )


def posts_for_viewer(viewer, queryset: QuerySet[Post] | None = None) -> QuerySet[Post]:
    """The visible posts of ``queryset`` (default: all), annotated (see the module docstring). Not ordered."""
    return annotate_for_viewer(viewer, visible_posts(viewer, queryset))


def _page(viewer, queryset: QuerySet[Post], *, before, limit, viewer_creator: bool = False) -> Page:
    """A keyset page of ``queryset`` (already narrowed to visible posts), newest first, annotated.

    Two steps: the page's ids first (a lean query the indexes serve: no annotation is computed
    for rows that are not on the page), then those rows with everything a card needs.
    """
    before = _cursor(before)
    limit = _limit(limit)
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    page_ids = list(queryset.order_by("-id").values_list("id", flat=True)[: limit + 1])
    more = len(page_ids) > limit
    page_ids = page_ids[:limit]
    if not page_ids:
        return Page()
    rows = annotate_for_viewer(viewer, Post.objects.filter(pk__in=page_ids), images=False).order_by("-id")
    me = viewer_id(viewer)
    if viewer_creator and me is not None:
        # Whether the viewer has creator mode on, carried by the rows (an uncorrelated InitPlan,
        # run once), so the compose box costs no query of its own.
        rows = rows.annotate(viewer_is_creator=Exists(CreatorProfile.objects.filter(user_id=me, is_enabled=True)))
    rows = list(rows)
    images_attach(rows)
    flag = rows[0].viewer_is_creator if rows and viewer_creator and me is not None else None
    return Page(posts=rows, next_before=page_ids[-1] if more else None, viewer_is_creator=flag)


def timeline_ids_query(viewer, *, before: int | None = None, limit: int = PAGE_SIZE) -> QuerySet:
    """The query that picks a timeline page's ids (what the PostgreSQL plan test EXPLAINs)."""
    queryset = visible_posts(viewer, _timeline_base(viewer))
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    return queryset.order_by("-id").values_list("id", flat=True)[: limit + 1]


# --- the home timeline -------------------------------------------------------------------------


def timeline_author_ids(viewer) -> list[int]:
    """The viewer's id and the ids of the people they follow (one query; empty when anonymous)."""
    me = viewer_id(viewer)
    if me is None:
        return []
    return [me, *Follow.objects.filter(follower_id=me).order_by("followee_id").values_list("followee_id", flat=True)]


def _timeline_base(viewer, author_ids: list[int] | None = None) -> QuerySet[Post]:
    """Top-level, live posts by ``author_ids`` (default: the viewer and the people they follow).

    Shaped for the partial index social_post_timeline_idx (author, -id) WHERE reply_to IS NULL
    AND deleted_at IS NULL: ``author_id IN (<ids>)`` with both partial-index conditions, ORDER BY
    id DESC. The ids are read first (one small query on accounts_follow's index): with literal
    ids the planner knows how many posts each author has and picks the partial index, where a
    semi-join on a subquery made it walk the primary key backwards through everyone's posts.
    """
    author_ids = timeline_author_ids(viewer) if author_ids is None else author_ids
    if not author_ids:
        return Post.objects.none()
    return Post.objects.filter(author_id__in=author_ids, reply_to__isnull=True, deleted_at__isnull=True)


def timeline_page(viewer, *, before: int | None = None, limit: int = PAGE_SIZE) -> Page:
    """The home timeline: top-level posts and reposts by the viewer and the people they follow, newest first.

    Keyset pagination on the id (``before`` = the previous page's ``next_before``). Anonymous
    viewers get an empty page. A bad cursor is ``ValidationFailed`` (400, code invalid_cursor).
    """
    return _page(viewer, visible_posts(viewer, _timeline_base(viewer)), before=before, limit=limit, viewer_creator=True)


def visible_counter(viewer, pk, field: str) -> tuple[int, int]:
    """(target id, ``field``) of the post a like/repost acts on (a repost's original).

    The count is 0 when ``viewer`` may not see the post: unlike/unrepost work on any post, so their
    answers must not reveal the counters of posts hidden from the viewer.
    """
    post_id = parse_post_id(pk) or 0
    row = Post.objects.filter(pk=post_id).values("repost_of_id").first()
    target = (row or {}).get("repost_of_id") or post_id
    count = visible_posts(viewer, Post.objects.filter(pk=target)).values_list(field, flat=True).first()
    return target, count or 0


def timeline_new_count(viewer, *, after: int) -> int:
    """How many timeline posts are newer than ``after`` (a post id; 0 = all), at most ``NEW_COUNT_CAP`` (99 = "99+")."""
    after = 0 if after == 0 else _cursor(after)
    if after is None:
        return 0
    ids = visible_posts(viewer, _timeline_base(viewer)).filter(id__gt=after).order_by("-id").values("id")
    return ids[:NEW_COUNT_CAP].count()


def recent_page(viewer, *, before: int | None = None, limit: int = PAGE_SIZE) -> Page:
    """Every post the viewer may see (replies and reposts included), newest first (``GET /api/v1/posts/``)."""
    return _page(viewer, visible_posts(viewer, Post.objects.all()), before=before, limit=limit)


# --- explore, tags, profiles -------------------------------------------------------------------


def popularity_score():
    """Explore's score: likes + 2 × reposts + replies + quotes (ties: newest first)."""
    return F("like_count") + 2 * F("repost_count") + F("reply_count") + F("quote_count")


def explore_page(viewer, *, limit: int = EXPLORE_SIZE) -> list[Post]:
    """Recent popular posts: the last 7 days' public top-level posts (no replies, no reposts) of
    non-protected accounts that the viewer may see, by ``popularity_score`` then newest. Annotated."""
    since = timezone.now() - timezone.timedelta(days=EXPLORE_DAYS)
    queryset = Post.objects.filter(
        created_at__gte=since,
        audience=Audience.PUBLIC,
        author__is_protected=False,
        reply_to__isnull=True,
        repost_of__isnull=True,
        hidden_at__isnull=True,
    )
    return list(
        posts_for_viewer(viewer, queryset)
        .annotate(score=popularity_score())
        .order_by("-score", "-id")[: _limit(limit, EXPLORE_SIZE, 100)]
    )


def normalise_tag(tag) -> str | None:
    """``tag`` (with or without "#") lowercased, or None when it is not a valid hashtag."""
    from .services.posts import TAG_RE

    if not isinstance(tag, str):
        return None
    tag = tag.removeprefix("#").lower()
    return tag if TAG_RE.fullmatch(tag) else None


def tag_page(viewer, tag: str, *, before: int | None = None, limit: int = PAGE_SIZE) -> Page:
    """Visible posts (replies included, reposts not) carrying ``#tag``, newest first. Unknown/invalid tag: empty page.

    Only posts the viewer may read: a locked subscribers-only post is never listed, or anyone
    could learn the words of its text by guessing them as hashtags.
    """
    normalised = normalise_tag(tag)
    if normalised is None:
        _cursor(before)
        return Page()
    queryset = Post.objects.filter(pk__in=PostTag.objects.filter(tag=normalised).values("post_id"))
    return _page(viewer, visible_posts(viewer, queryset).filter(unlocked_q(viewer)), before=before, limit=limit)


def profile_posts(
    viewer, author: User, *, before: int | None = None, replies: bool = False, limit: int = PAGE_SIZE
) -> Page:
    """``author``'s posts the viewer may see, newest first: top-level posts and reposts, plus replies
    when ``replies`` is true. Empty for a protected author the viewer does not follow, or a block."""
    queryset = Post.objects.filter(author_id=author.pk, deleted_at__isnull=True)
    if not replies:
        queryset = queryset.filter(reply_to__isnull=True)
    return _page(viewer, visible_posts(viewer, queryset), before=before, limit=limit)


# --- one post and its thread -------------------------------------------------------------------


def post_for(viewer, pk) -> Post:
    """The post ``pk`` (int or digit string) annotated for ``viewer``; ``PostNotFound`` (404) if it is
    not visible to them (deleted, hidden, blocked, protected, or no such id)."""
    parsed = parse_post_id(pk)
    if parsed is None:
        raise PostNotFound()
    post = posts_for_viewer(viewer, Post.objects.filter(pk=parsed)).first()
    if post is None:
        raise PostNotFound()
    return post


def replies_page(viewer, post: Post, *, after: int | None = None, limit: int = REPLIES_PAGE_SIZE) -> RepliesPage:
    """Visible direct replies to ``post``, oldest first, keyset on the id (``after``)."""
    after = _cursor(after)
    limit = _limit(limit, REPLIES_PAGE_SIZE, 100)
    queryset = posts_for_viewer(viewer, Post.objects.filter(reply_to_id=post.pk))
    if after is not None:
        queryset = queryset.filter(id__gt=after)
    rows = list(queryset.order_by("id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return RepliesPage(posts=rows, next_after=rows[-1].pk if more and rows else None)


def thread_for(viewer, post: Post, *, after: int | None = None, limit: int = REPLIES_PAGE_SIZE) -> Thread:
    """``post``'s ancestors (up the reply chain from the root, visible ones only, at most 50) and its
    direct replies (oldest first, ``limit`` of them after ``after``). Three queries + image prefetches.

    The caller has already checked that ``post`` is visible (``post_for``).
    """
    ancestors: list[Post] = []
    if post.reply_to_id is not None:
        root = post.thread_root_id or post.reply_to_id
        parents = dict(
            Post.objects.filter(Q(thread_root_id=root) | Q(pk=root), id__lt=post.pk).values_list("id", "reply_to_id")
        )
        chain: list[int] = []
        current = post.reply_to_id
        while current is not None and current not in chain and len(chain) < THREAD_MAX_ANCESTORS:
            chain.append(current)
            current = parents.get(current)
        found = {p.pk: p for p in posts_for_viewer(viewer, Post.objects.filter(pk__in=chain))}
        ancestors = [found[pk] for pk in reversed(chain) if pk in found]
    page = replies_page(viewer, post, after=after, limit=limit)
    return Thread(ancestors=ancestors, replies=page.posts, next_after=page.next_after)


__all__ = [
    "NEW_COUNT_CAP",
    "PAGE_SIZE",
    "Page",
    "PostNotFound",
    "RepliesPage",
    "Thread",
    "annotate_for_viewer",
    "creator_enabled",
    "explore_page",
    "normalise_tag",
    "parse_post_id",
    "popularity_score",
    "post_for",
    "posts_for_viewer",
    "profile_posts",
    "recent_page",
    "replies_page",
    "tag_page",
    "thread_for",
    "timeline_author_ids",
    "timeline_new_count",
    "timeline_page",
]

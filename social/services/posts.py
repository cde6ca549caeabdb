"""Posts: write, reply, quote, repost, like, delete.

Every function takes the acting person first, then keyword-only arguments; it is atomic
(all or nothing), and the "toggle" actions (like, repost and their undo) are idempotent.
Visibility is ``social.visibility``'s: a post the actor may not see is ``PostNotFound``
(404, existence never leaked); an action the actor may see but not do is ``NotPermitted``
(403) or ``BlockedError`` (403, code ``blocked``).

Notifications (kinds registered here): ``mention.new`` (someone @mentioned you in a post you
can read), ``reply.new`` (someone replied to your post). Live events: ``post.new`` to every
follower of the author once a new top-level post commits (``social.tasks.fan_out_new_post``),
data ``{"post_id", "author"}`` (the author's handle) — the timeline's "N new posts" bar.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Block, User
from accounts.social import BlockedError
from core.errors import NotPermitted, ValidationFailed
from notifications.models import register_kind
from notifications.services import notify

from ..models import (
    POST_MAX_IMAGES,
    POST_MAX_LENGTH,
    TAG_MAX_LENGTH,
    Audience,
    CreatorProfile,
    Like,
    Mention,
    Post,
    PostImage,
    PostTag,
)
from ..selectors import PostNotFound, parse_post_id
from ..visibility import post_is_unlocked, post_is_visible, visible_posts

register_kind("mention.new", "{actor} mentioned you: {excerpt}")
register_kind("reply.new", "{actor} replied to your post: {excerpt}")

# @handle: a handle's characters, not inside a word or an e-mail address (a@b.c).
MENTION_RE = re.compile(r"(?<![\w@.])@([A-Za-z0-9_]{3,15})(?![\w@])")
# #tag: Unicode word characters (letters, digits, underscore), 1–64 of them, not inside a word.
HASHTAG_RE = re.compile(r"(?<![\w#&])#(\w+)")
TAG_RE = re.compile(rf"\w{{1,{TAG_MAX_LENGTH}}}")
MENTIONS_NOTIFIED_MAX = 20
EXCERPT_LENGTH = 80


class PostInvalid(ValidationFailed):
    code = "invalid_post"
    default_message = "That post is not valid."


class PostNotPermitted(NotPermitted):
    code = "post_forbidden"
    default_message = "You cannot do that with this post."


# --- text --------------------------------------------------------------------------------------


def _clean_text(value, *, field: str, required: bool) -> str:
    """NFC-normalised, stripped text; newlines allowed, no other control/format characters."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise PostInvalid("Write the post as text.", fields={field: ["Must be text."]})
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if required and not value:
        raise PostInvalid("Write something first.", fields={field: ["Write something first."]})
    if len(value) > POST_MAX_LENGTH:
        message = f"A post is at most {POST_MAX_LENGTH} characters ({len(value)} now)."
        raise PostInvalid(message, fields={field: [message]})
    for ch in value:
        if (ch != "\n" and unicodedata.category(ch) in ("Cc", "Cs", "Co")) or ch in "\u2028\u2029":
            message = "The text contains invisible control characters."
            raise PostInvalid(message, fields={field: [message]})
    return value


def parse_mentions(text: str) -> list[str]:
    """The @handles in ``text``, lowercased, unique, in order of appearance."""
    seen: dict[str, None] = {}
    for match in MENTION_RE.finditer(text or ""):
        seen.setdefault(match.group(1).lower(), None)
    return list(seen)


def parse_hashtags(text: str) -> list[str]:
    """The #tags in ``text``, lowercased, unique, in order (longer than 64 characters: ignored)."""
    seen: dict[str, None] = {}
    for match in HASHTAG_RE.finditer(text or ""):
        tag = match.group(1).lower()
        if len(tag) <= TAG_MAX_LENGTH:
            seen.setdefault(tag, None)
    return list(seen)


def text_tokens(text: str) -> list[tuple[str, str]]:
    """``text`` split for rendering: ``("text", s)``, ``("mention", handle)`` and ``("tag", tag)`` pieces.

    Used by the post card to link @mentions to ``/@handle`` and #tags to the tag page (the
    template escapes every piece). A mention is linked whether or not the handle exists.
    """
    pattern = re.compile(rf"{MENTION_RE.pattern}|{HASHTAG_RE.pattern}")
    tokens: list[tuple[str, str]] = []
    position = 0
    for match in pattern.finditer(text or ""):
        handle, tag = match.group(1), match.group(2)
        if tag is not None and len(tag) > TAG_MAX_LENGTH:
            continue
        if match.start() > position:
            tokens.append(("text", text[position : match.start()]))
        tokens.append(("mention", handle.lower()) if handle is not None else ("tag", tag))
        position = match.end()
    if position < len(text or ""):
        tokens.append(("text", text[position:]))
    return tokens


def post_path(post_id: int) -> str:
    """The post's page."""
    return reverse("social:post", args=[post_id])


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 1] + "…"


# --- shared checks -----------------------------------------------------------------------------


def _check_actor(user) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.pk:
        raise NotPermitted("Log in first.", code="not_authenticated")
    if not user.is_active:
        raise NotPermitted("This account is not active.", code="inactive")


def _post_id(post) -> int:
    pk = parse_post_id(post.pk if isinstance(post, Post) else post)
    if pk is None:
        raise PostNotFound()
    return pk


def _blocked_either_way(a: int, b: int) -> set[int]:
    """The blockers among (a, b) when one blocked the other (empty set: no block)."""
    return set(
        Block.objects.filter(Q(blocker_id=a, blocked_id=b) | Q(blocker_id=b, blocked_id=a)).values_list(
            "blocker_id", flat=True
        )
    )


def _visible_locked(user, post) -> Post:
    """The live post ``post`` (or id), row-locked, visible to ``user``; for a pure repost, its original.

    Raises ``BlockedError`` when ``user`` blocked the author (they know), ``PostNotFound`` otherwise.
    """
    pk = _post_id(post)
    row = (
        Post.objects.select_for_update(of=("self",))
        .select_related("author")
        .filter(pk=pk, deleted_at__isnull=True)
        .first()
    )
    if row is None:
        raise PostNotFound()
    if row.repost_of_id is not None:
        row = (
            Post.objects.select_for_update(of=("self",))
            .select_related("author")
            .filter(pk=row.repost_of_id, deleted_at__isnull=True)
            .first()
        )
        if row is None:
            raise PostNotFound()
    if row.author_id != user.pk and user.pk in _blocked_either_way(user.pk, row.author_id):
        raise BlockedError(f"You blocked @{row.author.handle}. Unblock them first.")
    if not post_is_visible(user, row):
        raise PostNotFound()
    return row


# --- create ------------------------------------------------------------------------------------


def _mentions_and_tags(post: Post, author: User) -> None:
    handles = parse_mentions(post.text)
    if handles:
        users = list(
            User.objects.filter(handle__in=handles, is_active=True)
            .exclude(pk=author.pk)
            .exclude(pk__in=Block.objects.filter(blocker_id=author.pk).values("blocked_id"))
            .exclude(pk__in=Block.objects.filter(blocked_id=author.pk).values("blocker_id"))
        )
        Mention.objects.bulk_create([Mention(post=post, user=user) for user in users], ignore_conflicts=True)
        order = {handle: i for i, handle in enumerate(handles)}
        users.sort(key=lambda user: order.get(user.handle, 0))
        data = {
            "actor": author.name,
            "actor_handle": author.handle,
            "post_id": post.pk,
            "excerpt": _excerpt(post.text),
            "url": post_path(post.pk),
        }
        for user in users[:MENTIONS_NOTIFIED_MAX]:
            # Only people who can read the post hear about it (protected author, subscribers only).
            if post_is_visible(user, post) and post_is_unlocked(user, post):
                notify(user, kind="mention.new", data=data)
    tags = parse_hashtags(post.text)
    if tags:
        PostTag.objects.bulk_create([PostTag(post=post, tag=tag) for tag in tags], ignore_conflicts=True)


def _prepared_images(images) -> list[PostImage]:
    items = list(images or ())
    if not items:
        return []
    if all(isinstance(item, PostImage) for item in items):
        if len(items) > POST_MAX_IMAGES:
            raise PostInvalid(
                f"Add at most {POST_MAX_IMAGES} images.", fields={"images": [f"At most {POST_MAX_IMAGES}."]}
            )
        return items
    from ..images import post_images_prepare

    return post_images_prepare(items)


def post_create(
    author: User,
    *,
    text: str,
    images=(),
    reply_to: Post | int | None = None,
    quote_of: Post | int | None = None,
    audience: str = Audience.PUBLIC,
    teaser: str = "",
) -> Post:
    """``author`` writes a post (a reply with ``reply_to``, a quote with ``quote_of``); returns it.

    Guarantees, all in one transaction:

    - ``text`` is stripped (NFC, CRLF → LF) and 1–280 characters (Python ``len``), with no control
      characters but newlines; ``images`` (uploads, or ``PostImage`` rows from
      ``social.images.post_images_prepare``) at most 4, checked and stored privately;
    - ``audience`` is "public" or "subscribers"; subscribers-only needs creator mode on and is not
      allowed on replies (replies are public); ``teaser`` (≤ 280) is kept only for subscribers-only;
    - a reply: the parent (for a repost: its original) must be visible and unlocked to the author
      (else ``PostNotFound`` 404; ``BlockedError`` 403 if the author blocked its author); sets
      ``thread_root``; the parent's ``reply_count`` + 1; its author gets ``reply.new`` (not for
      oneself, nor when they cannot see the reply);
    - a quote: the quoted post (for a repost: its original) must be visible; ``quote_count`` + 1;
    - ``@mentions`` of active, unblocked people other than the author become ``Mention`` rows, and a
      ``mention.new`` notification for those who can see and read the post; ``#tags`` become ``PostTag``;
    - a new top-level post fans out a live ``post.new`` event to the author's followers after commit.

    Errors: ``PostInvalid`` (400, ``fields`` name the input), ``NotPermitted`` for an inactive or
    anonymous author. Any signed-in active person may call it for themself.
    """
    _check_actor(author)
    text = _clean_text(text, field="text", required=True)
    if audience not in Audience.values:
        raise PostInvalid("Choose who can see the post.", fields={"audience": ["Unknown audience."]})
    teaser = _clean_text(teaser, field="teaser", required=False) if audience == Audience.SUBSCRIBERS else ""
    if audience == Audience.SUBSCRIBERS:
        if reply_to is not None:
            raise PostInvalid("Replies are public.", fields={"audience": ["Replies are always public."]})
        if not CreatorProfile.objects.filter(user_id=author.pk, is_enabled=True).exists():
            message = "Turn on creator mode to write subscribers-only posts."
            raise PostInvalid(message, fields={"audience": [message]})
    prepared = _prepared_images(images)

    with transaction.atomic():
        parent = quoted = None
        if reply_to is not None:
            parent = _visible_locked(author, reply_to)
            if not post_is_unlocked(author, parent):
                raise PostNotPermitted("Subscribe to reply to this post.", code="locked")
        if quote_of is not None:
            quoted = parent if parent is not None and _post_id(quote_of) == parent.pk else None
            quoted = quoted or _visible_locked(author, quote_of)
        post = Post.objects.create(
            author=author,
            text=text,
            reply_to=parent,
            thread_root_id=(parent.thread_root_id or parent.pk) if parent is not None else None,
            quote_of=quoted,
            audience=audience,
            teaser=teaser,
        )
        for position, image in enumerate(prepared):
            image.post = post
            image.position = position
            image.save()
        if parent is not None:
            Post.objects.filter(pk=parent.pk).update(reply_count=F("reply_count") + 1)
        if quoted is not None:
            Post.objects.filter(pk=quoted.pk).update(quote_count=F("quote_count") + 1)
        _mentions_and_tags(post, author)
        if (
            parent is not None
            and parent.author_id != author.pk
            and parent.author.is_active
            and not _blocked_either_way(author.pk, parent.author_id)
            and post_is_visible(parent.author, post)
        ):
            notify(
                parent.author,
                kind="reply.new",
                data={
                    "actor": author.name,
                    "actor_handle": author.handle,
                    "post_id": post.pk,
                    "reply_to": parent.pk,
                    "excerpt": _excerpt(text),
                    "url": post_path(post.pk),
                },
            )
        if parent is None:
            from ..tasks import fan_out_new_post

            post_id = post.pk
            transaction.on_commit(lambda: fan_out_new_post.delay(post_id))
    return post


# --- delete ------------------------------------------------------------------------------------


def _decrement(pk: int | None, counter: str) -> None:
    if pk is not None:
        Post.objects.filter(pk=pk, **{f"{counter}__gt": 0}).update(**{counter: F(counter) - 1})


def post_delete(user: User, *, post: Post | int) -> Post:
    """``user`` deletes their own post; returns the tombstone.

    Guarantees, atomic and idempotent (deleting a deleted post changes nothing): the row stays
    as a tombstone (``deleted_at`` set, text and teaser emptied), its images are removed (files
    deleted from storage after commit), its tags and mentions removed, the parent's
    ``reply_count`` / the quoted post's ``quote_count`` decremented, and every pure repost of it
    is deleted too (the originals' ``repost_count`` follows). Deleting a pure repost undoes it
    (``repost_delete``). Someone else's post: ``PostNotPermitted`` (403) if they can see it,
    ``PostNotFound`` (404) otherwise.
    """
    _check_actor(user)
    pk = _post_id(post)
    with transaction.atomic():
        row = Post.objects.select_for_update().filter(pk=pk).first()
        if row is None:
            raise PostNotFound()
        if row.author_id != user.pk:
            if row.deleted_at is None and post_is_visible(user, row):
                raise PostNotPermitted("You can only delete your own posts.")
            raise PostNotFound()
        if row.deleted_at is not None:
            return row
        now = timezone.now()
        if row.repost_of_id is not None:
            row.deleted_at = now
            row.save(update_fields=["deleted_at"])
            _decrement(row.repost_of_id, "repost_count")
            return row
        images = list(PostImage.objects.filter(post_id=row.pk))
        names = [image.file.name for image in images if image.file]
        storage = PostImage._meta.get_field("file").storage
        PostImage.objects.filter(post_id=row.pk).delete()
        PostTag.objects.filter(post_id=row.pk).delete()
        Mention.objects.filter(post_id=row.pk).delete()
        _decrement(row.reply_to_id, "reply_count")
        _decrement(row.quote_of_id, "quote_count")
        Post.objects.filter(repost_of_id=row.pk, deleted_at__isnull=True).update(deleted_at=now)
        row.deleted_at = now
        row.text = ""
        row.teaser = ""
        row.repost_count = 0
        row.save(update_fields=["deleted_at", "text", "teaser", "repost_count"])

        def remove_files():
            for name in names:
                with contextlib.suppress(OSError):  # already gone: nothing to do
                    storage.delete(name)

        transaction.on_commit(remove_files)
    return row


# --- likes -------------------------------------------------------------------------------------


def like_create(user: User, *, post: Post | int) -> bool:
    """``user`` likes ``post`` (for a pure repost: its original); returns whether a like was added.

    Idempotent (liking twice keeps one like, one count); atomic; ``like_count`` moves with F().
    Only posts visible to the user (``PostNotFound`` 404; ``BlockedError`` if they blocked the author).
    """
    _check_actor(user)
    with transaction.atomic():
        target = _visible_locked(user, post)
        if Like.objects.filter(user_id=user.pk, post_id=target.pk).exists():
            return False
        try:
            with transaction.atomic():
                Like.objects.create(user=user, post=target)
        except IntegrityError:  # a concurrent identical like won
            return False
        Post.objects.filter(pk=target.pk).update(like_count=F("like_count") + 1)
    return True


def like_delete(user: User, *, post: Post | int) -> bool:
    """``user`` removes their like of ``post`` (for a pure repost: its original); returns whether one was removed.

    Idempotent and atomic; works whatever the post's state now (deleted, hidden, blocked).
    """
    _check_actor(user)
    pk = _post_id(post)
    with transaction.atomic():
        row = Post.objects.select_for_update().filter(pk=pk).first()
        if row is None:
            raise PostNotFound()
        target_pk = row.repost_of_id or row.pk
        deleted, _ = Like.objects.filter(user_id=user.pk, post_id=target_pk).delete()
        if deleted:
            _decrement(target_pk, "like_count")
    return bool(deleted)


# --- reposts -----------------------------------------------------------------------------------


def repost_create(user: User, *, post: Post | int) -> Post:
    """``user`` reposts ``post`` (a repost of a repost reposts the original); returns the repost row.

    Idempotent: a live repost by the user is returned as is (one row, one count). Atomic;
    ``repost_count`` + 1. The post must be visible to the user (``PostNotFound``); posts of a
    protected account can only be reposted by their author (``PostNotPermitted``, code
    ``protected``). Subscribers-only posts may be reposted: non-subscribers see the locked card.
    """
    _check_actor(user)
    with transaction.atomic():
        target = _visible_locked(user, post)
        if target.author.is_protected and target.author_id != user.pk:
            raise PostNotPermitted("Posts of protected accounts cannot be reposted.", code="protected")
        existing = Post.objects.filter(author_id=user.pk, repost_of_id=target.pk, deleted_at__isnull=True).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                repost = Post.objects.create(author=user, repost_of=target, text="")
        except IntegrityError:  # a concurrent identical repost won
            return Post.objects.get(author_id=user.pk, repost_of_id=target.pk, deleted_at__isnull=True)
        Post.objects.filter(pk=target.pk).update(repost_count=F("repost_count") + 1)
    return repost


def repost_delete(user: User, *, post: Post | int) -> bool:
    """``user`` undoes their repost of ``post`` (the original, or their repost row); returns whether one was undone.

    Idempotent and atomic: the repost row becomes a tombstone, ``repost_count`` - 1. Works
    whatever the original's state now.
    """
    _check_actor(user)
    pk = _post_id(post)
    with transaction.atomic():
        row = Post.objects.filter(pk=pk).values("repost_of_id").first()
        if row is None:
            raise PostNotFound()
        target_pk = row["repost_of_id"] or pk
        Post.objects.select_for_update().filter(pk=target_pk).first()
        changed = Post.objects.filter(author_id=user.pk, repost_of_id=target_pk, deleted_at__isnull=True).update(
            deleted_at=timezone.now()
        )
        if changed:
            _decrement(target_pk, "repost_count")
    return bool(changed)


__all__ = [
    "HASHTAG_RE",
    "MENTION_RE",
    "PostInvalid",
    "PostNotFound",
    "PostNotPermitted",
    "like_create",
    "like_delete",
    "parse_hashtags",
    "parse_mentions",
    "post_create",
    "post_delete",
    "post_path",
    "repost_create",
    "repost_delete",
    "text_tokens",
    "visible_posts",
]

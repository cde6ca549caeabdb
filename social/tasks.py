"""Celery tasks of the social app (eager in development and tests)."""

from __future__ import annotations

from celery import shared_task
from django.db.models import Q

from accounts.models import Block, Follow
from notifications.services import event_publish

from .models import Post

FAN_OUT_CHUNK = 1_000


@shared_task
def fan_out_new_post(post_id: int) -> int:
    """Push a live ``post.new`` event ``{"post_id", "author"}`` to every follower of a new top-level post's author.

    Followers blocked either way are skipped; nothing is sent for a post that is gone, a reply or
    a repost. Followers are read by id in chunks (keyset), so a large audience never loads at once.
    The event only announces: the timeline fetches the post itself (visibility applies there).
    Returns how many followers were told. Safe to run twice (a duplicate push only re-counts).
    """
    post = (
        Post.objects.select_related("author")
        .filter(pk=post_id, deleted_at__isnull=True, hidden_at__isnull=True, reply_to__isnull=True)
        .filter(repost_of__isnull=True)
        .first()
    )
    if post is None or not post.author.is_active:
        return 0
    author_id = post.author_id
    blocked = Block.objects.filter(Q(blocker_id=author_id) | Q(blocked_id=author_id))
    followers = (
        Follow.objects.filter(followee_id=author_id, follower__is_active=True)
        .exclude(follower_id__in=blocked.filter(blocker_id=author_id).values("blocked_id"))
        .exclude(follower_id__in=blocked.filter(blocked_id=author_id).values("blocker_id"))
        .order_by("follower_id")
    )
    data = {"post_id": post.pk, "author": post.author.handle}
    told = 0
    last = 0
    while True:
        chunk = list(followers.filter(follower_id__gt=last).values_list("follower_id", flat=True)[:FAN_OUT_CHUNK])
        if not chunk:
            break
        for follower_id in chunk:
            event_publish(user_id=follower_id, type="post.new", data=data)
        told += len(chunk)
        last = chunk[-1]
    return told


@shared_task
def renew_due_subscriptions() -> int:
    """Charge due subscription renewals, retry past-due ones, lapse and end what must end (beat: hourly).

    Late acknowledgement is the project default (``CELERY_TASK_ACKS_LATE``): a worker that dies
    mid-run leaves the task to run again, which is safe because renewals are idempotent per period.
    """
    from .services.subscriptions import subscriptions_renew_due

    return subscriptions_renew_due()

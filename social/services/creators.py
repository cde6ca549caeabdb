"""Creator mode and a post's revenue split (who shares its tips).

Creator mode needs no identity verification: it only lets other people tip you (and see your
tiers), and receiving money is open to every account (compliance checks the *sender*: KYC
tier, limits, freezes, region). Cashing out is where the creator's own checks apply.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

from accounts.models import Block
from core.errors import NotFound, NotPermitted, ValidationFailed
from ledger.models import Batch, Transfer
from ledger.services import InsufficientFunds, transfer_reverse
from notifications.models import register_kind
from notifications.services import notify
from payments.models import Payment, PaymentKind, PaymentStatus

from ..models import CreatorProfile, Post, PostAuthor, TipShare
from .posts import post_path

logger = logging.getLogger(__name__)

TAGLINE_MAX_LENGTH = CreatorProfile._meta.get_field("tagline").max_length
SWEEP_KINDS = (PaymentKind.TIP, PaymentKind.SUBSCRIPTION)
#: The sweep shares a creator can choose on the settings page (basis points; 0 = off).
SWEEP_CHOICES_BPS = (0, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000)
MAX_AUTHORS = 10
BPS_TOTAL = 10_000

register_kind("post.coauthor", "{author} added you as a co-author: you get {percent} of the tips on their post")


class InvalidSplit(ValidationFailed):
    code = "invalid_split"
    default_message = "The shares must name different people and add up to 100%."


def creator_profile_for(user) -> CreatorProfile | None:
    """The user's creator profile (on or off), or None if they never turned creator mode on."""
    if user is None or not getattr(user, "pk", None):
        return None
    return CreatorProfile.objects.filter(user_id=user.pk).first()


def is_creator(user) -> bool:
    """True when ``user`` has creator mode on (one query)."""
    if user is None or not getattr(user, "pk", None):
        return False
    return CreatorProfile.objects.filter(user_id=user.pk, is_enabled=True).exists()


def _check_tagline(tagline: object) -> str:
    if tagline is None:
        return ""
    if not isinstance(tagline, str):
        raise ValidationFailed("The tagline must be text.", fields={"tagline": ["Must be text."]})
    tagline = " ".join(tagline.split())
    if "\x00" in tagline:
        raise ValidationFailed(
            "The tagline contains a character that is not allowed.", fields={"tagline": ["Invalid."]}
        )
    if len(tagline) > TAGLINE_MAX_LENGTH:
        raise ValidationFailed(
            f"The tagline is {len(tagline)} characters; the limit is {TAGLINE_MAX_LENGTH}.",
            fields={"tagline": [f"At most {TAGLINE_MAX_LENGTH} characters."]},
        )
    return tagline


def creator_mode_set(user, *, enabled: bool, tagline: str | None = "") -> CreatorProfile:
    """Turn ``user``'s creator mode on or off (and set the tagline; None keeps the current one).

    Who may call: the user themself (an active account). No KYC is needed (see the module
    docstring). Turning it off hides Tip buttons and refuses new tips; tiers, subscriptions
    and past earnings are untouched. Atomic, idempotent (same values, same row).
    """
    if not isinstance(enabled, bool):
        raise ValidationFailed("Say whether creator mode is on.", fields={"enabled": ["Must be true or false."]})
    if not getattr(user, "is_active", False):
        raise NotPermitted("This account cannot turn on creator mode.", code="inactive_account")
    with transaction.atomic():
        profile = CreatorProfile.objects.select_for_update().filter(user_id=user.pk).first()
        if profile is None:
            profile = CreatorProfile(user=user)
        profile.is_enabled = enabled
        if tagline is not None:
            profile.tagline = _check_tagline(tagline)
        profile.save()
        return profile


# --- Savings sweep -------------------------------------------------------------------------


class InvalidSweep(ValidationFailed):
    code = "invalid_sweep"
    default_message = "Choose a share of each earning from 0% to 100%."


def creator_sweep_set(user, *, bps: int) -> CreatorProfile:
    """Set the share of each earning (tip or subscription) swept into savings, in basis points (0 = off).

    Who may call: the creator themself (an active account with a creator profile; turning creator
    mode on creates it). 0–10,000 basis points, whole numbers. A share above 0 needs a savings
    account in the creator's home currency (open one on /savings/ first): without it nothing could
    be swept. Only future earnings are swept. Atomic (the profile row is locked); idempotent.
    """
    from savings.models import SavingsAccount

    if isinstance(bps, bool) or not isinstance(bps, int) or not 0 <= bps <= BPS_TOTAL:
        raise InvalidSweep(fields={"savings_sweep_bps": ["From 0 to 10000."]})
    if not getattr(user, "is_active", False):
        raise NotPermitted("This account cannot change creator settings.", code="inactive_account")
    with transaction.atomic():
        profile = CreatorProfile.objects.select_for_update().filter(user_id=user.pk).first()
        if profile is None:
            raise NotFound("Turn creator mode on first.", code="creator_profile_not_found")
        if bps and not SavingsAccount.objects.filter(user_id=user.pk, currency=user.home_currency).exists():
            raise InvalidSweep(
                f"Open a {user.home_currency} savings account first: the sweep puts money into it.",
                code="savings_account_required",
                fields={"savings_sweep_bps": ["No savings account."]},
            )
        profile.savings_sweep_bps = bps
        profile.save(update_fields=["savings_sweep_bps"])
        return profile


def _sweep_key(payment: Payment) -> str:
    return f"creator-sweep:payment:{payment.pk}"


def creator_sweep_amount(payment: Payment, bps: int) -> int:
    """The sweep of a completed earning: ``bps`` of what the creator kept, floored to minor units.

    What the creator kept = the amount received minus co-authors' tip shares already paid out of it
    (``TipShare`` rows of this payment). Floored: integer division, so a creator never sweeps a
    fraction of a minor unit more than their share (e.g. 10% of 3.33 → 0.33).
    """
    shared = sum(TipShare.objects.filter(payment_id=payment.pk).values_list("amount", flat=True))
    kept = max(payment.received_amount - shared, 0)
    return kept * bps // BPS_TOTAL


def creator_sweep_to_savings(payment: Payment) -> int:
    """Move the creator's chosen share of a completed tip or subscription payment into their savings.

    Runs inside the payment's transaction (``social.receivers`` on ``payment_status_changed``), after
    the tip's co-author shares: the sweep commits or rolls back with the payment. Only when the
    payment is a tip or a subscription charge that is COMPLETED, its recipient has
    ``savings_sweep_bps`` > 0 and a savings account in the received currency. Exactly once per
    payment (ledger idempotency key per payment). Best effort: if the wallet cannot cover it (the
    money was already spent in the same operation), nothing is swept and the payment still
    completes. Returns the minor units swept (0 when nothing moved).
    """
    from savings.models import SavingsAccount
    from savings.services import MOVE_IN, savings_move

    if payment.kind not in SWEEP_KINDS or payment.status != PaymentStatus.COMPLETED:
        return 0
    bps = (
        CreatorProfile.objects.filter(user_id=payment.recipient_id).values_list("savings_sweep_bps", flat=True).first()
    )
    if not bps:
        return 0
    currency = payment.received_currency
    if not SavingsAccount.objects.filter(user_id=payment.recipient_id, currency=currency).exists():
        return 0
    amount = creator_sweep_amount(payment, bps)
    if amount <= 0:
        return 0
    try:
        savings_move(
            payment.recipient, currency=currency, amount=amount, direction=MOVE_IN, internal_key=_sweep_key(payment)
        )
    except InsufficientFunds:
        logger.info("creator sweep of payment %s skipped: not enough in the wallet", payment.pk)
        return 0
    return amount


def creator_sweep_reverse(payment: Payment) -> bool:
    """Bring a returned earning's sweep back from savings to the wallet, before the return itself.

    For ``social.receivers`` on ``payments.signals.payment_returning`` (inside the return's
    transaction): the return needs the whole amount in the creator's wallet. Best effort: if the
    savings no longer hold the swept money, nothing moves here (the return then succeeds only if
    the wallet covers it). Idempotent (a sweep is reversed at most once). True when reversed.
    """
    if payment.kind not in SWEEP_KINDS:
        return False
    from savings.services import savings_ledger_key

    batch = Batch.objects.filter(
        initiator_id=payment.recipient_id, idempotency_key=savings_ledger_key(internal_key=_sweep_key(payment))
    ).first()
    sweep = Transfer.objects.filter(batch=batch).first() if batch else None
    if sweep is None:
        return False
    try:
        transfer_reverse(
            initiator=payment.recipient,
            transfer=sweep,
            kind="creator_sweep_return",
            metadata={"payment": payment.pk},
            idempotency_key=f"{_sweep_key(payment)}:reverse",
        )
    except InsufficientFunds:
        return False
    return True


# --- Revenue split --------------------------------------------------------------------------


def post_authors_of(post: Post) -> list[PostAuthor]:
    """The post's split in position order (empty: the author keeps every tip)."""
    return list(PostAuthor.objects.filter(post_id=post.pk).select_related("user").order_by("position"))


def _resolve_people(people: list) -> list:
    """Users for a list of Users / "@handles" / handles, in order (one query for the handles)."""
    User = get_user_model()
    handles = {}
    for index, person in enumerate(people):
        if isinstance(person, User):
            continue
        if not isinstance(person, str) or not person.strip().removeprefix("@").strip():
            raise InvalidSplit("Name each co-author by their @handle.", fields={f"shares.{index}.user": ["Required."]})
        handles[index] = person.strip().removeprefix("@").strip().lower()[:64]
    found = {user.handle: user for user in User.objects.filter(handle__in=set(handles.values()))} if handles else {}
    resolved = []
    for index, person in enumerate(people):
        user = person if index not in handles else found.get(handles[index])
        if user is None or not user.is_active:
            name = handles.get(index) or getattr(person, "handle", "")
            raise InvalidSplit(
                f"There is no one called @{name[:30]} who can share tips.",
                fields={f"shares.{index}.user": ["Unknown person."]},
            )
        resolved.append(user)
    return resolved


def post_authors_set(author, *, post: Post, shares: list[tuple[object, int]]) -> list[PostAuthor]:
    """Set who shares ``post``'s future tips: ``[(author, bps), (co-author or "@handle", bps), ...]``.

    Who may call: the post's author only (others: 404 if they cannot see it, else 403).
    Rules: position 0 is the author; distinct active people; no block between the author and
    any co-author; each share ≥ 1 basis point; the shares add up to exactly 10,000; at most
    ten people. ``[]`` or ``[(author, 10000)]`` removes the split. Tips already paid are not
    re-split. Atomic: the rows are replaced together (the post row is locked). New
    co-authors are told (``post.coauthor``). Returns the new rows.
    """
    from ..visibility import post_is_visible

    if post.deleted_at is not None or not post_is_visible(author, post):
        raise NotFound("That post does not exist.", code="post_not_found")
    if post.author_id != author.pk:
        raise NotPermitted("Only the post's author can share its tips.", code="not_post_author")
    if post.repost_of_id is not None:
        raise InvalidSplit("A repost has no tips of its own to share.")
    if not isinstance(shares, (list, tuple)):
        raise InvalidSplit("Give the shares as a list.")
    if len(shares) > MAX_AUTHORS:
        raise InvalidSplit(
            f"A post's tips can be shared among at most {MAX_AUTHORS} people.", fields={"shares": ["Too many."]}
        )
    people, points = [], []
    for index, item in enumerate(shares):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise InvalidSplit("Each share is a person and a number of basis points.")
        person, bps = item
        if isinstance(bps, bool) or not isinstance(bps, int) or not 1 <= bps <= BPS_TOTAL:
            raise InvalidSplit(
                "Each share is a whole number of basis points from 1 (0.01%) to 10,000 (100%).",
                fields={f"shares.{index}.bps": ["From 1 to 10000."]},
            )
        people.append(person)
        points.append(bps)
    users = _resolve_people(people)
    if users and users[0].pk != author.pk:
        raise InvalidSplit("You come first in your own post's split.", fields={"shares.0.user": ["Must be you."]})
    ids = [user.pk for user in users]
    if len(set(ids)) != len(ids):
        raise InvalidSplit("Each person can appear only once.", fields={"shares": ["Someone appears twice."]})
    if users and sum(points) != BPS_TOTAL:
        raise InvalidSplit(
            f"The shares add up to {sum(points) / 100:g}%; they must add up to exactly 100%.",
            fields={"shares": ["Must add up to 10000 basis points."]},
        )
    others = ids[1:]
    if (
        others
        and Block.objects.filter(
            Q(blocker_id=author.pk, blocked_id__in=others) | Q(blocker_id__in=others, blocked_id=author.pk)
        ).exists()
    ):
        raise InvalidSplit(
            "You can't share tips with someone you blocked or who blocked you.", fields={"shares": ["Blocked."]}
        )
    with transaction.atomic():
        Post.objects.select_for_update(of=("self",)).filter(pk=post.pk).values_list("pk").first()
        before = set(PostAuthor.objects.filter(post_id=post.pk).values_list("user_id", flat=True))
        PostAuthor.objects.filter(post_id=post.pk).delete()
        if len(users) < 2:
            return []
        rows = PostAuthor.objects.bulk_create(
            [
                PostAuthor(post_id=post.pk, user=user, position=position, share_bps=bps)
                for position, (user, bps) in enumerate(zip(users, points, strict=True))
            ]
        )

        for row in rows[1:]:
            if row.user_id not in before:
                notify(
                    row.user,
                    kind="post.coauthor",
                    data={
                        "author": f"@{author.handle}",
                        "post_id": post.pk,
                        "percent": f"{row.share_bps / 100:g}%",
                        "url": post_path(post.pk),
                    },
                )
        return rows


__all__ = [
    "SWEEP_CHOICES_BPS",
    "InvalidSplit",
    "InvalidSweep",
    "creator_mode_set",
    "creator_profile_for",
    "creator_sweep_amount",
    "creator_sweep_reverse",
    "creator_sweep_set",
    "creator_sweep_to_savings",
    "is_creator",
    "post_authors_of",
    "post_authors_set",
]

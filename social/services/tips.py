"""Tips on posts, and the revenue split that shares them among a post's co-authors.

A tip on a post is an ordinary ``payments`` tip (``tip_send``, target ``"post:<id>"``) plus a
``PostTip`` row pointing at the payment. When that payment completes (at once, or after the
sender's safety delay or a review), ``tip_payment_status_changed`` — called by
``social.receivers`` inside the payment's transaction — moves the co-authors' shares from
the creator's wallet to theirs in one ledger batch and records a ``TipShare`` per co-author.
When the tip is returned, the shares come back first, all or none.
"""

from __future__ import annotations

import logging
import re

from django.contrib.auth import get_user_model
from django.db import transaction

from core.db import retry_on_conflict
from core.errors import NotFound, NotPermitted, ValidationFailed
from core.money import Money, format_money
from ledger.models import Account
from ledger.services import InsufficientFunds, TransferSpec, transfer_reverse, transfers_post
from notifications.models import register_kind
from notifications.services import event_publish, notify
from payments.models import Payment, PaymentKind, PaymentStatus
from payments.services.tips import tip_send
from payments.services.wallet import wallet_account

from ..models import Post, PostAuthor, PostTip, TipShare
from ..visibility import post_is_visible
from .posts import post_path

logger = logging.getLogger(__name__)

register_kind("tip.share", "You got {amount}: your share of {sender}'s tip on a post by {creator}")
register_kind("tip.share_returned", "{creator} returned a tip on your shared post: your {amount} share went back")

BPS_TOTAL = 10_000
POST_TARGET = re.compile(r"post:(\d{1,18})")


class NotACreator(NotPermitted):
    code = "not_a_creator"
    default_message = "This person has not turned on tips."


class TipShareUnavailable(InsufficientFunds):
    code = "tip_share_unavailable"
    default_message = "A co-author no longer has their share of this tip, so it cannot be returned yet."


def post_id_of_target(target: str) -> int | None:
    """42 for a tip target "post:42", else None."""
    match = POST_TARGET.fullmatch(target or "")
    return int(match.group(1)) if match else None


# --- Sending --------------------------------------------------------------------------------


def post_tip_check(sender, *, post: Post) -> Post:
    """The post ``sender`` would tip (a repost tips its original), or the reason not.

    Raises NotFound (404) when the post is gone, hidden or not visible to the sender
    (blocks, protected accounts: never say which), NotPermitted for their own post,
    NotACreator when its author has creator mode off. At most three queries.
    """
    if post.repost_of_id is not None:
        post = Post.objects.select_related("author").filter(pk=post.repost_of_id).first() or post
    if post.deleted_at is not None or post.hidden_at is not None or not post_is_visible(sender, post):
        raise NotFound("That post does not exist.", code="post_not_found")
    if post.author_id == sender.pk:
        raise NotPermitted("You cannot tip your own post.", code="own_post")
    from .creators import is_creator

    if not is_creator(post.author):
        raise NotACreator(f"@{post.author.handle} has not turned on tips.")
    return post


@retry_on_conflict
def post_tip_send(sender, *, post: Post, amount: Money, note: str = "", idempotency_key: str | None = None) -> PostTip:
    """Tip ``post``'s author ``amount`` (any currency; converted to theirs) with an optional note.

    Who may call: a signed-in user on a post they can see, whose author is a creator, not
    their own. Guarantees: atomic (payment, ledger postings, the creator's ``tip.received``
    notification and the ``PostTip`` row commit together); idempotent by (sender, key): a
    replay returns the same ``PostTip`` and moves nothing. Raises what ``post_tip_check``
    raises and everything ``payments.services.tips.tip_send`` refuses (insufficient
    funds, limits, frozen, blocked...). The returned tip's ``payment`` may be completed,
    arriving (safety delay) or in review; shares go to co-authors when it completes.
    """
    post = post_tip_check(sender, post=post)
    with transaction.atomic():
        payment = tip_send(
            sender,
            creator=post.author,
            amount=amount,
            note=note,
            target=f"post:{post.pk}",
            idempotency_key=idempotency_key,
        )
        tip, _ = PostTip.objects.get_or_create(
            payment=payment,
            defaults={
                "post": post,
                "sender": sender,
                "amount": payment.received_amount,
                "currency": payment.received_currency,
                # The split confirmed by the sender applies even if the tip completes later.
                "shares": list(
                    PostAuthor.objects.filter(post=post).order_by("position").values_list("user_id", "share_bps")
                ),
            },
        )
        tip.payment = payment
        return tip


# --- Splitting ------------------------------------------------------------------------------


def split_amounts(amount: int, shares_bps: list[int]) -> list[int]:
    """Split ``amount`` minor units by ``shares_bps`` (summing to 10,000): position 0 is the first author.

    Every other position gets floor(amount × bps / 10,000) (less than one minor unit under
    its exact proportion); the first author gets the rest, so the parts always add up to
    ``amount`` exactly and the leftover minor units go to the first author (at or above
    their exact proportion, by less than one unit per co-author). Pure; no queries.
    """
    if not shares_bps or sum(shares_bps) != BPS_TOTAL or any(bps < 1 for bps in shares_bps):
        raise ValidationFailed("Shares must be positive and add up to 100%.", code="invalid_split")
    if amount < 0:
        raise ValidationFailed("A tip cannot be negative.", code="invalid_amount")
    others = [amount * bps // BPS_TOTAL for bps in shares_bps[1:]]
    return [amount - sum(others), *others]


def tip_payment_status_changed(payment: Payment, status: str) -> None:
    """React to a tip's payment reaching ``status`` (``social.receivers``, inside its transaction).

    COMPLETED on "post:<id>" with co-authors: distribute the shares (exactly once).
    RETURNED: bring the shares back first (all or none; raises TipShareUnavailable,
    which rolls the return back, if a co-author no longer has theirs).
    """
    if payment.kind != PaymentKind.TIP:
        return
    post_id = post_id_of_target(payment.tip_target)
    if post_id is None:
        return
    if status == PaymentStatus.COMPLETED:
        tip_shares_distribute(payment, post_id=post_id)
    elif status == PaymentStatus.RETURNED:
        tip_shares_reverse(payment)


def _lock_wallets(wallets: list[Account]) -> None:
    """Lock every wallet a multi-call operation touches, in the ledger's ascending id order."""
    ids = sorted({wallet.pk for wallet in wallets})
    list(Account.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk").values_list("pk"))


def tip_shares_distribute(payment: Payment, *, post_id: int) -> list[TipShare]:
    """Move the co-authors' shares of a completed tip out of the creator's wallet. System call.

    Only for a tip whose recipient is the post's author and whose post has a split; the
    shares are computed on ``payment.received_amount`` (the creator's currency) by
    ``split_amounts``. Atomic and exactly once per payment: the payment row is locked, a
    payment that already has ``TipShare`` rows is left alone, and the ledger batch has a
    per-payment key. Each co-author with a non-zero share is notified (``tip.share``).
    """
    with transaction.atomic():
        locked = Payment.objects.select_for_update(of=("self",)).filter(pk=payment.pk).values_list("status").first()
        if locked is None or locked[0] != PaymentStatus.COMPLETED:
            return []
        if TipShare.objects.filter(payment_id=payment.pk).exists():
            return []
        # The split in force when the tip was sent (kept on its PostTip), else the post's current one
        # (an instant tip completes before its PostTip row exists, with the split of that moment).
        snapshot = PostTip.objects.filter(payment_id=payment.pk).values_list("shares", flat=True).first()
        if snapshot is not None:  # [] when the post had no split then
            rows = [(int(user_id), int(bps)) for user_id, bps in snapshot]
        else:
            rows = list(
                PostAuthor.objects.filter(post_id=post_id).order_by("position").values_list("user_id", "share_bps")
            )
        if len(rows) < 2 or rows[0][0] != payment.recipient_id:
            return []  # no split, or a "post:<id>" tip paid to someone else: the recipient keeps it
        if not Post.objects.filter(pk=post_id, author_id=payment.recipient_id).exists():
            return []
        people = get_user_model().objects.in_bulk([user_id for user_id, _ in rows])
        amounts = split_amounts(payment.received_amount, [bps for _, bps in rows])
        currency = payment.received_currency
        creator = people[rows[0][0]]
        creator_wallet = wallet_account(creator, currency)
        coauthors = [(people[user_id], amount) for (user_id, _), amount in zip(rows[1:], amounts[1:], strict=True)]
        paid = [(user, amount) for user, amount in coauthors if amount > 0]
        transfers = []
        if paid:
            specs = [
                TransferSpec(
                    debit=creator_wallet,
                    credit=wallet_account(user, currency),
                    amount=amount,
                    currency=currency,
                    kind="tip_share",
                    metadata={"payment": payment.pk, "post": post_id},
                )
                for user, amount in paid
            ]
            transfers = transfers_post(
                initiator=creator, transfers=specs, idempotency_key=f"tip:{payment.pk}:shares", operation="tip_share"
            )
        by_user = {user.pk: transfer for (user, _), transfer in zip(paid, transfers, strict=True)}
        shares = TipShare.objects.bulk_create(
            [
                TipShare(
                    payment_id=payment.pk,
                    post_id=post_id,
                    user_id=user.pk,
                    amount=amount,
                    currency=currency,
                    transfer=by_user.get(user.pk),
                )
                for user, amount in coauthors
            ]
        )
        sender_handle = Payment.objects.filter(pk=payment.pk).values_list("sender__handle", flat=True).first()
        for user, amount in paid:
            notify(
                user,
                kind="tip.share",
                data={
                    "payment_id": payment.pk,
                    "post_id": post_id,
                    "amount": format_money(amount, currency),
                    "sender": f"@{sender_handle}",
                    "creator": f"@{creator.handle}",
                    "url": post_path(post_id),
                },
            )
            event_publish(user_id=user.pk, type="balance.changed", data={})
        if paid:
            event_publish(user_id=creator.pk, type="balance.changed", data={})
        return shares


def tip_shares_reverse(payment: Payment) -> list[TipShare]:
    """Bring a tip's shares back from the co-authors to the creator, all or none. System call.

    Idempotent: shares already reversed are skipped. Raises TipShareUnavailable (nothing
    moves, and the caller's transaction — the return — rolls back) when a co-author no
    longer has their share. Co-authors are told (``tip.share_returned``).
    """
    with transaction.atomic():
        shares = list(
            TipShare.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(payment_id=payment.pk, transfer__isnull=False, reversal__isnull=True)
            .order_by("id")
        )
        if not shares:
            return []
        creator = payment.recipient
        _lock_wallets(
            [wallet_account(creator, shares[0].currency)] + [wallet_account(s.user, s.currency) for s in shares]
        )
        for share in shares:
            try:
                share.reversal = transfer_reverse(
                    initiator=creator,
                    transfer=share.transfer_id,
                    kind="tip_share_return",
                    metadata={"payment": payment.pk, "post": share.post_id},
                    idempotency_key=f"tip:{payment.pk}:share:{share.user_id}:return",
                )
            except InsufficientFunds:
                raise TipShareUnavailable(
                    f"@{share.user.handle} no longer has their {format_money(share.amount, share.currency)} share "
                    "of this tip, so it cannot be returned yet. Ask them to keep it in their wallet, then try again.",
                    fields={"payment": ["A co-author's share is no longer available."]},
                ) from None
            share.save(update_fields=["reversal"])
        for share in shares:
            notify(
                share.user,
                kind="tip.share_returned",
                data={
                    "payment_id": payment.pk,
                    "post_id": share.post_id,
                    "amount": format_money(share.amount, share.currency),
                    "creator": f"@{creator.handle}",
                    "url": post_path(share.post_id),
                },
            )
            event_publish(user_id=share.user_id, type="balance.changed", data={})
        return shares


__all__ = [
    "NotACreator",
    "TipShareUnavailable",
    "post_id_of_target",
    "post_tip_check",
    "post_tip_send",
    "split_amounts",
    "tip_payment_status_changed",
    "tip_shares_distribute",
    "tip_shares_reverse",
]

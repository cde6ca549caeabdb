"""Money inside a thread: pay, request, pay with protection (escrow) and split, as cards.

Each ``thread_*`` service checks, in one transaction:

1. the caller's ACTIVE membership of the conversation (``ConversationNotFound``, a 404,
   for anyone else: a stranger never learns the conversation exists);
2. the counterparty: in a 1:1 the other person; in a group an active member other than
   the caller (``ValidationFailed`` naming them otherwise);
3. blocks, either way (``accounts.selectors.is_blocked_between``): ``MessagingNotAllowed``;

then calls the ``payments`` service and posts the money card with
``messaging.services.message_post_card`` in the SAME transaction, so the money and its
card commit together or not at all (a refused card rolls the payment back). Payments
never import messaging (DESIGN §2): messaging calls payments, then references what it
made from the message.

Idempotency: ``thread_pay`` and ``thread_escrow`` pass the form's key to the payments
service; a replay returns the card already posted for that payment/escrow (one card per
money movement, never two). Requests and splits are made idempotent by the HTML views'
``@idempotent`` key.

What a card shows is computed from the referenced object's CURRENT status
(``card_view``), never stored on the message. ``cards_decorate(messages, viewer)`` loads
what every card of a page needs in a fixed number of queries. Actions on a card
(``card_action``) call the payments services and then ``message_card_changed`` so every
member's open page re-renders that card; the people involved also get the payments'
own ``payment.*`` / ``request.updated`` / ``escrow.updated`` events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts.selectors import blocked_ids, is_blocked_between
from core.db import retry_on_conflict
from core.errors import NotFound, ValidationFailed
from core.money import Money, format_money
from payments.models import (
    EscrowStatus,
    Payment,
    PaymentRequest,
    PaymentStatus,
    RequestStatus,
    SplitMethod,
)
from payments.services.escrow import (
    escrow_create,
    escrow_dispute_open,
    escrow_link_register,
    escrow_refund_by_seller,
    escrow_release,
)
from payments.services.requests import (
    effective_status,
    request_cancel,
    request_create,
    request_decline,
    request_pay,
    split_create,
    split_preview,
)
from payments.services.send import payment_cancel, payment_return, payment_send

from . import services
from .models import ConversationKind, Membership, Message, MessageKind

CARD_KINDS = (MessageKind.PAYMENT, MessageKind.REQUEST, MessageKind.ESCROW, MessageKind.SPLIT)
NEW_ACCOUNT_AGE = timedelta(days=30)


class CardNotFound(NotFound):
    code = "card_not_found"
    default_message = "That payment card does not exist."


def _conversation_url(pk) -> str:
    try:
        return reverse("messaging:conversation", args=[int(pk)])
    except (NoReverseMatch, TypeError, ValueError):
        return ""


# Escrow notifications link back to the conversation they were made in ("conversation:<id>").
escrow_link_register("conversation", _conversation_url)


# --- Checks -----------------------------------------------------------------------------------------


def _membership(user, conversation) -> Membership:
    """The caller's active membership (ConversationNotFound otherwise; hidden-by-block counts as absent)."""
    return services.membership_for(user, conversation)


def _active_members(conversation_id: int) -> list:
    return [
        m.user
        for m in Membership.objects.filter(conversation_id=conversation_id, is_active=True)
        .select_related("user")
        .order_by("id")
    ]


def _check_not_blocked(user, other, *, doing: str) -> None:
    if is_blocked_between(user, other):
        raise services.MessagingNotAllowed(f"You can't {doing} @{other.handle}.", code="blocked")


def _resolve_member(user, conversation, value, *, field_name: str, members: dict | None = None):
    """A member of a group from a User, an id or "@handle": active, not the caller, else ValidationFailed.

    ``members`` ({id: user} of the active members) lets a caller resolving several people load them once.
    """
    User = get_user_model()
    if members is None:
        members = {u.pk: u for u in _active_members(conversation.pk)}
    person = None
    if isinstance(value, User):
        person = members.get(value.pk)
        label = f"@{value.handle}"
    elif isinstance(value, int) and not isinstance(value, bool):
        person = members.get(value)
        label = f"#{value}"
    elif isinstance(value, str) and value.strip().removeprefix("@").strip():
        handle = value.strip().removeprefix("@").strip().lower()
        person = next((u for u in members.values() if u.handle == handle), None)
        label = f"@{handle[:30]}"
    else:
        raise ValidationFailed("Choose a member of the group.", fields={field_name: ["Required."]})
    if person is None or not person.is_active:
        raise ValidationFailed(f"{label} is not a member of this group.", fields={field_name: ["Not a member."]})
    if person.pk == user.pk:
        raise ValidationFailed("Choose someone other than yourself.", fields={field_name: ["That is you."]})
    return person


def counterparty(user, membership: Membership, to=None, *, doing: str = "pay"):
    """Who the caller deals with in this thread: the other person of a 1:1, or a chosen group member.

    Refuses a block either way (MessagingNotAllowed) and anyone who is not an active
    member of a group (ValidationFailed). In a 1:1, ``to`` may be omitted; if given it
    must be the other person.
    """
    conversation = membership.conversation
    if conversation.kind == ConversationKind.DIRECT:
        other = services.other_member(conversation, user)
        if other is None or not other.is_active:
            raise services.MessagingNotAllowed("This person can't receive money.", code="counterparty_inactive")
        if to is not None and to != "":
            handle = getattr(to, "handle", None) or (
                to.strip().removeprefix("@").strip().lower() if isinstance(to, str) else None
            )
            same = (getattr(to, "pk", None) == other.pk) or (handle == other.handle) or (to == other.pk)
            if not same:
                raise ValidationFailed(
                    f"In this conversation you can only {doing} @{other.handle}.", fields={"to": ["Not in this chat."]}
                )
    else:
        other = _resolve_member(user, conversation, to, field_name="to")
    _check_not_blocked(user, other, doing=doing)
    return other


def _card_for_existing(**lookup) -> Message | None:
    return Message.objects.filter(**lookup).order_by("id").first()


# --- Thread services --------------------------------------------------------------------------------


@retry_on_conflict
def thread_pay(
    user, *, conversation, to=None, amount: Money, note: str = "", idempotency_key: str | None = None
) -> Message:
    """Pay a member of the conversation from the thread; returns the payment card.

    1:1: the other person (``to`` optional); group: ``to`` must be another active member.
    Atomic: the payment (``payments.services.send.payment_send``: limits, funds, FX to the
    recipient's home currency, safety delay, review) and its card commit together.
    Idempotent by (user, key): a replay returns the card already posted and moves nothing.
    Raises ConversationNotFound (404) for non-members, MessagingNotAllowed on a block,
    and whatever ``payment_send`` raises.
    """
    with transaction.atomic():
        membership = _membership(user, conversation)
        other = counterparty(user, membership, to, doing="pay")
        payment = payment_send(user, to=other, amount=amount, note=note, idempotency_key=idempotency_key)
        existing = _card_for_existing(payment=payment)
        if existing is not None:
            return existing
        return services.message_post_card(
            user, conversation=membership.conversation_id, kind=MessageKind.PAYMENT, body=payment.note, payment=payment
        )


def request_payers(user, membership: Membership, payers=None) -> list:
    """Who a request in this thread goes to: the other person of a 1:1, or chosen group members."""
    conversation = membership.conversation
    if isinstance(payers, str):
        payers = [part for part in payers.replace(",", " ").split() if part]
    if conversation.kind == ConversationKind.DIRECT:
        if payers and len(payers) > 1:
            raise ValidationFailed(
                "In a 1:1 conversation you can only ask the other person.", fields={"payers": ["One person."]}
            )
        return [counterparty(user, membership, payers[0] if payers else None, doing="ask")]
    if not payers:
        raise ValidationFailed("Choose who should pay.", fields={"payers": ["Required."]})
    people, seen = [], set()
    members = {u.pk: u for u in _active_members(conversation.pk)}  # once, not per payer
    apart = blocked_ids(user).all
    for value in payers:
        person = _resolve_member(user, conversation, value, field_name="payers", members=members)
        if person.pk in seen:
            continue
        if person.pk in apart:
            raise services.MessagingNotAllowed(f"You can't ask @{person.handle}.", code="blocked")
        seen.add(person.pk)
        people.append(person)
    return people


def thread_request(user, *, conversation, amount: Money, note: str = "", payers=None) -> list[Message]:
    """Ask for money in the thread: one request (and one card) per payer.

    1:1: the other person; group: ``payers`` (Users, ids or "@handles"), each an active
    member other than the caller, none blocked either way. Atomic: the requests and their
    cards together. Raises ConversationNotFound, ValidationFailed, MessagingNotAllowed and
    whatever ``request_create`` raises (frozen account, amount...).
    """
    with transaction.atomic():
        membership = _membership(user, conversation)
        people = request_payers(user, membership, payers)
        made = request_create(user, payers=people, amount=amount, note=note)
        return [
            services.message_post_card(
                user,
                conversation=membership.conversation_id,
                kind=MessageKind.REQUEST,
                body=row.note,
                payment_request=row,
            )
            for row in made
        ]


@retry_on_conflict
def thread_escrow(
    user, *, conversation, amount: Money, description: str, idempotency_key: str | None = None
) -> Message:
    """Pay the other person of a 1:1 with protection: the money is held until released (escrow card).

    1:1 only (a group answers ValidationFailed). Atomic and idempotent by key like
    ``thread_pay``; ``payments.services.escrow.escrow_create`` does the sender checks and
    the ledger hold; the escrow's context is "conversation:<id>".
    """
    with transaction.atomic():
        membership = _membership(user, conversation)
        if membership.conversation.kind != ConversationKind.DIRECT:
            raise ValidationFailed(
                "Pay with protection works in a 1:1 conversation: open one with the seller.", code="escrow_needs_direct"
            )
        seller = counterparty(user, membership, doing="pay")
        escrow = escrow_create(
            user,
            seller=seller,
            amount=amount,
            description=description,
            context=f"conversation:{membership.conversation_id}",
            idempotency_key=idempotency_key,
        )
        existing = _card_for_existing(escrow=escrow)
        if existing is not None:
            return existing
        return services.message_post_card(
            user,
            conversation=membership.conversation_id,
            kind=MessageKind.ESCROW,
            body=escrow.description,
            escrow=escrow,
        )


def split_participants(user, membership: Membership) -> list:
    """The group's other active members a split asks, leaving out anyone blocked either way."""
    if membership.conversation.kind != ConversationKind.GROUP:
        raise ValidationFailed("Split a bill in a group conversation.", code="split_needs_group")
    apart = blocked_ids(user).all
    people = [u for u in _active_members(membership.conversation_id) if u.pk != user.pk and u.is_active]
    people = [u for u in people if u.pk not in apart]
    if not people:
        raise ValidationFailed("There is no one else in this group to split with.", code="split_nobody")
    return people


def thread_split_preview(
    user, *, conversation, title: str, total: Money, method: str = SplitMethod.EQUAL, shares=None, include_me=True
):
    """Each member's share, without creating anything (the confirm step). Same rules as ``thread_split``."""
    membership = _membership(user, conversation)
    people = split_participants(user, membership)
    return split_preview(
        user, title=title, total=total, participants=people, method=method, shares=shares, include_me=include_me
    )


def thread_split(
    user,
    *,
    conversation,
    title: str,
    total: Money,
    method: str = SplitMethod.EQUAL,
    shares: dict | None = None,
    include_me: bool = True,
) -> Message:
    """Split a bill among the group's active members (one request each); returns the split card.

    Groups only. Members blocked either way are left out. Atomic: the split, its requests
    and the card together. The card shows every member's share and who has paid.
    """
    with transaction.atomic():
        membership = _membership(user, conversation)
        people = split_participants(user, membership)
        split = split_create(
            user, title=title, total=total, participants=people, method=method, shares=shares, include_me=include_me
        )
        return services.message_post_card(
            user, conversation=membership.conversation_id, kind=MessageKind.SPLIT, body=split.title, split=split
        )


# --- Cards: who sees what -------------------------------------------------------------------------


@dataclass
class CardAction:
    name: str
    label: str
    url: str
    method: str = "post"  # "post": a one-click form (with a confirm prompt); "get": a page
    confirm: str = ""
    style: str = "secondary"


@dataclass
class SplitRow:
    request: PaymentRequest
    payer: object
    amount: str
    status: str
    status_label: str
    is_viewer: bool
    actions: list[CardAction] = field(default_factory=list)


@dataclass
class CardView:
    """What the card partial renders for one viewer (computed, never stored)."""

    message: Message
    kind: str
    icon: str
    title: str
    amount: str
    status: str  # paid, arriving, in_review, declined, returned, cancelled, requested, expired,
    # held, disputed, released, refunded, open, settled
    status_label: str
    tone: str  # success, warning, muted, danger, primary
    detail: str = ""
    note: str = ""
    hint: str = ""  # scam hint for a payer who never paid the requester
    is_open: bool = False
    actions: list[CardAction] = field(default_factory=list)
    rows: list[SplitRow] = field(default_factory=list)
    paid_count: int = 0
    data: dict = field(default_factory=dict)  # data-* attributes for thread_money.js


def _url(name: str, *args) -> str:
    return reverse(f"messaging:{name}", args=args)


def _when(moment) -> str:
    """A moment in the active (the viewer's) time zone: "Mar 5, 14:30"."""
    return date_format(timezone.localtime(moment), "M j, H:i")


def _payment_card(message: Message, viewer) -> CardView:
    p = message.payment
    me = viewer.pk
    sent, got = format_money(p.amount, p.currency), format_money(p.received_amount, p.received_currency)
    is_sender, is_recipient = p.sender_id == me, p.recipient_id == me
    if is_sender:
        title = f"You paid @{p.recipient.handle}"
    elif is_recipient:
        title = f"@{p.sender.handle} paid you"
    else:
        title = f"@{p.sender.handle} paid @{p.recipient.handle}"
    amount = got if is_recipient else sent
    detail = f"Arrives as {got}" if p.is_fx and not is_recipient else ""
    status = p.status
    states = {
        PaymentStatus.COMPLETED: ("paid", "Paid", "success"),
        PaymentStatus.ARRIVING: ("arriving", "Arriving", "warning"),
        PaymentStatus.IN_REVIEW: ("in_review", "Being reviewed", "warning"),
        PaymentStatus.RETURNED: ("returned", "Returned", "muted"),
        PaymentStatus.CANCELLED: ("cancelled", "Cancelled", "muted"),
        PaymentStatus.REJECTED: ("declined", "Not sent", "muted"),
    }
    key, label, tone = states.get(status, (status, status.title(), "muted"))
    if status == PaymentStatus.IN_REVIEW and not is_sender:
        # The recipient is never told about a risk review (payments.selectors.HIDDEN_FROM_RECIPIENT).
        key, label = "arriving", "On its way"
    elif status == PaymentStatus.ARRIVING and p.release_at:
        detail = " · ".join(filter(None, [detail, f"arrives {_when(p.release_at)}"]))
    elif status == PaymentStatus.IN_REVIEW:
        detail = "Held for a quick review before it is sent"
    actions = []
    if is_recipient and status == PaymentStatus.COMPLETED:
        actions.append(
            CardAction(
                "return",
                "Return",
                _url("card_action", message.pk, "return"),
                confirm=f"Send {got} back to @{p.sender.handle}?",
            )
        )
    if is_sender and status == PaymentStatus.ARRIVING:
        actions.append(
            CardAction(
                "cancel",
                "Cancel",
                _url("card_action", message.pk, "cancel"),
                confirm=f"Cancel this payment to @{p.recipient.handle}? The money stays in your wallet.",
            )
        )
    return CardView(
        message=message,
        kind="payment",
        icon="💸",
        title=title,
        amount=amount,
        status=key,
        status_label=label,
        tone=tone,
        detail=detail,
        note=p.note,
        is_open=status in (PaymentStatus.ARRIVING, PaymentStatus.IN_REVIEW),
        actions=actions,
        data={"payment-id": p.pk},
    )


REQUEST_STATES = {
    RequestStatus.OPEN: ("requested", "Requested", "primary"),
    RequestStatus.PAID: ("paid", "Paid", "success"),
    RequestStatus.DECLINED: ("declined", "Declined", "muted"),
    RequestStatus.CANCELLED: ("cancelled", "Cancelled", "muted"),
    RequestStatus.EXPIRED: ("expired", "Expired", "muted"),
}


def _request_actions(message: Message, r: PaymentRequest, viewer, status: str) -> list[CardAction]:
    if status != RequestStatus.OPEN:
        return []
    amount = format_money(r.amount, r.currency)
    if r.payer_id == viewer.pk:
        return [
            CardAction(
                "pay", f"Pay {amount}", _url("card_request_pay", message.pk, r.pk), method="get", style="primary"
            ),
            CardAction(
                "decline",
                "Decline",
                _url("card_request_action", message.pk, r.pk, "decline"),
                confirm=f"Decline @{r.requester.handle}'s request for {amount}?",
            ),
        ]
    if r.requester_id == viewer.pk:
        return [
            CardAction(
                "cancel",
                "Cancel request",
                _url("card_request_action", message.pk, r.pk, "cancel"),
                confirm=f"Cancel your request to @{r.payer.handle}?",
                style="ghost",
            )
        ]
    return []


def _scam_hint(requester) -> str:
    return (
        f"You have never paid @{requester.handle}. Only pay requests from people you know: "
        "scammers send requests that look like bills, refunds or prizes."
    )


def _request_card(message: Message, viewer, paid_before: set[int] | None) -> CardView:
    r = message.payment_request
    status = effective_status(r)
    key, label, tone = REQUEST_STATES.get(status, (status, status.title(), "muted"))
    amount = format_money(r.amount, r.currency)
    if r.requester_id == viewer.pk:
        title = f"You asked @{r.payer.handle}"
    elif r.payer_id == viewer.pk:
        title = f"@{r.requester.handle} asked you"
    else:
        title = f"@{r.requester.handle} asked @{r.payer.handle}"
    hint = ""
    if status == RequestStatus.OPEN and r.payer_id == viewer.pk:
        never = (
            r.requester_id not in paid_before
            if paid_before is not None
            else not _paid_before_ids(viewer, {r.requester_id})
        )
        if never:
            hint = _scam_hint(r.requester)
        label = "Waiting for you"
    elif status == RequestStatus.OPEN:
        label = f"Waiting for @{r.payer.handle}"
    return CardView(
        message=message,
        kind="request",
        icon="🧾",
        title=title,
        amount=amount,
        status=key,
        status_label=label,
        tone=tone,
        note=r.note,
        hint=hint,
        is_open=status == RequestStatus.OPEN,
        actions=_request_actions(message, r, viewer, status),
        data={"request-ids": str(r.pk)},
    )


def _escrow_card(message: Message, viewer) -> CardView:
    e = message.escrow
    amount = format_money(e.amount, e.currency)
    is_buyer, is_seller = e.buyer_id == viewer.pk, e.seller_id == viewer.pk
    if is_buyer:
        title = f"You paid @{e.seller.handle} with protection"
    elif is_seller:
        title = f"@{e.buyer.handle} paid you with protection"
    else:
        title = f"@{e.buyer.handle} paid @{e.seller.handle} with protection"
    states = {
        EscrowStatus.HELD: ("held", "Held", "warning"),
        EscrowStatus.DISPUTED: ("disputed", "Disputed", "danger"),
        EscrowStatus.RELEASED: ("released", "Released", "success"),
        EscrowStatus.REFUNDED: ("refunded", "Refunded", "muted"),
    }
    key, label, tone = states.get(e.status, (e.status, e.status.title(), "muted"))
    protected = e.status == EscrowStatus.HELD and e.auto_release_at > timezone.now()
    if e.status == EscrowStatus.HELD and not protected:
        detail = "The 7-day protection has ended: it is being released automatically"
    elif e.status == EscrowStatus.HELD:
        detail = f"Released when @{e.buyer.handle} confirms, or automatically on {_when(e.auto_release_at)}"
    elif e.status == EscrowStatus.DISPUTED:
        detail = "A dispute is open: our team will decide who gets the money"
    elif e.status == EscrowStatus.RELEASED:
        detail = f"@{e.seller.handle} has the money"
    else:
        detail = f"The money went back to @{e.buyer.handle}"
    actions = []
    dispute = CardAction("dispute", "Open dispute", _url("card_dispute", message.pk), method="get", style="ghost")
    if e.status == EscrowStatus.HELD and is_buyer:
        actions.append(
            CardAction(
                "release",
                "Release",
                _url("card_action", message.pk, "release"),
                confirm=f"Release {amount} to @{e.seller.handle}? Do this once you have what you paid for.",
                style="primary",
            )
        )
        if protected:
            actions.append(dispute)
    if is_seller and e.status in (EscrowStatus.HELD, EscrowStatus.DISPUTED):
        if protected:
            actions.append(dispute)
        actions.append(
            CardAction(
                "refund",
                "Refund",
                _url("card_action", message.pk, "refund"),
                confirm=f"Give {amount} back to @{e.buyer.handle}?",
            )
        )
    return CardView(
        message=message,
        kind="escrow",
        icon="🛡️",
        title=title,
        amount=amount,
        status=key,
        status_label=label,
        tone=tone,
        detail=detail,
        note=e.description,
        is_open=e.status in (EscrowStatus.HELD, EscrowStatus.DISPUTED),
        actions=actions,
        data={"escrow-id": e.pk},
    )


def _split_card(message: Message, viewer, paid_before: set[int] | None) -> CardView:
    s = message.split
    requests = list(s.requests.all())
    rows, paid, open_ids = [], 0, []
    for r in requests:
        status = effective_status(r)
        key, label, _ = REQUEST_STATES.get(status, (status, status.title(), "muted"))
        if status == RequestStatus.PAID:
            paid += 1
        if status == RequestStatus.OPEN:
            open_ids.append(r.pk)
        rows.append(
            SplitRow(
                request=r,
                payer=r.payer,
                amount=format_money(r.amount, r.currency),
                status=key,
                status_label=label,
                is_viewer=r.payer_id == viewer.pk,
                actions=_request_actions(message, r, viewer, status) if r.payer_id == viewer.pk else [],
            )
        )
    settled = not open_ids
    creator = "You" if s.creator_id == viewer.pk else f"@{s.creator.handle}"
    hint = ""
    mine_open = any(row.is_viewer and row.status == "requested" for row in rows)
    if mine_open and s.creator_id != viewer.pk:
        never = (
            s.creator_id not in paid_before if paid_before is not None else not _paid_before_ids(viewer, {s.creator_id})
        )
        if never:
            hint = _scam_hint(s.creator)
    detail = f"{paid} of {len(rows)} paid"
    if s.creator_share:
        whose = "Your" if s.creator_id == viewer.pk else f"@{s.creator.handle}'s"
        detail += f" · {whose} own share {format_money(s.creator_share, s.currency)}"
    return CardView(
        message=message,
        kind="split",
        icon="➗",
        title=f"{creator} split a bill",
        amount=format_money(s.total, s.currency),
        status="settled" if settled else "open",
        status_label="Settled" if settled else f"{paid} of {len(rows)} paid",
        tone="success" if settled and paid == len(rows) else ("muted" if settled else "primary"),
        detail=detail,
        note=s.title,
        hint=hint,
        is_open=not settled,
        rows=rows,
        paid_count=paid,
        data={"split-id": s.pk, "request-ids": " ".join(str(r.pk) for r in requests)},
    )


def card_view(message: Message, viewer, *, paid_before: set[int] | None = None) -> CardView | None:
    """The card of a money message as ``viewer`` sees it, or None if it is not one (or is deleted).

    ``paid_before``: ids of people ``viewer`` has paid (from ``cards_decorate``); without it one
    query is made for a request the viewer has to pay.
    """
    if message.kind not in CARD_KINDS or message.deleted_at is not None:
        return None
    if message.kind == MessageKind.PAYMENT and message.payment_id:
        return _payment_card(message, viewer)
    if message.kind == MessageKind.REQUEST and message.payment_request_id:
        return _request_card(message, viewer, paid_before)
    if message.kind == MessageKind.ESCROW and message.escrow_id:
        return _escrow_card(message, viewer)
    if message.kind == MessageKind.SPLIT and message.split_id:
        return _split_card(message, viewer, paid_before)
    return None


def _paid_before_ids(viewer, ids: set[int]) -> set[int]:
    """Which of ``ids`` the viewer has completed a payment to (returned ones count: they arrived)."""
    if not ids:
        return set()
    return set(
        Payment.objects.filter(
            sender_id=viewer.pk, recipient_id__in=ids, status__in=[PaymentStatus.COMPLETED, PaymentStatus.RETURNED]
        )
        .values_list("recipient_id", flat=True)
        .distinct()
    )


def cards_decorate(messages, viewer) -> list:
    """Set ``m.card`` (a CardView or None) on each message, in a fixed number of queries.

    Loads the parties of every payment, request, escrow and split (with each split's
    requests and payers) with ``prefetch_related_objects`` — one query per relation,
    whatever the number of messages — and, once, the people the viewer has paid (for
    the scam hint on requests). Call it on every list of messages a page renders.
    """
    messages = list(messages)
    cards = [m for m in messages if m.kind in CARD_KINDS and m.deleted_at is None]
    for m in messages:
        m.card = None
    if not cards:
        return messages
    prefetch_related_objects(
        cards,
        "payment__sender",
        "payment__recipient",
        "payment_request__requester",
        "payment_request__payer",
        "escrow__buyer",
        "escrow__seller",
        "split__creator",
        Prefetch(
            "split__requests", queryset=PaymentRequest.objects.select_related("payer", "requester").order_by("id")
        ),
    )
    asking = set()
    for m in cards:
        if m.payment_request_id and m.payment_request.payer_id == viewer.pk:
            asking.add(m.payment_request.requester_id)
        if m.split_id and m.split.creator_id != viewer.pk:
            asking.add(m.split.creator_id)
    paid_before = _paid_before_ids(viewer, asking)
    for m in cards:
        m.card = card_view(m, viewer, paid_before=paid_before)
    return messages


# --- Cards: acting on them ------------------------------------------------------------------------


def card_for(user, message_id) -> Message:
    """A money card of a conversation the user is an active member of, else CardNotFound (404)."""
    try:
        message, _ = services.message_for(user, message_id)
    except NotFound:
        raise CardNotFound() from None
    if message.kind not in CARD_KINDS or message.deleted_at is not None:
        raise CardNotFound()
    return (
        Message.objects.select_related("conversation", "sender", "payment", "payment_request", "escrow", "split")
        .filter(pk=message.pk)
        .first()
    )


def card_request(message: Message, request_id) -> PaymentRequest:
    """A request shown on this card (its own, or one of its split's), else CardNotFound."""
    try:
        pk = int(request_id)
    except (TypeError, ValueError):
        raise CardNotFound() from None
    if message.payment_request_id == pk:
        return message.payment_request
    if message.split_id:
        row = (
            PaymentRequest.objects.select_related("requester", "payer").filter(pk=pk, split_id=message.split_id).first()
        )
        if row is not None:
            return row
    raise CardNotFound()


CARD_ACTIONS = ("return", "cancel", "release", "refund", "dispute", "request_pay", "request_decline", "request_cancel")


@retry_on_conflict
def card_action(
    user,
    *,
    message,
    action: str,
    request_id=None,
    reason: str = "",
    idempotency_key: str | None = None,
) -> object:
    """Act on a money card from the thread: the payments service decides who may do what.

    - payment: "return" (the recipient, completed), "cancel" (the sender, arriving);
    - escrow: "release" (the buyer, held), "dispute" (either, held; ``reason`` required),
      "refund" (the seller, held or disputed);
    - request (the card's, or a split's row ``request_id``): "request_pay" (the payer,
      idempotent by key), "request_decline" (the payer), "request_cancel" (the requester).

    Atomic: the action and a ``message.updated`` for the card to every member (so the
    whole group sees who has paid) commit together. Non-members get CardNotFound (404);
    a party who may not do it gets the payments service's NotPermitted/NotFound; a second
    attempt gets its Conflict (already returned, released...). Returns what the service returned.
    """
    if action not in CARD_ACTIONS:
        raise CardNotFound("That is not something you can do with this card.")
    with transaction.atomic():
        card = card_for(user, message)
        result = _dispatch(user, card, action, request_id=request_id, reason=reason, idempotency_key=idempotency_key)
        services.message_card_changed(card)
        return result


def _dispatch(user, card: Message, action: str, *, request_id, reason: str, idempotency_key):
    if action in ("return", "cancel") and card.kind == MessageKind.PAYMENT:
        fn = payment_return if action == "return" else payment_cancel
        return fn(user, payment=card.payment_id)
    if action in ("release", "refund", "dispute") and card.kind == MessageKind.ESCROW:
        if action == "release":
            return escrow_release(user, escrow=card.escrow_id)
        if action == "refund":
            return escrow_refund_by_seller(user, escrow=card.escrow_id)
        return escrow_dispute_open(user, escrow=card.escrow_id, reason=reason)
    if action.startswith("request_") and card.kind in (MessageKind.REQUEST, MessageKind.SPLIT):
        row = card_request(card, request_id if request_id is not None else card.payment_request_id)
        if action == "request_pay":
            return request_pay(user, request=row.pk, idempotency_key=idempotency_key)
        if action == "request_decline":
            return request_decline(user, request=row.pk)
        return request_cancel(user, request=row.pk)
    raise CardNotFound("That is not something you can do with this card.")


def is_new_account(user) -> bool:
    return timezone.now() - user.date_joined < NEW_ACCOUNT_AGE


__all__ = [
    "CARD_ACTIONS",
    "CARD_KINDS",
    "CardNotFound",
    "CardView",
    "card_action",
    "card_for",
    "card_request",
    "card_view",
    "cards_decorate",
    "counterparty",
    "request_payers",
    "split_participants",
    "thread_escrow",
    "thread_pay",
    "thread_request",
    "thread_split",
    "thread_split_preview",
]

"""Tips: a small payment to a creator, saying what it was for.

Social (tips on posts), messaging (tips in a conversation) and the creator's tip
page (``/@handle/tip``) all call ``tip_send``; it is an ordinary ``payment_send``
of kind "tip", so limits, FX, safety delays, reviews, returns and idempotency
work exactly as for any payment.
"""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.db import transaction

from core.db import retry_on_conflict
from core.errors import ValidationFailed
from core.money import Money, format_money
from notifications.models import Notification, register_kind
from notifications.services import notify

from ..models import Payment, PaymentKind, PaymentStatus
from .send import RecipientInvalid, payment_send

TIP_TARGET_MAX_LENGTH = 64
# "profile", "post:12", "message:abc-1", "stream:2024_05": a word, optionally ":" and an id.
TIP_TARGET = re.compile(r"[a-z][a-z0-9_]{0,31}(:[A-Za-z0-9_.\-]{1,30})?")

register_kind("tip.received", "{sender} tipped you {amount}")


def _creator_resolve(sender, creator) -> object:
    User = get_user_model()
    if isinstance(creator, User):
        user = creator
    elif isinstance(creator, str):
        handle = creator.strip().removeprefix("@").strip().lower()
        user = User.objects.filter(handle=handle).first() if handle else None
        if user is None:
            raise RecipientInvalid(f"There is no one called @{handle[:30]}.", fields={"to": ["Unknown person."]})
    else:
        raise RecipientInvalid("Choose who to tip.", fields={"to": ["Required."]})
    if not user.is_active:
        raise RecipientInvalid("That person cannot receive tips.", fields={"to": ["Unknown person."]})
    if user.pk == sender.pk:
        raise RecipientInvalid("You cannot tip yourself.", fields={"to": ["That is you."]})
    return user


def tip_target_check(target: object) -> str:
    """ "" (nothing in particular), "profile", or "<kind>:<id>" such as "post:12"; else ValidationFailed."""
    if target is None:
        return ""
    if not isinstance(target, str):
        raise ValidationFailed("The tip target must be text.", fields={"target": ["Must be text."]})
    target = target.strip()
    if target and (len(target) > TIP_TARGET_MAX_LENGTH or not TIP_TARGET.fullmatch(target)):
        raise ValidationFailed(
            'The tip target looks like "profile" or "post:12".', fields={"target": ["Not a valid target."]}
        )
    return target


@retry_on_conflict
def tip_send(
    sender,
    *,
    creator,
    amount: Money,
    note: str = "",
    target: str = "",
    idempotency_key: str | None = None,
) -> Payment:
    """Tip ``creator`` (a User or "@handle") ``amount`` for ``target`` (e.g. "post:12", "profile").

    For callers in other apps (social, messaging): pass the signed-in sender,
    the creator, a ``Money`` and what was tipped; pass the client's idempotency
    key so a retried request tips once. Returns the ``Payment`` (kind "tip",
    ``tip_target`` = target); it may be completed, arriving (the sender's safety
    delay) or in review, like any payment.

    Guarantees: atomic (payment, ledger postings and the creator's
    ``tip.received`` notification commit together); idempotent by
    (sender, key): a replay returns the first payment, moves nothing and does
    not notify again. Refuses tipping yourself (RecipientInvalid, 400), a bad
    target (ValidationFailed) and everything ``payment_send`` refuses
    (InsufficientFunds, limits, frozen accounts, unknown currencies...).
    """
    recipient = _creator_resolve(sender, creator)
    target = tip_target_check(target)
    with transaction.atomic():
        payment = payment_send(
            sender,
            to=recipient,
            amount=amount,
            note=note,
            kind=PaymentKind.TIP,
            tip_target=target,
            idempotency_key=idempotency_key,
        )
        if payment.status == PaymentStatus.COMPLETED and not _already_announced(payment):
            notify(
                recipient,
                kind="tip.received",
                data={
                    "payment_id": payment.pk,
                    "sender": f"@{sender.handle}",
                    "amount": format_money(payment.received_amount, payment.received_currency),
                    "note": payment.note,
                    "target": payment.tip_target,
                    "url": _tip_url(payment),
                },
            )
        return payment


def _tip_url(payment: Payment) -> str:
    """Where the creator's notification leads: the tipped post, else the payment."""
    kind, _, ident = payment.tip_target.partition(":")
    if kind == "post" and ident.isdigit():
        return f"/posts/{ident}"
    return f"/wallet/payments/{payment.pk}/"


def _already_announced(payment: Payment) -> bool:
    # A replay (same key) returns the first payment: its notification already exists.
    return Notification.objects.filter(
        recipient_id=payment.recipient_id, kind="tip.received", data__payment_id=payment.pk
    ).exists()

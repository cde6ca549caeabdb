"""Helpers for cards tests: a card with its (test-only) clear details, merchants, purchases.

``card_for(user)`` issues a card directly (no eligibility checks) and returns it with two extra,
unsaved attributes, ``plain_number`` and ``plain_cvv``, so a test can pay with it.
"""

from __future__ import annotations

import itertools

from payments.vault import vault_decrypt

from ..models import Card, CardStatus, IssueReason, Merchant
from ..network import card_authorize, merchant_create
from ..services import _card_create, _last_unreplaced

_ids = itertools.count(1)


def card_for(
    user,
    *,
    status: str = CardStatus.ACTIVE,
    per_purchase: int | None = None,
    daily: int | None = None,
    reason: str = IssueReason.REQUESTED,
) -> Card:
    """An open card for ``user`` (whatever their tier and balance), with ``plain_number``/``plain_cvv``."""
    card = _card_create(user, reason=reason, replaces=_last_unreplaced(user))
    changed = []
    if per_purchase is not None:
        card.per_purchase_limit = per_purchase
        changed.append("per_purchase_limit")
    if daily is not None:
        card.daily_limit = daily
        changed.append("daily_limit")
    if status != CardStatus.ACTIVE:
        card.status = status
        changed.append("status")
        if status == CardStatus.CANCELLED:
            from django.utils import timezone

            card.cancelled_at = timezone.now()
            changed.append("cancelled_at")
    if changed:
        card.save(update_fields=changed)
    return with_details(card)


def with_details(card: Card) -> Card:
    """Attach ``plain_number`` and ``plain_cvv`` (decrypted, in memory only) to ``card``."""
    card.plain_number = vault_decrypt(card.number_encrypted)
    card.plain_cvv = vault_decrypt(card.cvv_encrypted)
    return card


def merchant(name: str = "Test Shop", category_code: str = "5999") -> Merchant:
    """A merchant; its API key is attached as ``merchant.api_key`` (unsaved attribute)."""
    made, key = merchant_create(name=name, category_code=category_code)
    made.api_key = key
    return made


def network_id(prefix: str = "ntx") -> str:
    """A fresh network transaction id."""
    return f"{prefix}-{next(_ids)}"


def authorize(shop: Merchant, card: Card, amount: int, *, ntid: str | None = None, **overrides) -> dict:
    """Authorise ``amount`` cents on ``card`` at ``shop`` with the card's real details unless overridden."""
    fields = {
        "number": card.plain_number,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "cvv": card.plain_cvv,
        "amount": amount,
        "currency": "USD",
        "merchant_name": shop.name,
        "category_code": None,
        "network_transaction_id": ntid or network_id("auth"),
    }
    fields.update(overrides)
    return card_authorize(shop, **fields)


__all__ = ["authorize", "card_for", "merchant", "network_id", "with_details"]

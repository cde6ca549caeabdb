"""Guessing a card's security details: the fifth wrong expiry or CVV in a day freezes the card."""

from __future__ import annotations

import pytest

from cards.models import CardStatus, DeclineReason
from cards.network import WRONG_DETAILS_LIMIT, card_authorize
from cards.tests.factories import card_for, merchant, network_id
from notifications.models import Notification
from payments.tests.factories import fund, sender_user

pytestmark = pytest.mark.django_db


def _try(shop, card, *, cvv: str, month: int | None = None) -> dict:
    return card_authorize(
        shop,
        number=card.plain_number,
        exp_month=month or card.exp_month,
        exp_year=card.exp_year,
        cvv=cvv,
        amount=500,
        currency="USD",
        merchant_name="Guess Shop",
        category_code=None,
        network_transaction_id=network_id(),
    )


def _wrong(card) -> str:
    return "000" if card.plain_cvv != "000" else "111"


def test_the_fifth_wrong_security_detail_freezes_the_card_and_tells_the_holder():
    holder = sender_user("guessed")
    fund(holder, "200.00")
    card = card_for(holder)
    shop = merchant("Guess Shop")
    for attempt in range(WRONG_DETAILS_LIMIT - 1):
        month = (card.exp_month % 12) + 1 if attempt == 0 else None  # a wrong expiry counts too
        answer = _try(shop, card, cvv=_wrong(card), month=month)
        assert answer["approved"] is False
        card.refresh_from_db()
        assert card.status == CardStatus.ACTIVE
    assert _try(shop, card, cvv=_wrong(card))["decline_reason"] == DeclineReason.WRONG_CVV
    card.refresh_from_db()
    assert card.status == CardStatus.FROZEN and card.frozen_at is not None
    assert Notification.objects.filter(recipient=holder, kind="card.frozen_for_safety").count() == 1
    # Now even the right details are refused until the holder unfreezes the card.
    assert _try(shop, card, cvv=card.plain_cvv)["decline_reason"] == DeclineReason.FROZEN


def test_right_details_between_wrong_ones_do_not_freeze_below_the_limit():
    holder = sender_user("typo")
    fund(holder, "200.00")
    card = card_for(holder)
    shop = merchant("Typo Shop")
    for _ in range(WRONG_DETAILS_LIMIT - 2):
        _try(shop, card, cvv=_wrong(card))
    assert _try(shop, card, cvv=card.plain_cvv)["approved"] is True
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE

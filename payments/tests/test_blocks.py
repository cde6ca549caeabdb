"""Blocking (accounts) stops payments, tips and requests between two people, either way."""

import pytest

from accounts.social import BlockedError, block_create, block_delete
from core.money import Money
from payments.services.requests import request_create, split_create
from payments.services.send import payment_send
from payments.services.tips import tip_send

from .factories import balance


@pytest.mark.django_db
@pytest.mark.parametrize("who_blocks", ["sender", "recipient"])
def test_a_block_either_way_stops_payments_tips_and_requests(alice, bob, who_blocks):
    blocker, blocked = (alice, bob) if who_blocks == "sender" else (bob, alice)
    block_create(blocker, blocked=blocked)
    with pytest.raises(BlockedError) as err:
        payment_send(alice, to="@bob", amount=Money.parse("5.00", "USD"))
    assert err.value.message == "You can't pay @bob."  # the same words whoever blocked
    with pytest.raises(BlockedError):
        tip_send(alice, creator=bob, amount=Money.parse("1.00", "USD"), target="profile")
    with pytest.raises(BlockedError):
        request_create(alice, payers=["@bob"], amount=Money.parse("5.00", "USD"))
    with pytest.raises(BlockedError):
        split_create(alice, title="Dinner", total=Money.parse("10.00", "USD"), participants=["@bob"], method="equal")
    assert balance(alice) == 100000 and balance(bob) == 100000

    block_delete(blocker, blocked=blocked)
    payment_send(alice, to="@bob", amount=Money.parse("5.00", "USD"))
    assert balance(bob) == 100500

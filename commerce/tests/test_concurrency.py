"""Races on PostgreSQL (real row locks): the last item sells once; a release happens once."""

from __future__ import annotations

import pytest

from commerce.models import ListingStatus, Order, OrderStatus
from commerce.services import checkout_pay, order_confirm_received, order_release, order_ship
from commerce.services.checkout import SoldOut
from commerce.services.orders import OrderNotOpen
from core.testing import run_threads, skip_unless_postgres
from ledger.models import AccountKind, Transfer
from ledger.services import system_account
from payments.tests.factories import balance

from .factories import ADDRESS, buyer_user, make_listing, make_order, seller_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_n_buyers_for_the_last_item_make_exactly_one_order():
    skip_unless_postgres()
    carol = seller_user("carol")
    last = make_listing(carol.shop, title="Last mug", price="12.00", stock=1)
    buyers = [buyer_user(f"buyer{i}", funds="50.00") for i in range(6)]

    def buy(i):
        return checkout_pay(buyers[i], buy_now=(last.pk, 1), address=ADDRESS, idempotency_key=f"race-{i}")

    results, errors = run_threads(len(buyers), buy)
    assert len(results) == 1
    assert len(errors) == 5
    # Losers either raced the conditional UPDATE (SoldOut) or arrived after it committed (checked up front).
    assert all(isinstance(e, SoldOut) or getattr(e, "code", "") == "checkout_problem" for e in errors)
    assert all("sold out" in e.message.lower() for e in errors)
    last.refresh_from_db()
    assert (last.stock, last.status) == (0, ListingStatus.SOLD_OUT)
    assert Order.objects.count() == 1
    winner = Order.objects.get().buyer
    assert sorted(balance(b) for b in buyers) == [5000 - 1200] + [5000] * 5
    assert balance(winner) == 3800
    escrow = system_account(AccountKind.ESCROW, "USD")
    escrow.refresh_from_db()
    assert escrow.credits_posted - escrow.debits_posted == 1200
    assert Transfer.objects.filter(kind="order_pay").count() == 1


def test_confirm_and_auto_release_racing_release_once():
    skip_unless_postgres()
    carol = seller_user("carol")
    bob = buyer_user("bob", funds="50.00")
    order = make_order(bob, make_listing(carol.shop, price="20.00", stock=3))
    order_ship(carol, order=order)

    def act(i):
        return order_confirm_received(bob, order=order.pk) if i % 2 else order_release(order.pk)

    results, errors = run_threads(6, act)
    assert len(results) == 1
    assert len(errors) == 5 and all(isinstance(e, OrderNotOpen) for e in errors)
    order.refresh_from_db()
    assert order.status == OrderStatus.RELEASED
    assert balance(carol) == 1950
    assert Transfer.objects.filter(kind="order_release").count() == 1

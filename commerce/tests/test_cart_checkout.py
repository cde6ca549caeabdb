"""Cart and checkout: one order per seller in one ledger batch, stock, FX, idempotency, refusals."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.social import block_create
from commerce.models import CartItem, Checkout, ListingStatus, Order
from commerce.services import (
    cart_add,
    cart_groups,
    cart_remove,
    cart_set_quantity,
    checkout_pay,
    checkout_quote,
    shop_suspend,
)
from commerce.services.cart import NotEnoughStock
from commerce.services.checkout import AddressInvalid, CartEmpty, CheckoutProblem, SoldOut
from core.errors import IdempotencyKeyReused, NotFound, NotPermitted, ValidationFailed
from core.money import Money
from ledger.models import AccountKind, Batch, Transfer
from ledger.services import InsufficientFunds, system_account
from payments.services.fx import fx_quote
from payments.tests.factories import balance, load_test_rates, sender_user

from .factories import ADDRESS, buyer_user, make_listing, make_order, private_media, seller_user  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]


def escrow(currency="USD") -> int:
    account = system_account(AccountKind.ESCROW, currency)
    account.refresh_from_db()
    return account.credits_posted - account.debits_posted


@pytest.fixture
def carol():
    return seller_user("carol")


@pytest.fixture
def dave():
    return seller_user("dave")


@pytest.fixture
def bob():
    return buyer_user("bob", funds="100.00")


def test_cart_add_merges_and_checks(carol, bob):
    mug = make_listing(carol.shop, title="Mug", price="12.00", stock=3)
    item = cart_add(bob, listing=mug, quantity=2)
    assert item.quantity == 2
    with pytest.raises(NotEnoughStock) as error:
        cart_add(bob, listing=mug, quantity=2)  # 4 > 3 in stock
    assert "Only 3" in error.value.message
    assert cart_set_quantity(bob, listing=mug, quantity=3).quantity == 3
    assert cart_set_quantity(bob, listing=mug, quantity=0) is None
    assert not CartItem.objects.filter(user=bob).exists()
    cart_add(bob, listing=mug.pk)
    cart_remove(bob, listing=mug)
    assert not CartItem.objects.filter(user=bob).exists()
    for bad in (0, -1, 100, "2", True):
        with pytest.raises(ValidationFailed):
            cart_add(bob, listing=mug, quantity=bad)


def test_cannot_add_own_drafts_blocked_or_suspended(carol, dave, bob):
    own = make_listing(carol.shop)
    with pytest.raises(NotPermitted):
        cart_add(carol, listing=own)
    draft = make_listing(carol.shop, status=ListingStatus.DRAFT)
    with pytest.raises(NotFound):
        cart_add(bob, listing=draft)
    with pytest.raises(NotFound):
        cart_add(bob, listing=10**9)
    block_create(dave, blocked=bob)
    with pytest.raises(NotPermitted):
        cart_add(bob, listing=make_listing(dave.shop))
    staff = sender_user("staffer", is_staff=True)
    shop_suspend(staff, shop=carol.shop, reason="Counterfeits")
    with pytest.raises(Exception) as error:
        cart_add(bob, listing=own)
    assert error.value.code == "not_buyable"


def test_multi_seller_cart_becomes_one_order_per_seller_in_one_batch(carol, dave, bob, django_assert_max_num_queries):
    mug = make_listing(carol.shop, title="Mug", price="12.00", stock=3, shipping="3.00")
    cup = make_listing(carol.shop, title="Cup", price="4.00", stock=3, shipping="1.00")
    record = make_listing(dave.shop, title="Record", price="20.00", stock=1)
    cart_add(bob, listing=mug, quantity=2)
    cart_add(bob, listing=cup)
    cart_add(bob, listing=record)
    with django_assert_max_num_queries(3):
        groups = cart_groups(bob)
    assert [(g.shop, g.subtotal, g.shipping, g.total, g.problems) for g in groups] == [
        (carol.shop, 2800, 400, 3200, []),
        (dave.shop, 2000, 0, 2000, []),
    ]
    quote = checkout_quote(bob, address=ADDRESS)
    assert (quote.pay_currency, quote.pay_total, quote.fx_rate, quote.needs_address) == ("USD", 5200, None, True)

    batches = Batch.objects.count()
    orders = checkout_pay(bob, address=ADDRESS, idempotency_key="cart-1")
    assert Batch.objects.count() == batches + 1  # all orders in ONE ledger batch
    assert Batch.objects.order_by("-id").first().idempotency_key == f"checkout:{orders[0].checkout_id}:pay"
    assert [(o.shop, o.total) for o in orders] == [(carol.shop, 3200), (dave.shop, 2000)]
    assert {o.checkout_id for o in orders} == {orders[0].checkout_id}
    assert balance(bob) == 10000 - 5200
    assert escrow() == 5200
    assert not CartItem.objects.filter(user=bob).exists()
    record.refresh_from_db()
    assert (record.stock, record.status) == (0, ListingStatus.SOLD_OUT)
    mug.refresh_from_db()
    assert mug.stock == 1


def test_replayed_checkout_key_returns_the_same_orders_and_moves_nothing(carol, bob):
    mug = make_listing(carol.shop, price="12.00", stock=5)
    first = checkout_pay(bob, buy_now=(mug.pk, 1), address=ADDRESS, idempotency_key="k1")
    transfers = Transfer.objects.count()
    again = checkout_pay(bob, buy_now=(mug.pk, 1), address=ADDRESS, idempotency_key="k1")
    assert [o.pk for o in again] == [o.pk for o in first]
    assert Transfer.objects.count() == transfers
    assert balance(bob) == 10000 - 1200
    with pytest.raises(IdempotencyKeyReused):
        checkout_pay(bob, buy_now=(mug.pk, 2), address=ADDRESS, idempotency_key="k1")
    assert Checkout.objects.filter(buyer=bob).count() == 1
    mug.refresh_from_db()
    assert mug.stock == 4


def test_refusals_move_no_money(carol, bob):
    mug = make_listing(carol.shop, price="12.00", stock=1, ships_to=["FR", "DE"])
    with pytest.raises(CartEmpty):
        checkout_pay(bob, address=ADDRESS, idempotency_key="e")
    with pytest.raises(AddressInvalid):
        checkout_pay(bob, buy_now=(mug.pk, 1), address=None, idempotency_key="a")
    with pytest.raises(AddressInvalid) as error:
        checkout_pay(bob, buy_now=(mug.pk, 1), address=ADDRESS, idempotency_key="b")  # US: not shipped there
    assert "does not ship to" in error.value.message
    with pytest.raises(ValidationFailed):
        checkout_pay(bob, buy_now=(mug.pk, 1), address={**ADDRESS, "country": "XX"}, idempotency_key="c")
    with pytest.raises(CheckoutProblem):
        checkout_pay(bob, buy_now=(mug.pk, 2), address={**ADDRESS, "country": "FR"}, idempotency_key="d")
    poor = buyer_user("poor", funds="1.00")
    with pytest.raises(InsufficientFunds) as error:
        checkout_pay(poor, buy_now=(mug.pk, 1), address={**ADDRESS, "country": "FR"}, idempotency_key="f")
    assert "$1.00 available" in error.value.message
    mug.refresh_from_db()
    assert mug.stock == 1 and mug.status == ListingStatus.ACTIVE  # the failed payment rolled the stock back
    with pytest.raises(NotPermitted):
        checkout_pay(carol, buy_now=(mug.pk, 1), address={**ADDRESS, "country": "FR"}, idempotency_key="g")
    assert not Order.objects.exists()
    assert escrow() == 0
    assert balance(bob) == 10000


def test_sold_out_between_quote_and_pay_names_the_item(carol, bob):
    mug = make_listing(carol.shop, title="Last mug", price="12.00", stock=1)
    make_order(buyer_user("first"), mug)
    with pytest.raises(CheckoutProblem) as error:  # already sold out when checked
        checkout_pay(bob, buy_now=(mug.pk, 1), address=ADDRESS, idempotency_key="x")
    assert "Last mug" in error.value.message
    assert balance(bob) == 10000


def test_stock_race_lost_after_the_quote_fails_the_whole_checkout(carol, dave, bob, monkeypatch):
    """The conditional UPDATE is the real guard: simulate another buyer winning after the checks."""
    mug = make_listing(carol.shop, title="Mug", price="12.00", stock=1)
    record = make_listing(dave.shop, title="Record", price="20.00", stock=5)
    cart_add(bob, listing=record)
    cart_add(bob, listing=mug)
    from commerce.services import checkout as checkout_module

    real = checkout_module.checkout_quote

    def quote_then_someone_buys(*args, **kwargs):
        quote = real(*args, **kwargs)
        type(mug).objects.filter(pk=mug.pk).update(stock=0)
        return quote

    monkeypatch.setattr(checkout_module, "checkout_quote", quote_then_someone_buys)
    with pytest.raises(SoldOut) as error:
        checkout_pay(bob, address=ADDRESS, idempotency_key="race")
    assert "“Mug” sold out" in error.value.message
    assert not Order.objects.exists()
    record.refresh_from_db()
    assert record.stock == 5  # the other line's reservation rolled back too
    assert balance(bob) == 10000
    assert CartItem.objects.filter(user=bob).count() == 2


def test_fx_checkout_pays_the_smallest_amount_that_covers_the_total(carol):
    load_test_rates()
    eur_seller = seller_user("pierre", currency="EUR", country="FR")
    scarf = make_listing(eur_seller.shop, title="Scarf", price="9.00", currency="EUR", stock=2, shipping="1.00")
    bob = buyer_user("bob", funds="100.00")  # USD only
    quote = checkout_quote(bob, buy_now=(scarf.pk, 1), address=ADDRESS)
    assert quote.pay_currency == "USD" and quote.is_fx
    pay = quote.pay_total
    # Smallest: converting it covers €10.00; one cent less does not.
    assert fx_quote(send=Money(pay, "USD"), to_currency="EUR").receive.amount >= 1000
    assert fx_quote(send=Money(pay - 1, "USD"), to_currency="EUR").receive.amount < 1000
    assert quote.fx_rate is not None
    (order,) = checkout_pay(bob, buy_now=(scarf.pk, 1), address=ADDRESS, idempotency_key="fx")
    assert (order.currency, order.total, order.paid_currency, order.paid_amount) == ("EUR", 1000, "USD", pay)
    assert balance(bob) == 10000 - pay
    assert escrow("EUR") == 1000
    assert escrow("USD") == 0
    fx_in = system_account(AccountKind.FX_POOL, "USD")
    fx_in.refresh_from_db()
    assert fx_in.credits_posted - fx_in.debits_posted == pay


def test_a_buyer_holding_the_currency_pays_in_it_and_may_choose_another(carol):
    load_test_rates()
    eur_seller = seller_user("pierre", currency="EUR", country="FR")
    scarf = make_listing(eur_seller.shop, price="9.00", currency="EUR", stock=5)
    bob = buyer_user("bob", funds="100.00")
    from payments.tests.factories import fund

    fund(bob, "50.00", "EUR")
    assert checkout_quote(bob, buy_now=(scarf.pk, 1), address=ADDRESS).pay_currency == "EUR"
    chosen = checkout_quote(bob, buy_now=(scarf.pk, 1), address=ADDRESS, pay_currency="USD")
    assert chosen.pay_currency == "USD" and chosen.pay_total > 900


def test_cart_groups_runs_a_fixed_number_of_queries(bob):
    for n in range(4):
        seller = seller_user(f"seller{n}")
        cart_add(bob, listing=make_listing(seller.shop))
    with CaptureQueriesContext(connection) as four:
        cart_groups(bob)
    cart_add(bob, listing=make_listing(seller_user("seller9").shop))
    with CaptureQueriesContext(connection) as five:
        groups = cart_groups(bob)
    assert len(groups) == 5
    assert len(five.captured_queries) == len(four.captured_queries) <= 2


def test_blocked_and_suspended_sellers_cannot_be_bought_from_at_checkout(carol, dave, bob):
    record = make_listing(dave.shop, title="Record", price="20.00", stock=5)
    mug = make_listing(carol.shop, title="Mug", price="12.00", stock=5)
    cart_add(bob, listing=record)
    block_create(bob, blocked=dave)  # after it was put in the cart
    with pytest.raises(NotPermitted):
        checkout_pay(bob, address=ADDRESS, idempotency_key="blocked")
    with pytest.raises(NotPermitted):
        checkout_pay(bob, buy_now=(record.pk, 1), address=ADDRESS, idempotency_key="blocked2")
    shop_suspend(sender_user("staffer", is_staff=True), shop=carol.shop, reason="Review")
    with pytest.raises(CheckoutProblem) as error:
        checkout_pay(bob, buy_now=(mug.pk, 1), address=ADDRESS, idempotency_key="suspended")
    assert "not selling" in error.value.message
    assert [g.problems for g in cart_groups(bob)] == [["You can't buy from dave's shop."]]
    assert not Order.objects.exists() and balance(bob) == 10000

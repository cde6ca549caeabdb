"""Escrow: pay → ship → confirm / auto-release / digital download; access rules; each exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from commerce import tasks
from commerce.models import OrderEvent, OrderStatus
from commerce.services import (
    order_confirm_received,
    order_download,
    order_for_party,
    order_release,
    order_ship,
    orders_auto_release_due,
)
from commerce.services.orders import OrderNotOpen
from core.errors import NotFound, NotPermitted
from ledger.models import AccountKind, Transfer
from ledger.services import system_account
from notifications.models import Notification
from payments.tests.factories import balance, sender_user

from .factories import buyer_user, make_listing, make_order, private_media, seller_user  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]


def system_balance(kind, currency="USD") -> int:
    account = system_account(kind, currency)
    account.refresh_from_db()
    return account.credits_posted - account.debits_posted


@pytest.fixture
def carol():
    return seller_user("carol")


@pytest.fixture
def bob():
    return buyer_user("bob", funds="100.00")


@pytest.fixture
def mug(carol):
    return make_listing(carol.shop, title="Everything mug", price="12.00", stock=2, shipping="3.00")


def test_paying_puts_the_total_in_escrow_and_tells_the_seller(carol, bob, mug):
    order = make_order(bob, mug)
    assert order.status == OrderStatus.PAID
    assert (order.subtotal, order.shipping, order.total) == (1200, 300, 1500)
    assert order.fee_bps == 250 and order.paid_amount == 1500 and order.paid_currency == "USD"
    assert balance(bob) == 10000 - 1500
    assert system_balance(AccountKind.ESCROW) == 1500
    mug.refresh_from_db()
    assert mug.stock == 1
    assert Notification.objects.filter(recipient=carol, kind="order.paid").count() == 1
    assert list(order.events.values_list("status", flat=True)) == [OrderStatus.PAID]
    item = order.items.get()
    assert (item.title, item.unit_price, item.quantity, item.shipping) == ("Everything mug", 1200, 1, 300)
    assert (order.ship_city, str(order.ship_country)) == ("Springfield", "US")


def test_ship_then_confirm_releases_price_minus_fee_exactly_once(carol, bob, mug):
    order = make_order(bob, mug)
    shipped = order_ship(carol, order=order, carrier="UPS", tracking_number="1Z999")
    assert shipped.status == OrderStatus.SHIPPED
    assert shipped.auto_release_at - shipped.shipped_at == timedelta(days=14)
    assert Notification.objects.filter(recipient=bob, kind="order.shipped").count() == 1

    released = order_confirm_received(bob, order=order)
    assert released.status == OrderStatus.RELEASED
    assert (released.fee, released.released) == (38, 1462)  # 2.5% of 15.00 = 0.375 → 0.38
    assert balance(carol) == 1462
    assert system_balance(AccountKind.ESCROW) == 0
    assert system_balance(AccountKind.FEES) == 38
    assert released.delivered_at is not None
    assert Notification.objects.filter(recipient=carol, kind="order.released").count() == 1

    transfers = Transfer.objects.count()
    with pytest.raises(OrderNotOpen):
        order_confirm_received(bob, order=order)
    with pytest.raises(OrderNotOpen):
        order_release(order)
    assert Transfer.objects.count() == transfers
    assert balance(carol) == 1462
    assert list(OrderEvent.objects.filter(order=order).values_list("status", flat=True)) == [
        OrderStatus.PAID,
        OrderStatus.SHIPPED,
        OrderStatus.RELEASED,
    ]


def test_only_the_seller_ships_and_only_the_buyer_confirms(carol, bob, mug):
    order = make_order(bob, mug)
    stranger = sender_user("mallory")
    with pytest.raises(NotPermitted):
        order_ship(bob, order=order)
    with pytest.raises(NotFound):
        order_ship(stranger, order=order)
    with pytest.raises(NotPermitted):
        order_confirm_received(carol, order=order)
    with pytest.raises(NotFound):
        order_confirm_received(stranger, order=order.pk)
    order_ship(carol, order=order)
    with pytest.raises(OrderNotOpen):
        order_ship(carol, order=order)
    assert balance(carol) == 0


def test_order_for_party(carol, bob, mug):
    order = make_order(bob, mug)
    assert order_for_party(bob, order.pk) == order
    assert order_for_party(carol, order.pk) == order
    for who, pk in [(sender_user("eve"), order.pk), (bob, order.pk + 1000), (bob, "1"), (bob, True)]:
        with pytest.raises(NotFound):
            order_for_party(who, pk)


def test_auto_release_fourteen_days_after_shipping(carol, bob, mug):
    order = make_order(bob, mug)
    unshipped = make_order(bob, mug)  # never shipped: never auto-released
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        order_ship(carol, order=order)
    with time_machine.travel(start + timedelta(days=13, hours=23), tick=False):
        assert tasks.auto_release_due_orders() == 0
    with time_machine.travel(start + timedelta(days=14, minutes=1), tick=False):
        assert tasks.auto_release_due_orders() == 1
        assert orders_auto_release_due() == 0  # exactly once
    order.refresh_from_db()
    unshipped.refresh_from_db()
    assert order.status == OrderStatus.RELEASED and order.delivered_at is not None
    assert unshipped.status == OrderStatus.PAID
    assert balance(carol) == 1462
    assert system_balance(AccountKind.ESCROW) == 1500  # the unshipped order's money


def test_digital_order_releases_on_first_download_by_the_buyer_only(carol, bob):
    album = make_listing(carol.shop, title="Album", price="5.00", kind="digital", stock=None)
    order = make_order(bob, album)
    assert order.is_digital and order.auto_release_at is not None
    item = order.items.get()
    with pytest.raises(NotFound):
        order_download(carol, item=item)
    with pytest.raises(NotFound):
        order_download(sender_user("eve"), item=item.pk)
    downloaded = order_download(bob, item=item)
    assert downloaded.downloaded_at is not None
    assert downloaded.listing.digital_file.read().startswith(b"the digital goods")
    order.refresh_from_db()
    assert order.status == OrderStatus.RELEASED
    assert balance(carol) == 500 - 13  # 2.5% of 5.00 = 0.125 → 0.13
    transfers = Transfer.objects.count()
    order_download(bob, item=item)  # a second download is fine and moves nothing
    assert Transfer.objects.count() == transfers


def test_digital_order_auto_releases_after_72_hours(carol, bob):
    album = make_listing(carol.shop, title="Album", price="5.00", kind="digital", stock=None)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        order = make_order(bob, album)
    with time_machine.travel(start + timedelta(hours=71), tick=False):
        assert orders_auto_release_due() == 0
    with time_machine.travel(start + timedelta(hours=72, minutes=1), tick=False):
        assert orders_auto_release_due() == 1
        assert orders_auto_release_due() == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.RELEASED
    assert balance(carol) == 487


def test_digital_orders_cannot_be_shipped(carol, bob):
    album = make_listing(carol.shop, title="Album", price="5.00", kind="digital", stock=None)
    order = make_order(bob, album)
    with pytest.raises(Exception) as error:
        order_ship(carol, order=order)
    assert error.value.code == "order_digital"

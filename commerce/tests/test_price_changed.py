"""A buyer pays what the confirm step showed, or nothing: a price change in between is refused."""

from __future__ import annotations

import pytest

from commerce.models import Order
from commerce.services import checkout_pay, checkout_quote
from commerce.services.checkout import PriceChanged
from commerce.tests.factories import ADDRESS, buyer_user, make_listing, seller_user
from payments.tests.factories import balance

pytestmark = pytest.mark.django_db


def test_a_price_raised_after_the_confirm_step_is_refused_and_nothing_moves():
    seller = seller_user("potter")
    listing = make_listing(seller.shop, price="12.00", shipping="3.00", stock=2)
    buyer = buyer_user("shopper", funds="100.00")
    shown = checkout_quote(buyer, buy_now=(listing.pk, 1), address=ADDRESS).pay_total
    assert shown == 1500

    listing.price = 2000  # the seller edits the price while the buyer reads the confirm step
    listing.save(update_fields=["price"])
    with pytest.raises(PriceChanged, match=r"\$23\.00"):
        checkout_pay(buyer, buy_now=(listing.pk, 1), address=ADDRESS, idempotency_key="k1", expected_total=shown)
    assert not Order.objects.exists() and balance(buyer) == 10000
    listing.refresh_from_db()
    assert listing.stock == 2

    (order,) = checkout_pay(buyer, buy_now=(listing.pk, 1), address=ADDRESS, idempotency_key="k2", expected_total=2300)
    assert order.total == 2300 and balance(buyer) == 10000 - 2300

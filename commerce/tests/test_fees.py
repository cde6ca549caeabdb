"""Fee maths: half up to the minor unit, at the rate snapshotted when the order was paid."""

from __future__ import annotations

import pytest

from commerce.fees import current_fee_bps, fee_for
from commerce.services import order_confirm_received, order_release
from payments.tests.factories import balance

from .factories import buyer_user, make_listing, make_order, seller_user, set_fee_bps


@pytest.mark.parametrize(
    ("base", "fee"),
    [
        (1, 0),  # 0.01 × 2.5% = 0.00025 → 0.00
        (19, 0),  # 0.00475 → 0.00
        (20, 1),  # 0.005 → 0.01 (half up)
        (21, 1),  # 0.00525 → 0.01
        (100, 3),  # 0.025 → 0.03 (half up)
        (1234, 31),  # 0.3085 → 0.31
        (1500, 38),  # 0.375 → 0.38 (the browser journey's mug)
        (9999, 250),  # 2.49975 → 2.50
        (0, 0),
    ],
)
def test_fee_rounding_table_at_2_5_percent(base, fee):
    assert fee_for(base, 250) == fee


def test_fee_edges():
    assert fee_for(1000, 0) == 0
    assert fee_for(1, 3000) == 0  # 0.3 → 0
    assert fee_for(2, 2500) == 1  # 0.5 → 1 (half up)
    assert fee_for(10**15, 250) == 25 * 10**12  # integers only: no float error on big amounts
    with pytest.raises(TypeError):
        fee_for(1.5, 250)


@pytest.mark.django_db
def test_default_and_changed_fee(db):
    assert current_fee_bps() == 250
    set_fee_bps(100)
    assert current_fee_bps() == 100


@pytest.mark.django_db
def test_a_fee_change_does_not_affect_orders_already_paid():
    carol = seller_user("carol")
    bob = buyer_user("bob", funds="100.00")
    listing = make_listing(carol.shop, price="20.00", stock=5)
    before = make_order(bob, listing)  # paid at 2.5%
    set_fee_bps(1000)  # staff raise the fee to 10%
    after = make_order(bob, listing)
    assert (before.fee_bps, after.fee_bps) == (250, 1000)
    order_confirm_received(bob, order=before)
    assert balance(carol) == 2000 - 50
    order_release(after)
    after.refresh_from_db()
    assert after.fee == 200
    assert balance(carol) == 1950 + 1800

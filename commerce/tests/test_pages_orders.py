"""Cart, checkout and order pages end to end: Buy now → address → confirm → pay (once per key),
the cart across shops, the order page for buyer and seller with its actions, the download, and
someone else's ids → 404."""

from __future__ import annotations

import re

import pytest

from commerce.models import Dispute, ListingKind, Order, OrderStatus, Refund
from commerce.tests.factories import (  # noqa: F401
    ADDRESS,
    buyer_user,
    make_listing,
    make_order,
    pdf_upload,
    private_media,
    seller_user,
)
from payments.tests.factories import balance, load_test_rates

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol():
    return seller_user("carol")


@pytest.fixture
def bob(client):
    user = buyer_user("bob", funds="100.00")
    client.force_login(user)
    return user


def _key(page: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)


def _confirm(client, listing, *, qty=1, address=ADDRESS, extra=None):
    page = client.get("/shop/checkout/", {"buy": listing.pk, "qty": qty}).content.decode()
    data = {"buy": listing.pk, "qty": qty, "idempotency_key": _key(page), **(address or {}), **(extra or {})}
    return client.post("/shop/checkout/", data)


def test_buy_now_address_confirm_pay(client, bob, carol):
    mug = make_listing(carol.shop, title="Everything mug", price="12.00", shipping="3.00", stock=1)
    page = client.get("/shop/checkout/", {"buy": mug.pk, "qty": 1}).content.decode()
    assert 'name="line1"' in page and "Everything mug" in page
    response = _confirm(client, mug)
    assert response.status_code == 200
    confirm = response.content.decode()
    assert 'data-testid="checkout-confirm"' in confirm and "Pay $15.00" in confirm and "@carol" in confirm
    assert Order.objects.count() == 0  # nothing moves on the confirm step
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm))
    data.pop("csrfmiddlewaretoken", None)
    response = client.post("/shop/checkout/pay/", data)
    order = Order.objects.get()
    assert response.status_code == 302 and response.url == f"/shop/orders/{order.pk}/"
    assert order.total == 1500 and order.status == OrderStatus.PAID and order.ship_city == "Springfield"
    assert balance(bob) == 10000 - 1500
    # A double submit (same key) pays once and lands on the same order.
    again = client.post("/shop/checkout/pay/", data)
    assert again.status_code == 302 and again.url == f"/shop/orders/{order.pk}/"
    assert Order.objects.count() == 1 and balance(bob) == 8500
    page = client.get(again.url).content.decode()
    assert "Paid (in escrow)" in page and "$15.00" in page


def test_missing_address_is_shown_on_the_form(client, bob, carol):
    mug = make_listing(carol.shop, shipping="3.00")
    response = _confirm(client, mug, address={"name": "Bob"})
    assert response.status_code == 400 and "Check the delivery address" in response.content.decode()
    assert Order.objects.count() == 0


def test_country_not_shipped_to_is_refused(client, bob, carol):
    mug = make_listing(carol.shop, ships_to=["CA"])
    response = _confirm(client, mug)
    assert response.status_code == 400 and "does not ship to" in response.content.decode()


def test_not_enough_money_moves_nothing(client, carol):
    poor = buyer_user("poor", funds="1.00")
    client.force_login(poor)
    mug = make_listing(carol.shop, price="12.00")
    confirm = _confirm(client, mug).content.decode()
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm))
    response = client.post("/shop/checkout/pay/", data, follow=True)
    assert response.status_code == 200 and Order.objects.count() == 0 and balance(poor) == 100


def test_fx_checkout_shows_the_conversion(client, carol):
    load_test_rates()
    euro = buyer_user("eve", funds="100.00", currency="EUR")
    client.force_login(euro)
    mug = make_listing(carol.shop, price="10.00")
    page = client.get("/shop/checkout/", {"buy": mug.pk}).content.decode()
    assert 'data-testid="pay-currency"' in page
    confirm = _confirm(client, mug, extra={"pay_currency": "EUR"}).content.decode()
    assert 'data-testid="confirm-fx"' in confirm and "EUR wallet" in confirm
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm))
    client.post("/shop/checkout/pay/", data)
    order = Order.objects.get()
    assert order.paid_currency == "EUR" and order.currency == "USD" and order.total == 1000


def test_own_listing_and_bad_ids(client, carol):
    mug = make_listing(carol.shop)
    client.force_login(carol)
    response = client.get("/shop/checkout/", {"buy": mug.pk})
    assert response.status_code == 302  # refused with a message, back to the listing
    assert client.get("/shop/checkout/", {"buy": "abc"}).status_code == 404
    assert client.get("/shop/checkout/", {"buy": "99999"}).status_code == 404


def test_cart_across_two_shops_makes_two_orders(client, bob, carol):
    dave = seller_user("dave")
    a = make_listing(carol.shop, title="Mug", price="12.00", shipping="3.00")
    b = make_listing(dave.shop, title="Record", price="20.00")
    client.post("/shop/cart/add/", {"listing": a.pk, "quantity": 2})
    client.post("/shop/cart/add/", {"listing": b.pk})
    page = client.get("/shop/cart/").content.decode()
    assert page.count('data-testid="cart-group"') == 2 and "$27.00" in page and "$20.00" in page
    client.post("/shop/cart/update/", {"listing": a.pk, "quantity": 1})
    page = client.get("/shop/checkout/").content.decode()
    data = {"idempotency_key": _key(page), **ADDRESS}
    confirm = client.post("/shop/checkout/", data).content.decode()
    assert "Pay $35.00" in confirm
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm))
    response = client.post("/shop/checkout/pay/", hidden)
    assert response.status_code == 302 and response.url == "/shop/orders/"
    assert Order.objects.count() == 2 and balance(bob) == 10000 - 3500
    assert "Your cart is empty" in client.get("/shop/cart/").content.decode()
    page = client.get("/shop/orders/").content.decode()
    assert page.count('data-testid="order-row"') == 2


def test_cart_remove_and_someone_elses_rows(client, bob, carol):
    a = make_listing(carol.shop)
    client.post("/shop/cart/add/", {"listing": a.pk})
    assert client.post("/shop/cart/remove/", {"listing": 424242}).status_code == 404
    client.post("/shop/cart/remove/", {"listing": a.pk})
    assert "Your cart is empty" in client.get("/shop/cart/").content.decode()
    assert client.post("/shop/cart/add/", {"listing": a.pk, "quantity": "lots"}).status_code == 302


def test_order_page_for_buyer_and_seller_only(client, bob, carol, django_assert_max_num_queries):
    order = make_order(bob, make_listing(carol.shop, price="12.00", shipping="3.00"))
    client.get("/shop/")
    with django_assert_max_num_queries(14):
        page = client.get(f"/shop/orders/{order.pk}/").content.decode()
    assert 'data-testid="confirm-received"' in page and 'data-testid="mark-shipped"' not in page
    assert 'data-testid="timeline"' in page and "order-fee" not in page
    client.force_login(carol)
    page = client.get(f"/shop/orders/{order.pk}/").content.decode()
    assert 'data-testid="mark-shipped"' in page and 'data-testid="order-fee"' in page and "2.5% on release" in page
    client.force_login(buyer_user("mallory"))
    assert client.get(f"/shop/orders/{order.pk}/").status_code == 404
    assert client.post(f"/shop/orders/{order.pk}/ship/", {}).status_code == 404
    assert client.post(f"/shop/orders/{order.pk}/confirm/").status_code == 404
    assert client.post(f"/shop/orders/{order.pk}/refund/", {"confirm": "1"}).status_code == 404
    assert Order.objects.get().status == OrderStatus.PAID


def test_ship_then_confirm_releases_to_the_seller(client, bob, carol):
    order = make_order(bob, make_listing(carol.shop, price="12.00", shipping="3.00"))
    client.force_login(carol)
    before = balance(carol)
    response = client.post(f"/shop/orders/{order.pk}/ship/", {"carrier": "UPS", "tracking_number": "1Z999"})
    assert response.status_code == 302
    page = client.get(f"/shop/orders/{order.pk}/?fragment=1").content.decode()
    assert "Shipped" in page and "1Z999" in page and "<html" not in page
    # The seller cannot confirm receipt for the buyer.
    client.post(f"/shop/orders/{order.pk}/confirm/")
    assert Order.objects.get().status == OrderStatus.SHIPPED
    client.force_login(bob)
    client.post(f"/shop/orders/{order.pk}/confirm/")
    order.refresh_from_db()
    assert order.status == OrderStatus.RELEASED and order.fee == 38
    assert balance(carol) == before + 1500 - 38
    client.post(f"/shop/orders/{order.pk}/confirm/")  # twice: refused, nothing moves again
    assert balance(carol) == before + 1462
    client.force_login(carol)
    assert "$14.62" in client.get(f"/shop/orders/{order.pk}/").content.decode()


def test_refund_has_a_confirm_step(client, bob, carol):
    order = make_order(bob, make_listing(carol.shop, price="12.00"))
    client.force_login(carol)
    page = client.get(f"/shop/orders/{order.pk}/").content.decode()
    key = _key(page)
    response = client.post(f"/shop/orders/{order.pk}/refund/", {"amount": "5.00", "idempotency_key": key})
    assert response.status_code == 200 and "Refund $5.00" in response.content.decode()
    assert not Refund.objects.exists()
    data = {"amount": "5.00", "idempotency_key": key, "confirm": "1", "reason": "Scratched"}
    client.post(f"/shop/orders/{order.pk}/refund/", data)
    client.post(f"/shop/orders/{order.pk}/refund/", data)  # a double submit refunds once
    assert Refund.objects.get().amount == 500 and balance(bob) == 10000 - 1200 + 500
    response = client.post(f"/shop/orders/{order.pk}/refund/", {"amount": "50.00", "confirm": "1"})
    page = response.content.decode()
    # The order page again, the refund form open with what was typed and the error beside it.
    assert response.status_code == 400 and "at most $7.00" in page and 'value="50.00"' in page
    assert '<details class="action-details" open>' in page
    response = client.post(f"/shop/orders/{order.pk}/refund/", {"amount": "-1", "confirm": "1"})
    assert response.status_code == 400 and Refund.objects.count() == 1
    client.force_login(bob)  # the buyer cannot even get the seller's form back
    assert client.post(f"/shop/orders/{order.pk}/refund/", {"amount": "50.00"}).status_code == 404


def test_buyer_opens_a_dispute_with_evidence(client, bob, carol, private_media):  # noqa: F811
    order = make_order(bob, make_listing(carol.shop))
    response = client.post(f"/shop/orders/{order.pk}/dispute/", {"reason": "Never arrived", "evidence": [pdf_upload()]})
    assert response.status_code == 302
    dispute = Dispute.objects.get()
    assert dispute.evidence.count() == 1 and Order.objects.get().status == OrderStatus.DISPUTED
    page = client.get(f"/shop/orders/{order.pk}/").content.decode()
    assert 'data-testid="dispute-open"' in page and "Never arrived" in page
    assert 'data-testid="confirm-received"' not in page


def test_only_the_buyer_downloads(client, bob, carol, private_media):  # noqa: F811
    song = make_listing(carol.shop, title="Song", kind=ListingKind.DIGITAL, stock=None, digital_content=b"la la la")
    order = make_order(bob, song)
    item = order.items.get()
    client.force_login(carol)
    assert client.get(f"/shop/orders/{order.pk}/items/{item.pk}/download").status_code == 404
    client.force_login(buyer_user("mallory"))
    assert client.get(f"/shop/orders/{order.pk}/items/{item.pk}/download").status_code == 404
    client.force_login(bob)
    response = client.get(f"/shop/orders/{order.pk}/items/{item.pk}/download")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"la la la"
    assert 'attachment; filename="Song.zip"' in response["Content-Disposition"]
    assert Order.objects.get().status == OrderStatus.RELEASED  # the first download releases
    assert client.get(f"/shop/orders/{order.pk}/items/{item.pk + 999}/download").status_code == 404


def test_orders_empty_state(client, bob):
    assert 'data-testid="no-orders"' in client.get("/shop/orders/").content.decode()


def test_back_from_the_confirm_step_keeps_the_address_and_key(client, bob, carol):
    mug = make_listing(carol.shop)
    confirm = _confirm(client, mug).content.decode()
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm))
    response = client.post("/shop/checkout/", {**data, "back": "1"})
    page = response.content.decode()
    assert response.status_code == 200 and "1 Main Street" in page and data["idempotency_key"] in page
    assert Order.objects.count() == 0


def test_a_price_change_after_the_confirm_page_is_refused(client, bob, carol):
    mug = make_listing(carol.shop, title="Everything mug", price="12.00", shipping="3.00", stock=1)
    confirm = _confirm(client, mug).content.decode()
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm))
    data.pop("csrfmiddlewaretoken", None)
    assert data["expected_total"] == "1500"  # the confirm page carries the total it shows
    mug.price = 1900
    mug.save(update_fields=["price"])
    response = client.post("/shop/checkout/pay/", data, follow=True)
    assert "The total is now $22.00, not $15.00" in response.content.decode()
    assert not Order.objects.exists() and balance(bob) == 10000

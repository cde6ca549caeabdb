"""/api/v1/ commerce: shops, listings, cart, checkout (Idempotency-Key), orders and their actions."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from commerce.models import CartItem, Dispute, Listing, ListingStatus, Order, OrderStatus, ShopDebt
from commerce.tests.factories import (
    ADDRESS,
    buyer_user,
    make_listing,
    make_order,
    png_upload,
    private_media,  # noqa: F401 - fixture
    seller_user,
    set_fee_bps,
)
from payments.tests.factories import balance, sender_user

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def carol():
    return seller_user("carol")


@pytest.fixture
def bob():
    return buyer_user("bob", funds="100.00")


# --- Shops -----------------------------------------------------------------------------------------


def test_open_a_shop_and_read_it():
    dave = sender_user("dave")
    api = client_for(dave)
    created = api.post("/api/v1/shops/", {"name": "Dave's Records", "slug": "daves-records"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["slug"] == "daves-records" and created.json()["owner"] == "@dave"
    assert api.post("/api/v1/shops/", {"name": "Again", "slug": "again"}, format="json").json()["error"]["code"] == (
        "shop_exists"
    )
    body = client_for(sender_user("eve")).get("/api/v1/shops/daves-records/").json()
    assert body["name"] == "Dave's Records" and body["url"] == "/shop/daves-records/"
    listed = client_for(sender_user("fay")).get("/api/v1/shops/").json()["results"]
    assert [s["slug"] for s in listed] == ["daves-records"]


def test_open_shop_refusals():
    low = sender_user("low", tier=0)
    assert client_for(low).post("/api/v1/shops/", {"name": "X", "slug": "xyz"}, format="json").status_code == 403
    api = client_for(sender_user("max"))
    bad = api.post("/api/v1/shops/", {"name": "X", "slug": "cart"}, format="json")
    assert bad.status_code == 400
    assert api.post("/api/v1/shops/", {"name": 12, "slug": "abc"}, format="json").status_code == 400
    assert api.post("/api/v1/shops/", ["not", "an", "object"], format="json").status_code == 400


def test_suspended_shop_is_404_to_others_but_not_to_its_owner(carol):
    from django.utils import timezone

    carol.shop.suspended_at = timezone.now()
    carol.shop.save()
    assert client_for(sender_user("eve")).get(f"/api/v1/shops/{carol.shop.slug}/").status_code == 404
    assert client_for(carol).get(f"/api/v1/shops/{carol.shop.slug}/").json()["suspended"] is True
    assert client_for(sender_user("fay")).get("/api/v1/shops/").json()["results"] == []


def test_only_the_owner_updates_a_shop(carol):
    slug = carol.shop.slug
    assert client_for(sender_user("eve")).patch(
        f"/api/v1/shops/{slug}/", {"name": "Mine"}, format="json"
    ).status_code == (404)
    changed = client_for(carol).patch(f"/api/v1/shops/{slug}/", {"name": "Carol's Mugs"}, format="json")
    assert changed.status_code == 200 and changed.json()["name"] == "Carol's Mugs"


# --- Listings --------------------------------------------------------------------------------------


def test_create_publish_archive_listing(carol, private_media):  # noqa: F811
    api = client_for(carol)
    created = api.post(
        "/api/v1/listings/",
        {"title": "Everything mug", "price": "12.00", "stock": 1, "shipping_price": "3.00", "ships_to": ["us"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "draft" and body["price"] == "12.00" and body["shipping_price"] == "3.00"
    assert body["currency"] == "USD" and body["ships_to"] == ["US"]
    pk = body["id"]
    # Someone else cannot see the draft, nor act on it.
    eve = client_for(sender_user("eve"))
    assert eve.get(f"/api/v1/listings/{pk}/").status_code == 404
    assert eve.post(f"/api/v1/listings/{pk}/publish/").status_code == 404
    assert eve.patch(f"/api/v1/listings/{pk}/", {"title": "x"}, format="json").status_code == 404
    image = api.post(f"/api/v1/listings/{pk}/images/", {"file": png_upload(), "alt": "A mug"}, format="multipart")
    assert image.status_code == 201 and image.json()["images"][0]["alt"] == "A mug"
    published = api.post(f"/api/v1/listings/{pk}/publish/")
    assert published.status_code == 200 and published.json()["status"] == "active"
    assert eve.get(f"/api/v1/listings/{pk}/").json()["title"] == "Everything mug"
    patched = api.patch(f"/api/v1/listings/{pk}/", {"price": "13.50", "stock": 4}, format="json")
    assert patched.json()["price"] == "13.50" and patched.json()["stock"] == 4
    assert api.patch(f"/api/v1/listings/{pk}/", {"currency": "EUR"}, format="json").status_code == 400
    assert api.patch(f"/api/v1/listings/{pk}/", {"price": 13.5}, format="json").status_code == 400
    image_id = image.json()["images"][0]["id"]
    assert eve.delete(f"/api/v1/listings/{pk}/images/{image_id}/").status_code == 404
    assert api.delete(f"/api/v1/listings/{pk}/images/{image_id}/").status_code == 204
    archived = api.post(f"/api/v1/listings/{pk}/archive/")
    assert archived.json()["status"] == "archived"
    assert eve.get(f"/api/v1/listings/{pk}/").status_code == 404


def test_listing_input_refused_cleanly(carol):
    api = client_for(carol)
    for body in (
        {"title": "Mug", "price": 12, "stock": 1},  # a JSON number for money
        {"title": "Mug", "price": "abc", "stock": 1},
        {"title": "Mug", "price": "-1.00", "stock": 1},
        {"title": "Mug", "price": "12.00", "stock": "1"},
        {"title": "Mug", "price": "12.00"},  # physical needs stock
        {"title": "", "price": "12.00", "stock": 1},
        {"title": "Mug", "price": "12.00", "stock": 1, "currency": "XXX"},
        {"title": "Mug", "price": "12.00", "stock": 1, "ships_to": ["ZZ"]},
    ):
        response = api.post("/api/v1/listings/", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert "error" in response.json()
    assert Listing.objects.count() == 0
    no_shop = client_for(sender_user("nos"))
    assert no_shop.post(
        "/api/v1/listings/", {"title": "M", "price": "1.00", "stock": 1}, format="json"
    ).status_code == (403)


def test_search_filter_sort(carol, bob, django_assert_max_num_queries):
    shop = carol.shop
    make_listing(shop, title="Blue mug", price="12.00", category="home")
    make_listing(shop, title="Red mug", price="8.00", category="home")
    make_listing(shop, title="Poster", price="20.00", category="art")
    make_listing(shop, title="Draft mug", price="5.00", status=ListingStatus.DRAFT)
    api = client_for(bob)
    titles = lambda url: [row["title"] for row in api.get(url).json()["results"]]  # noqa: E731
    assert titles("/api/v1/listings/") == ["Poster", "Red mug", "Blue mug"]
    assert titles("/api/v1/listings/?q=mug") == ["Red mug", "Blue mug"]
    assert titles("/api/v1/listings/?category=art") == ["Poster"]
    assert titles("/api/v1/listings/?min=9&max=15") == ["Blue mug"]
    assert titles("/api/v1/listings/?sort=price_asc") == ["Red mug", "Blue mug", "Poster"]
    assert titles("/api/v1/listings/?sort=price_desc") == ["Poster", "Blue mug", "Red mug"]
    assert titles(f"/api/v1/listings/?shop={shop.slug}&q=poster") == ["Poster"]
    mine = [row["title"] for row in client_for(carol).get("/api/v1/listings/?mine=1").json()["results"]]
    assert "Draft mug" in mine and len(mine) == 4
    # Garbage filters are ignored, never a 500.
    assert api.get("/api/v1/listings/?min=abc&sort=zzz&category=%00").status_code == 200
    for n in range(5):
        make_listing(shop, title=f"More {n}", images=0)
    with django_assert_max_num_queries(6):
        assert api.get("/api/v1/listings/").status_code == 200


def test_listing_pagination_by_cursor(carol, bob):
    for n in range(30):
        make_listing(carol.shop, title=f"Item {n:02d}")
    api = client_for(bob)
    first = api.get("/api/v1/listings/?page_size=20").json()
    assert len(first["results"]) == 20 and first["next"]
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 10 and not second["next"]
    assert api.get("/api/v1/listings/?cursor=bogus").status_code == 404


# --- Cart and checkout -----------------------------------------------------------------------------


def test_cart_add_update_remove(carol, bob):
    mug = make_listing(carol.shop, title="Mug", price="12.00", stock=3, shipping="3.00")
    api = client_for(bob)
    added = api.post("/api/v1/cart/", {"listing": mug.pk, "quantity": 2}, format="json")
    assert added.status_code == 200, added.content
    group = added.json()["groups"][0]
    assert group["subtotal"] == "24.00" and group["shipping"] == "3.00" and group["total"] == "27.00"
    assert api.patch("/api/v1/cart/", {"listing": mug.pk, "quantity": 5}, format="json").json()["error"]["code"] == (
        "not_enough_stock"
    )
    assert (
        api.patch("/api/v1/cart/", {"listing": mug.pk, "quantity": 1}, format="json").json()["groups"][0]["items"][0][
            "quantity"
        ]
        == 1
    )
    assert api.delete(f"/api/v1/cart/?listing={mug.pk}").json() == {"groups": [], "count": 0}
    assert api.delete("/api/v1/cart/?listing=abc").status_code == 400
    assert api.post("/api/v1/cart/", {"listing": "1"}, format="json").status_code == 400


def test_cart_refuses_own_draft_and_unknown_listings(carol, bob):
    own = make_listing(carol.shop)
    draft = make_listing(carol.shop, status=ListingStatus.DRAFT)
    assert client_for(carol).post("/api/v1/cart/", {"listing": own.pk}, format="json").status_code == 403
    api = client_for(bob)
    assert api.post("/api/v1/cart/", {"listing": draft.pk}, format="json").status_code == 404
    assert api.post("/api/v1/cart/", {"listing": 999999}, format="json").status_code == 404
    assert CartItem.objects.count() == 0


def test_quote_and_buy_now_with_idempotency(carol, bob):
    set_fee_bps(250)
    mug = make_listing(carol.shop, title="Everything mug", price="12.00", stock=1, shipping="3.00")
    api = client_for(bob)
    body = {"buy_now": {"listing": mug.pk, "quantity": 1}, "address": ADDRESS}
    quote = api.post("/api/v1/checkout/quote/", body, format="json")
    assert quote.status_code == 200, quote.content
    assert quote.json()["pay_total"] == "15.00" and quote.json()["pay_currency"] == "USD"
    assert quote.json()["needs_address"] is True and quote.json()["fx_rate"] is None
    assert api.post("/api/v1/checkout/", body, format="json").json()["error"]["code"] == "idempotency_key_missing"
    paid = api.post("/api/v1/checkout/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert paid.status_code == 201, paid.content
    [order] = paid.json()["orders"]
    assert order["status"] == "paid" and order["total"] == "15.00" and order["role"] == "buyer"
    assert order["fee"] is None and order["address"]["city"] == "Springfield"
    assert balance(bob) == 100_00 - 15_00
    again = api.post("/api/v1/checkout/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201 and again.json() == paid.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = api.post(
        "/api/v1/checkout/", {**body, "address": {**ADDRESS, "city": "X"}}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1 and balance(bob) == 85_00
    # Sold out now: a clear refusal, nothing moves.
    sold = api.post("/api/v1/checkout/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert sold.status_code in (409, 422) and balance(bob) == 85_00


def test_checkout_refusals_move_nothing(carol):
    poor = buyer_user("poor", funds="1.00")
    mug = make_listing(carol.shop, price="12.00", stock=2)
    api = client_for(poor)
    body = {"buy_now": {"listing": mug.pk}, "address": ADDRESS}
    broke = api.post("/api/v1/checkout/", body, format="json", HTTP_IDEMPOTENCY_KEY="p-1")
    assert broke.status_code == 422
    no_address = api.post(
        "/api/v1/checkout/", {"buy_now": {"listing": mug.pk}}, format="json", HTTP_IDEMPOTENCY_KEY="p-2"
    )
    assert no_address.status_code == 400
    empty = api.post("/api/v1/checkout/", {}, format="json", HTTP_IDEMPOTENCY_KEY="p-3")
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "cart_empty"
    assert (
        api.post(
            "/api/v1/checkout/", {"buy_now": {"listing": "x"}}, format="json", HTTP_IDEMPOTENCY_KEY="p-4"
        ).status_code
        == 400
    )
    assert Order.objects.count() == 0 and balance(poor) == 1_00


def test_multi_seller_cart_makes_one_order_per_shop(carol, bob):
    dave = seller_user("dave")
    api = client_for(bob)
    api.post("/api/v1/cart/", {"listing": make_listing(carol.shop, price="5.00").pk}, format="json")
    api.post("/api/v1/cart/", {"listing": make_listing(dave.shop, price="7.00").pk}, format="json")
    paid = api.post("/api/v1/checkout/", {"address": ADDRESS}, format="json", HTTP_IDEMPOTENCY_KEY="cart-1")
    assert paid.status_code == 201, paid.content
    assert sorted(o["shop"]["slug"] for o in paid.json()["orders"]) == sorted([carol.shop.slug, dave.shop.slug])
    assert api.get("/api/v1/cart/").json()["count"] == 0
    assert balance(bob) == 100_00 - 12_00


# --- Orders ----------------------------------------------------------------------------------------


def test_orders_lists_and_access(carol, bob, django_assert_max_num_queries):
    order = make_order(bob, make_listing(carol.shop, price="10.00"))
    for _ in range(3):
        make_order(bob, make_listing(carol.shop))
    buyer_api, seller_api = client_for(bob), client_for(carol)
    with django_assert_max_num_queries(5):
        mine = buyer_api.get("/api/v1/orders/").json()["results"]
    assert len(mine) == 4 and all(o["role"] == "buyer" for o in mine)
    with django_assert_max_num_queries(5):
        sold = seller_api.get("/api/v1/orders/?role=seller").json()["results"]
    assert len(sold) == 4 and sold[-1]["fee_bps"] == order.fee_bps
    assert seller_api.get("/api/v1/orders/").json()["results"] == []  # carol bought nothing
    detail = buyer_api.get(f"/api/v1/orders/{order.pk}/").json()
    assert detail["events"][0]["status"] == "paid" and detail["dispute"] is None
    with django_assert_max_num_queries(8):
        assert seller_api.get(f"/api/v1/orders/{order.pk}/").json()["role"] == "seller"
    eve = client_for(sender_user("eve"))
    for url in ("", "ship/", "confirm/", "refund/", "dispute/"):
        method = eve.get if not url else eve.post
        assert method(f"/api/v1/orders/{order.pk}/{url}", {}, format="json").status_code == 404, url


def test_ship_confirm_release(carol, bob):
    set_fee_bps(250)
    order = make_order(bob, make_listing(carol.shop, price="12.00", shipping="3.00"))
    buyer_api, seller_api = client_for(bob), client_for(carol)
    # Only the seller ships.
    assert buyer_api.post(f"/api/v1/orders/{order.pk}/ship/", {}, format="json").status_code == 403
    shipped = seller_api.post(
        f"/api/v1/orders/{order.pk}/ship/", {"carrier": "UPS", "tracking_number": "1Z999"}, format="json"
    )
    assert shipped.status_code == 200 and shipped.json()["status"] == "shipped"
    assert shipped.json()["tracking_number"] == "1Z999"
    assert seller_api.post(f"/api/v1/orders/{order.pk}/confirm/").status_code == 403
    before = balance(carol)
    done = buyer_api.post(f"/api/v1/orders/{order.pk}/confirm/")
    assert done.status_code == 200 and done.json()["status"] == "released"
    assert balance(carol) - before == 15_00 - 38  # 2.5% of 15.00 = 0.375 → 0.38 (half up)
    assert buyer_api.post(f"/api/v1/orders/{order.pk}/confirm/").status_code == 409
    assert balance(carol) - before == 15_00 - 38
    assert seller_api.get(f"/api/v1/orders/{order.pk}/").json()["fee"] == "0.38"


def test_refund_partial_then_rest_with_idempotency(carol, bob):
    order = make_order(bob, make_listing(carol.shop, price="10.00"))
    seller_api = client_for(carol)
    assert client_for(bob).post(f"/api/v1/orders/{order.pk}/refund/", {}, format="json").status_code == 403
    url = f"/api/v1/orders/{order.pk}/refund/"
    part = seller_api.post(url, {"amount": "4.00", "reason": "Chipped"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert part.status_code == 200 and part.json()["refunded"] == "4.00"
    replay = seller_api.post(url, {"amount": "4.00", "reason": "Chipped"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert replay.json()["refunded"] == "4.00"
    assert balance(bob) == 100_00 - 10_00 + 4_00
    assert seller_api.post(url, {"amount": "7.00"}, format="json").status_code == 400  # more than is left
    assert seller_api.post(url, {"amount": 1}, format="json").status_code == 400  # a JSON number
    rest = seller_api.post(url, {}, format="json")
    assert rest.json()["status"] == "refunded" and rest.json()["refunded"] == "10.00"
    assert [r["amount"] for r in rest.json()["refunds"]] == ["4.00", "6.00"]
    assert balance(bob) == 100_00


def test_refund_after_release_with_shortfall_makes_debt(carol, bob):
    set_fee_bps(250)
    order = make_order(bob, make_listing(carol.shop, price="10.00"))
    client_for(bob).post(f"/api/v1/orders/{order.pk}/confirm/")
    assert balance(carol) == 10_00 - 25
    # A full refund: her wallet has 9.75, the platform advances the 0.25 fee already taken.
    response = client_for(carol).post(f"/api/v1/orders/{order.pk}/refund/", {}, format="json")
    assert response.status_code == 200, response.content
    assert balance(bob) == 100_00
    assert balance(carol) == 0
    assert ShopDebt.objects.get(shop=carol.shop).amount == 25


def test_dispute_json_and_multipart(carol, bob, private_media):  # noqa: F811
    order = make_order(bob, make_listing(carol.shop))
    api = client_for(bob)
    assert client_for(carol).post(
        f"/api/v1/orders/{order.pk}/dispute/", {"reason": "x"}, format="json"
    ).status_code == (403)
    assert api.post(f"/api/v1/orders/{order.pk}/dispute/", {"reason": 5}, format="json").status_code == 400
    opened = api.post(
        f"/api/v1/orders/{order.pk}/dispute/",
        {"reason": "Never arrived", "evidence": [png_upload("a.png")]},
        format="multipart",
    )
    assert opened.status_code == 201, opened.content
    assert opened.json()["status"] == "disputed" and opened.json()["dispute"]["evidence_count"] == 1
    assert Dispute.objects.get(order=order).reason == "Never arrived"
    again = api.post(f"/api/v1/orders/{order.pk}/dispute/", {"reason": "Again"}, format="json")
    assert again.status_code in (409, 422)


def test_digital_download_only_for_the_buyer(carol, bob, private_media):  # noqa: F811
    listing = make_listing(carol.shop, kind="digital", stock=None, digital_content=b"songs")
    order = make_order(bob, listing)
    item = order.items.get()
    url = f"/api/v1/orders/{order.pk}/items/{item.pk}/download/"
    assert client_for(sender_user("eve")).get(url).status_code == 404
    assert client_for(carol).get(url).status_code in (403, 404)
    detail = client_for(bob).get(f"/api/v1/orders/{order.pk}/").json()
    assert detail["items"][0]["download_url"] == url
    response = client_for(bob).get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"songs"
    order.refresh_from_db()
    assert order.status == OrderStatus.RELEASED


def test_anonymous_is_refused():
    assert APIClient().get("/api/v1/listings/").status_code == 403
    assert APIClient().post("/api/v1/checkout/", {}, format="json").status_code == 403


def test_schema_lists_commerce_paths(admin_user):
    response = client_for(admin_user).get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/checkout/" in paths and "/api/v1/orders/{id}/refund/" in paths

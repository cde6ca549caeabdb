"""Security review of commerce's web surface (issue 8): object-level access, blocks, suspended
shops, hostile downloads, XSS in shop and listing text (pages and the social card), CSRF, and
bad input that must never be a 500 (NUL bytes included: PostgreSQL refuses them in text)."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.social import block_create
from commerce.models import ListingKind, ListingStatus, Order, OrderStatus
from commerce.tests.factories import (  # noqa: F401
    ADDRESS,
    buyer_user,
    make_listing,
    make_listing_image,
    make_order,
    png_upload,
    private_media,
    seller_user,
)

pytestmark = pytest.mark.django_db

FUZZ = ["abc", "-1", "1e400", "NaN", "99999999999999999999999999", "\x00", "²"]


@pytest.fixture
def carol():
    return seller_user("carol")


@pytest.fixture
def bob(client):
    user = buyer_user("bob", funds="100.00")
    client.force_login(user)
    return user


def _ok(response):
    assert response.status_code < 500, response.status_code
    return response


def test_html_fuzz(client, bob, carol, private_media):  # noqa: F811
    listing = make_listing(carol.shop, price="12.00")
    order = make_order(bob, listing)
    for value in FUZZ:
        for q in ("q", "min", "max", "category", "sort", "page"):
            _ok(client.get("/shop/", {q: value}))
        _ok(client.get("/shop/orders/", {"page": value}))
        _ok(client.get(f"/shop/{carol.shop.slug}/", {"page": value}))
        _ok(client.post("/shop/cart/add/", {"listing": value, "quantity": "1"}))
        _ok(client.post("/shop/cart/add/", {"listing": listing.pk, "quantity": value}))
        _ok(client.post("/shop/cart/update/", {"listing": listing.pk, "quantity": value}))
        _ok(client.post("/shop/cart/update/", {"listing": value, "quantity": "1"}))
        _ok(client.post("/shop/cart/remove/", {"listing": value}))
        _ok(client.get("/shop/checkout/", {"buy": value, "qty": "1"}))
        _ok(client.get("/shop/checkout/", {"buy": listing.pk, "qty": value}))
        _ok(client.get("/shop/checkout/", {"buy": listing.pk, "pay_currency": value}))
        _ok(client.post("/shop/checkout/", {"buy": listing.pk, "qty": 1, "idempotency_key": value, **ADDRESS}))
        _ok(client.post("/shop/checkout/", {"buy": listing.pk, "qty": 1, **ADDRESS, "country": value}))
        _ok(client.post("/shop/checkout/pay/", {"buy": listing.pk, "qty": 1, "idempotency_key": value, **ADDRESS}))
        _ok(
            client.post(
                "/shop/checkout/pay/", {"buy": listing.pk, "qty": 1, "idempotency_key": "k1", **ADDRESS, "name": value}
            )
        )
        _ok(client.post(f"/shop/orders/{order.pk}/dispute/", {"reason": value}))
    client.force_login(carol)
    for value in FUZZ:
        _ok(client.get("/shop/sell/", {"days": value}))
        _ok(client.get("/shop/sell/orders/", {"status": value, "page": value}))
        _ok(client.get("/shop/sell/listings/", {"status": value}))
        _ok(client.post(f"/shop/orders/{order.pk}/refund/", {"amount": value}))
        _ok(
            client.post(f"/shop/orders/{order.pk}/refund/", {"amount": value, "confirm": "1", "idempotency_key": value})
        )
        _ok(client.post(f"/shop/orders/{order.pk}/ship/", {"carrier": value, "tracking_number": value}))
        data = {
            "title": "T" + value,
            "price": value,
            "currency": "USD",
            "kind": "physical",
            "category": "other",
            "stock": value,
            "shipping_price": value,
        }
        _ok(client.post("/shop/sell/listings/new/", data))
        _ok(client.post(f"/shop/sell/listings/{listing.pk}/edit/", data))
        _ok(client.post("/shop/sell/settings/", {"name": value, "description": value}))


def test_api_fuzz(client, bob, carol, private_media):  # noqa: F811
    listing = make_listing(carol.shop, price="12.00")
    order = make_order(bob, listing)
    values = [None, True, "1", 1.5, -1, 0, 2**70, [], {}, "\x00", "1e400", 10**30]

    def post(url, body, method="post", **extra):
        fn = getattr(client, method)
        return _ok(fn(url, data=json.dumps(body), content_type="application/json", **extra))

    for v in values:
        post("/api/v1/cart/", {"listing": v, "quantity": 1})
        post("/api/v1/cart/", {"listing": listing.pk, "quantity": v})
        post("/api/v1/cart/", {"listing": listing.pk, "quantity": v}, method="patch")
        post("/api/v1/checkout/quote/", {"buy_now": {"listing": v, "quantity": 1}})
        post("/api/v1/checkout/quote/", {"buy_now": {"listing": listing.pk, "quantity": v}, "address": ADDRESS})
        post("/api/v1/checkout/quote/", {"buy_now": {"listing": listing.pk}, "address": {**ADDRESS, "country": v}})
        post("/api/v1/checkout/quote/", {"buy_now": {"listing": listing.pk}, "pay_currency": v, "address": ADDRESS})
        post(
            "/api/v1/checkout/",
            {"buy_now": {"listing": listing.pk, "quantity": v}, "address": ADDRESS},
            HTTP_IDEMPOTENCY_KEY=f"k{v!r}"[:60],
        )
        post(f"/api/v1/orders/{order.pk}/dispute/", {"reason": v})
        _ok(
            client.get(
                "/api/v1/listings/", {"min": str(v), "q": str(v), "shop": str(v), "sort": str(v), "cursor": str(v)}
            )
        )
        _ok(client.get("/api/v1/shops/", {"q": str(v)}))
        _ok(client.get("/api/v1/orders/", {"status": str(v), "role": str(v), "cursor": str(v)}))
        _ok(client.delete(f"/api/v1/cart/?listing={v}"))
    client.force_login(carol)
    for v in values:
        post(f"/api/v1/orders/{order.pk}/refund/", {"amount": v, "reason": v})
        post(f"/api/v1/orders/{order.pk}/ship/", {"carrier": v, "tracking_number": v})
        post(f"/api/v1/listings/{listing.pk}/", {"price": v, "stock": v, "ships_to": v, "title": v}, method="patch")
        post("/api/v1/listings/", {"title": "x", "price": v, "stock": v, "kind": v, "currency": v, "shipping_price": v})
        post(f"/api/v1/shops/{carol.shop.slug}/", {"name": v, "description": v}, method="patch")
        post(f"/api/v1/listings/{listing.pk}/share/", {"text": v})
    assert Order.objects.get().status in (
        OrderStatus.PAID,
        OrderStatus.SHIPPED,
        OrderStatus.REFUNDED,
        OrderStatus.DISPUTED,
    )


def test_access(client, bob, carol, private_media):  # noqa: F811

    draft = make_listing(carol.shop, status=ListingStatus.DRAFT, images=1)
    archived = make_listing(carol.shop, status=ListingStatus.ARCHIVED, images=1)
    active = make_listing(carol.shop, images=1)
    song = make_listing(carol.shop, kind=ListingKind.DIGITAL, stock=None, digital_content=b"<svg onload=alert(1)>")
    song.digital_file_name = "evil.svg"
    song.save()
    for listing in (draft, archived):
        img = listing.images.get()
        assert client.get(f"/shop/listings/{listing.pk}/").status_code == 404
        assert client.get(f"/shop/media/listing/{img.pk}").status_code == 404
        assert client.get(f"/api/v1/listings/{listing.pk}/").status_code == 404
        for path in ("edit/", "publish/", "archive/", "file/", "images/", f"images/{img.pk}/remove/"):
            assert client.post(f"/shop/sell/listings/{listing.pk}/{path}").status_code == 404, path
        assert client.post("/shop/cart/add/", {"listing": listing.pk}).status_code == 404
    assert client.get(f"/shop/media/listing/{active.images.get().pk}").status_code == 200
    # API: someone else's listing
    for path in ("publish/", "archive/", "share/"):
        assert (
            client.post(f"/api/v1/listings/{active.pk}/{path}", "{}", content_type="application/json").status_code
            == 404
        )
    assert client.patch(f"/api/v1/listings/{active.pk}/", "{}", content_type="application/json").status_code == 404
    assert client.delete(f"/api/v1/listings/{active.pk}/images/{active.images.get().pk}/").status_code == 404
    assert (
        client.patch(f"/api/v1/shops/{carol.shop.slug}/", '{"name": "x"}', content_type="application/json").status_code
        == 404
    )
    assert client.post(f"/api/v1/listings/{active.pk}/file/", {"file": png_upload()}).status_code == 404
    assert client.post(f"/api/v1/listings/{active.pk}/images/", {"file": png_upload()}).status_code == 404
    # download: content type / disposition of a hostile file
    order = make_order(bob, song)
    item = order.items.get()
    response = client.get(f"/shop/orders/{order.pk}/items/{item.pk}/download")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    response = client.get(f"/api/v1/orders/{order.pk}/items/{item.pk}/download/")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    # seller cannot download via API
    client.force_login(carol)
    assert client.get(f"/api/v1/orders/{order.pk}/items/{item.pk}/download/").status_code in (403, 404)
    # buyer ship / refund via API refused
    physical = make_order(bob, active)
    client.force_login(bob)
    assert client.post(f"/api/v1/orders/{physical.pk}/ship/", "{}", content_type="application/json").status_code == 403
    r = client.post(f"/api/v1/orders/{physical.pk}/refund/", "{}", content_type="application/json")
    assert r.status_code == 403
    r = client.post(f"/shop/orders/{physical.pk}/refund/", {"confirm": "1"})
    physical.refresh_from_db()
    assert physical.refunded == 0 and physical.status == OrderStatus.PAID
    client.post(f"/shop/orders/{physical.pk}/ship/", {})
    physical.refresh_from_db()
    assert physical.status == OrderStatus.PAID
    # seller cannot open a dispute
    client.force_login(carol)
    client.post(f"/shop/orders/{physical.pk}/dispute/", {"reason": "x"})
    assert (
        client.post(
            f"/api/v1/orders/{physical.pk}/dispute/", '{"reason": "x"}', content_type="application/json"
        ).status_code
        == 403
    )
    # a third party
    client.force_login(buyer_user("mallory"))
    for path in ("", "ship/", "confirm/", "refund/", "dispute/"):
        method = client.get if not path else client.post
        assert method(f"/api/v1/orders/{physical.pk}/{path}", content_type="application/json").status_code == 404
    assert client.get(f"/shop/orders/{physical.pk}/?fragment=1").status_code == 404
    assert client.post(f"/shop/orders/{physical.pk}/dispute/", {"reason": "x"}).status_code == 404
    # suspended shop: logo, page, listing
    carol.shop.suspended_at = timezone.now()
    carol.shop.logo.save("a.png", SimpleUploadedFile("a.png", b"x"), save=True)
    assert client.get(f"/shop/media/logo/{carol.shop.pk}").status_code == 404
    assert client.get(f"/shop/{carol.shop.slug}/").status_code == 404
    assert client.get(f"/shop/listings/{active.pk}/").status_code == 404
    assert client.get(f"/shop/media/listing/{active.images.get().pk}").status_code == 404
    assert client.get(f"/api/v1/shops/{carol.shop.slug}/").status_code == 404


def test_blocked(client, bob, carol, private_media):  # noqa: F811
    active = make_listing(carol.shop, images=1)
    client.post("/shop/cart/add/", {"listing": active.pk})
    block_create(carol, blocked=bob)
    assert client.get(f"/shop/listings/{active.pk}/").status_code == 404
    assert client.get(f"/shop/{carol.shop.slug}/").status_code == 404
    assert client.get(f"/shop/media/listing/{active.images.get().pk}").status_code == 404
    assert client.post("/shop/cart/add/", {"listing": active.pk}).status_code == 404
    r = client.get("/shop/checkout/", {"buy": active.pk, "qty": 1})
    assert r.status_code in (302, 404, 403)
    r = client.post("/shop/checkout/pay/", {"idempotency_key": "k-blocked", **ADDRESS})
    assert not Order.objects.exists()
    r = client.post(
        "/api/v1/checkout/",
        json.dumps({"address": ADDRESS}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k2",
    )
    assert r.status_code >= 400 and not Order.objects.exists()
    r = client.patch(
        "/api/v1/cart/", json.dumps({"listing": active.pk, "quantity": 3}), content_type="application/json"
    )
    assert r.status_code < 500
    assert client.get("/shop/cart/").status_code == 200


def test_xss(client, bob, private_media):  # noqa: F811
    evil = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"
    carol = seller_user("carol", name=evil, description=evil, return_policy=evil)
    listing = make_listing(carol.shop, title=evil, description=evil, images=1)
    pages = [
        client.get(f"/shop/{carol.shop.slug}/"),
        client.get(f"/shop/listings/{listing.pk}/"),
        client.get("/shop/"),
    ]
    order = make_order(bob, listing)
    pages.append(client.get(f"/shop/orders/{order.pk}/"))
    client.post("/shop/cart/add/", {"listing": listing.pk})
    pages.append(client.get("/shop/cart/"))
    client.force_login(carol)
    pages += [
        client.get("/shop/sell/"),
        client.get("/shop/sell/orders/"),
        client.get("/shop/sell/listings/"),
        client.get(f"/shop/sell/listings/{listing.pk}/edit/"),
        client.get("/shop/sell/settings/"),
    ]
    from commerce.social import listing_share_as_post, post_listing_cards

    post = listing_share_as_post(carol, listing=listing, text="buy it")
    html = post_listing_cards([post], bob)[post.pk]
    pages_html = [p.content.decode() for p in pages] + [str(html)]
    for text in pages_html:
        assert "<script>alert(1)" not in text and "<img src=x" not in text


def test_nul_in_search_is_an_empty_result_not_a_500(client, bob, carol):
    """``?q=%00`` reached PostgreSQL as text (DataError → 500) on the marketplace and the API."""
    make_listing(carol.shop, title="Mug")
    assert client.get("/shop/", {"q": "mug\x00"}).status_code == 200
    for params in ({"q": "\x00"}, {"shop": "carol\x00"}, {"min": "1\x00"}):
        assert client.get("/api/v1/listings/", params).status_code == 200
    assert client.get("/api/v1/shops/", {"q": "\x00"}).status_code == 200


def test_nul_in_the_checkout_form_key_is_refused_not_a_500(client, bob, carol):
    """The HTML checkout passed a NUL key on to a PostgreSQL query (DataError → 500)."""
    mug = make_listing(carol.shop, title="Mug")
    data = {"buy": mug.pk, "qty": 1, "idempotency_key": "a\x00b", **ADDRESS}
    assert client.post("/shop/checkout/pay/", data).status_code == 302
    assert client.post("/shop/checkout/", data).status_code == 200
    assert not Order.objects.exists()


def test_staff_who_may_view_shops_see_a_suspended_shops_logo(client, carol, private_media):  # noqa: F811
    from django.contrib.auth.models import Permission

    from commerce.services.shops import shop_update

    shop_update(carol, shop=carol.shop, logo=png_upload())
    carol.shop.refresh_from_db()
    carol.shop.suspended_at = timezone.now()
    carol.shop.save(update_fields=["suspended_at"])
    url = f"/shop/media/logo/{carol.shop.pk}"
    staff = buyer_user("staffer", funds=None)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    client.force_login(staff)
    assert client.get(url).status_code == 404  # staff without the permission: like anyone
    staff.user_permissions.add(Permission.objects.get(codename="view_shop", content_type__app_label="commerce"))
    client.force_login(type(staff).objects.get(pk=staff.pk))
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    client.force_login(buyer_user("mallory"))
    assert client.get(url).status_code == 404


def test_posts_need_the_csrf_token(bob, carol):
    from django.test import Client

    mug = make_listing(carol.shop)
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(bob)
    assert csrf_client.post("/shop/cart/add/", {"listing": mug.pk}).status_code == 403
    body = json.dumps({"listing": mug.pk, "quantity": 1})
    assert csrf_client.post("/api/v1/cart/", body, content_type="application/json").status_code == 403
    order = make_order(bob, mug)
    csrf_client.force_login(carol)
    assert csrf_client.post(f"/shop/orders/{order.pk}/ship/", {}).status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID

"""The seller's pages: open a shop (tier 1), settings, listings (create, images, file, publish,
archive), the dashboard with its chart and the orders to fulfil, with bounded queries."""

from __future__ import annotations

import pytest

from commerce.models import Listing, ListingStatus, Shop
from commerce.tests.factories import (  # noqa: F401
    buyer_user,
    file_upload,
    make_listing,
    make_order,
    png_upload,
    private_media,
    seller_user,
)
from payments.tests.factories import sender_user

pytestmark = pytest.mark.django_db


def test_sell_explains_tier_one_first(client):
    client.force_login(sender_user("tina", tier=0))
    page = client.get("/shop/sell/").content.decode()
    assert 'data-testid="needs-tier"' in page and "/compliance/verify/" in page
    response = client.post("/shop/sell/open/", {"name": "Tina's", "slug": "tinas"})
    assert response.status_code == 403 and not Shop.objects.exists()


def test_open_a_shop(client, private_media):  # noqa: F811
    carol = sender_user("carol")
    client.force_login(carol)
    page = client.get("/shop/sell/").content.decode()
    assert 'data-testid="open-shop-link"' in page
    response = client.post(
        "/shop/sell/open/", {"name": "Carol's Cups", "slug": "carols-cups", "description": "Mugs", "logo": png_upload()}
    )
    assert response.status_code == 302 and response.url == "/shop/sell/"
    shop = Shop.objects.get(owner=carol)
    assert shop.slug == "carols-cups" and shop.logo
    page = client.get("/shop/sell/").content.decode()
    assert 'data-testid="chart"' in page and 'data-testid="nothing-to-ship"' in page
    assert client.get("/shop/sell/open/").status_code == 302  # one shop per person


def test_reserved_and_taken_slugs_are_refused(client):
    seller_user("dave", slug="daves-records")
    client.force_login(sender_user("carol"))
    for slug in ("cart", "daves-records", "Bad Slug!"):
        response = client.post("/shop/sell/open/", {"name": "X", "slug": slug})
        assert response.status_code in (400, 409), slug
    assert Shop.objects.count() == 1


def test_shop_settings(client):
    carol = seller_user("carol")
    client.force_login(carol)
    response = client.post("/shop/sell/settings/", {"name": "New name", "return_policy": "30 days"})
    assert response.status_code == 302
    carol.shop.refresh_from_db()
    assert carol.shop.name == "New name" and carol.shop.return_policy == "30 days"


def test_create_a_listing_add_an_image_and_publish(client, private_media):  # noqa: F811
    carol = seller_user("carol")
    client.force_login(carol)
    assert 'data-testid="no-listings"' in client.get("/shop/sell/listings/").content.decode()
    response = client.post(
        "/shop/sell/listings/new/",
        {
            "title": "Everything mug",
            "description": "Big",
            "category": "home",
            "kind": "physical",
            "price": "12.00",
            "currency": "USD",
            "stock": "1",
            "shipping_price": "3.00",
        },
    )
    listing = Listing.objects.get()
    assert response.status_code == 302 and response.url == f"/shop/sell/listings/{listing.pk}/edit/"
    assert listing.status == ListingStatus.DRAFT and listing.price == 1200 and listing.shipping_price == 300
    client.post(f"/shop/sell/listings/{listing.pk}/images/", {"image": png_upload(), "alt": "A mug"})
    assert listing.images.count() == 1
    page = client.get(f"/shop/sell/listings/{listing.pk}/edit/").content.decode()
    assert 'data-testid="edit-images"' in page and 'data-testid="publish"' in page
    client.post(f"/shop/sell/listings/{listing.pk}/publish/")
    listing.refresh_from_db()
    assert listing.status == ListingStatus.ACTIVE
    client.post(
        f"/shop/sell/listings/{listing.pk}/edit/",
        {
            "title": "Everything mug XL",
            "category": "home",
            "kind": "physical",
            "price": "13.50",
            "currency": "USD",
            "stock": "2",
            "shipping_price": "0",
        },
    )
    listing.refresh_from_db()
    assert listing.title == "Everything mug XL" and listing.price == 1350 and listing.stock == 2
    image = listing.images.get()
    client.post(f"/shop/sell/listings/{listing.pk}/images/{image.pk}/remove/")
    assert listing.images.count() == 0
    client.post(f"/shop/sell/listings/{listing.pk}/archive/")
    listing.refresh_from_db()
    assert listing.status == ListingStatus.ARCHIVED


def test_bad_listing_input_is_shown_not_500(client):
    client.force_login(seller_user("carol"))
    response = client.post(
        "/shop/sell/listings/new/",
        {"title": "X", "category": "home", "kind": "physical", "price": "-3", "currency": "USD", "stock": "1"},
    )
    assert response.status_code == 400 and not Listing.objects.exists()
    response = client.post(
        "/shop/sell/listings/new/",
        {"title": "X", "category": "home", "kind": "physical", "price": "3", "currency": "USD"},
    )
    assert response.status_code == 400 and "stock" in response.content.decode()


def test_digital_listing_needs_its_file_before_publishing(client, private_media):  # noqa: F811
    carol = seller_user("carol")
    client.force_login(carol)
    client.post(
        "/shop/sell/listings/new/",
        {"title": "Album", "category": "music", "kind": "digital", "price": "5.00", "currency": "USD"},
    )
    listing = Listing.objects.get()
    response = client.post(f"/shop/sell/listings/{listing.pk}/publish/", follow=True)
    listing.refresh_from_db()
    assert listing.status == ListingStatus.DRAFT and response.status_code == 200
    client.post(f"/shop/sell/listings/{listing.pk}/file/", {"file": file_upload("album.zip")})
    client.post(f"/shop/sell/listings/{listing.pk}/publish/")
    listing.refresh_from_db()
    assert listing.status == ListingStatus.ACTIVE and listing.digital_file


def test_someone_elses_listing_is_404(client):
    listing = make_listing(seller_user("carol").shop)
    client.force_login(seller_user("mallory"))
    for url in (f"/shop/sell/listings/{listing.pk}/edit/",):
        assert client.get(url).status_code == 404
    for url in ("publish", "archive", "images", "file"):
        assert client.post(f"/shop/sell/listings/{listing.pk}/{url}/").status_code == 404
    listing.refresh_from_db()
    assert listing.status == ListingStatus.ACTIVE


def test_dashboard_and_orders_to_fulfil(client, django_assert_max_num_queries):
    carol = seller_user("carol")
    listing = make_listing(carol.shop, title="Mug", price="12.00", shipping="3.00", stock=10)
    bob = buyer_user("bob", funds="500.00")
    for _ in range(3):
        make_order(bob, listing)
    client.force_login(carol)
    client.get("/shop/sell/")
    with django_assert_max_num_queries(16):
        page = client.get("/shop/sell/").content.decode()
    assert 'data-testid="stat-to-fulfil"' in page and ">3</span>" in page
    assert page.count("Order #") == 3 and "$45.00" in page and 'data-testid="sales-table"' in page
    assert "<rect" in page
    with django_assert_max_num_queries(14):
        page = client.get("/shop/sell/orders/").content.decode()
    assert page.count('data-testid="order-row"') == 3 and "@bob" in page
    assert client.get("/shop/sell/?days=abc").status_code == 200


def test_seller_pages_without_a_shop_send_to_open(client):
    client.force_login(sender_user("nobody"))
    for url in ("/shop/sell/orders/", "/shop/sell/listings/", "/shop/sell/settings/", "/shop/sell/listings/new/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url == "/shop/sell/open/", url


def test_seller_forms_render(client, private_media):  # noqa: F811
    carol = seller_user("carol")
    listing = make_listing(carol.shop, title="Mug", images=1)
    make_listing(carol.shop, title="Album", kind="digital", stock=None, status=ListingStatus.DRAFT)
    client.force_login(carol)
    for url in ("/shop/sell/listings/new/", "/shop/sell/settings/", f"/shop/sell/listings/{listing.pk}/edit/"):
        assert client.get(url).status_code == 200, url
    page = client.get("/shop/sell/listings/").content.decode()
    assert 'data-testid="seller-listings"' in page and "Mug" in page and "Album" in page
    assert "Album" in client.get("/shop/sell/listings/?status=draft").content.decode()
    assert "Mug" not in client.get("/shop/sell/listings/?status=draft").content.decode()
    album = Listing.objects.get(title="Album")
    assert 'data-testid="file-upload"' in client.get(f"/shop/sell/listings/{album.pk}/edit/").content.decode()

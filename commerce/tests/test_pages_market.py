"""The marketplace, listing, shop and media pages: search, empty states, access, bounded queries."""

from __future__ import annotations

import pytest
from django.utils import timezone

from commerce.models import ListingStatus
from commerce.tests.factories import buyer_user, make_listing, make_shop, private_media, seller_user  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol():
    return seller_user("carol")


@pytest.fixture
def bob(client):
    user = buyer_user("bob")
    client.force_login(user)
    return user


def test_anonymous_is_sent_to_log_in(client):
    response = client.get("/shop/")
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_empty_marketplace_says_what_to_do(client, bob):
    page = client.get("/shop/").content.decode()
    assert 'data-testid="market-empty"' in page and "Open a shop" in page


def test_search_finds_the_mug(client, bob, carol):
    make_listing(carol.shop, title="Everything mug", price="12.00")
    make_listing(carol.shop, title="Poster")
    page = client.get("/shop/", {"q": "mug"}).content.decode()
    assert "Everything mug" in page and "Poster" not in page and "$12.00" in page
    page = client.get("/shop/", {"q": "zebra"}).content.decode()
    assert "Nothing matches your search" in page


def test_filters_and_garbage_never_500(client, bob, carol):
    make_listing(carol.shop, title="Book", price="5.00", category="books")
    for params in (
        {"min": "x", "max": "'; drop", "sort": "???", "category": "<script>", "page": "-3"},
        {"page": "99999999999"},
        {"q": "a" * 500},
    ):
        assert client.get("/shop/", params).status_code == 200
    page = client.get("/shop/", {"category": "books", "max": "6"}).content.decode()
    assert "Book" in page


def test_marketplace_queries_are_bounded(client, bob, carol, private_media, django_assert_max_num_queries):  # noqa: F811
    for n in range(8):
        make_listing(carol.shop, title=f"Thing {n}", images=2)
    client.get("/shop/")  # warm the session
    with django_assert_max_num_queries(12):
        response = client.get("/shop/")
    assert response.content.decode().count('data-testid="listing-card"') == 8


def test_listing_page_shows_buy_and_add_to_cart(client, bob, carol, private_media, django_assert_max_num_queries):  # noqa: F811
    listing = make_listing(
        carol.shop, title="Mug", price="12.00", shipping="3.00", stock=4, ships_to=["US", "CA"], images=3
    )
    client.get("/shop/")
    with django_assert_max_num_queries(10):
        page = client.get(f"/shop/listings/{listing.pk}/").content.decode()
    assert "$12.00" in page and "$3.00" in page and "4 in stock" in page
    assert "United States" in page and "Canada" in page
    assert 'data-testid="buy-now"' in page and 'data-testid="add-to-cart"' in page
    assert page.count("/shop/media/listing/") >= 3


def test_own_listing_has_no_buy_button_and_drafts_are_private(client, carol):
    draft = make_listing(carol.shop, status=ListingStatus.DRAFT)
    client.force_login(carol)
    page = client.get(f"/shop/listings/{draft.pk}/").content.decode()
    assert 'data-testid="buy-now"' not in page and 'data-testid="edit-listing"' in page
    client.force_login(buyer_user("other"))
    assert client.get(f"/shop/listings/{draft.pk}/").status_code == 404
    assert client.get("/shop/listings/999999/").status_code == 404


def test_sold_out_listing_says_so(client, bob, carol):
    listing = make_listing(carol.shop, status=ListingStatus.SOLD_OUT, stock=0)
    page = client.get(f"/shop/listings/{listing.pk}/").content.decode()
    assert 'data-testid="sold-out"' in page and 'data-testid="buy-now"' not in page


def test_shop_page_and_reserved_words(client, bob, carol):
    make_listing(carol.shop, title="Record")
    page = client.get(f"/shop/{carol.shop.slug}/").content.decode()
    assert carol.shop.name.replace("'", "&#x27;") in page and "Record" in page
    assert client.get("/shop/no-such-shop/").status_code == 404
    # Reserved words are pages, never shops.
    assert client.get("/shop/cart/").status_code == 200
    assert client.get("/shop/orders/").status_code == 200


def test_empty_shop_page(client, bob):
    shop = make_shop(buyer_user("dan"), slug="dans-shop")
    assert "Nothing for sale here yet" in client.get(f"/shop/{shop.slug}/").content.decode()


def test_suspended_shop_is_hidden(client, bob, carol):
    listing = make_listing(carol.shop)
    carol.shop.suspended_at = timezone.now()
    carol.shop.save()
    assert client.get(f"/shop/{carol.shop.slug}/").status_code == 404
    assert client.get(f"/shop/listings/{listing.pk}/").status_code == 404


def test_listing_images_are_access_checked(client, bob, carol, private_media):  # noqa: F811
    active = make_listing(carol.shop, images=1)
    draft = make_listing(carol.shop, status=ListingStatus.DRAFT, images=1)
    response = client.get(f"/shop/media/listing/{active.images.first().pk}")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert client.get(f"/shop/media/listing/{draft.images.first().pk}").status_code == 404
    client.force_login(carol)
    assert client.get(f"/shop/media/listing/{draft.images.first().pk}").status_code == 200
    client.logout()
    assert client.get(f"/shop/media/listing/{active.images.first().pk}").status_code == 302


def test_logo_of_a_suspended_shop_is_for_its_owner_only(client, bob, carol, private_media):  # noqa: F811
    from django.core.files.base import ContentFile

    from commerce.tests.factories import png_bytes

    carol.shop.logo.save("logo.png", ContentFile(png_bytes()), save=True)
    assert client.get(f"/shop/media/logo/{carol.shop.pk}").status_code == 200
    carol.shop.suspended_at = timezone.now()
    carol.shop.save()
    assert client.get(f"/shop/media/logo/{carol.shop.pk}").status_code == 404
    client.force_login(carol)
    assert client.get(f"/shop/media/logo/{carol.shop.pk}").status_code == 200
    assert client.get("/shop/media/logo/987654").status_code == 404

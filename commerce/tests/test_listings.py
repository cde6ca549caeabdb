"""Listings: create (draft), publish rules, edit, archive, images (≤ 8, checked), digital files."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from commerce.models import ListingImage, ListingStatus
from commerce.services import (
    listing_archive,
    listing_create,
    listing_digital_file_set,
    listing_image_add,
    listing_image_remove,
    listing_publish,
    listing_update,
    shop_suspend,
)
from commerce.services.listings import NoShop, ShopSuspended, TooManyImages
from core.errors import NotFound, ValidationFailed
from core.money import Money
from payments.tests.factories import sender_user

from .factories import (
    file_upload,
    make_listing,
    png_bytes,
    png_upload,
    private_media,  # noqa: F401
    seller_user,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]


@pytest.fixture
def carol():
    return seller_user("carol")


def test_create_publish_and_archive_a_physical_listing(carol):
    listing = listing_create(
        carol,
        title="Everything mug",
        price=Money.parse("12.00", "USD"),
        stock=1,
        shipping_price=300,
        ships_to=["us", "FR", "US"],
        category="home",
    )
    assert (listing.status, listing.price, listing.shipping_price, listing.ships_to) == (
        "draft",
        1200,
        300,
        ["FR", "US"],
    )
    assert listing_publish(carol, listing=listing).status == ListingStatus.ACTIVE
    assert listing_archive(carol, listing=listing).status == ListingStatus.ARCHIVED


def test_create_refusals(carol):
    with pytest.raises(NoShop):
        listing_create(sender_user(), title="x", price=Money(100, "USD"), stock=1)
    bad = [
        {"title": "", "price": Money(100, "USD"), "stock": 1},
        {"title": "x", "price": Money(0, "USD"), "stock": 1},
        {"title": "x", "price": 100, "stock": 1},
        {"title": "x", "price": Money(100, "USD"), "stock": None},  # physical needs stock
        {"title": "x", "price": Money(100, "USD"), "stock": -1},
        {"title": "x", "price": Money(100, "USD"), "stock": 1, "ships_to": ["ZZ"]},
        {"title": "x", "price": Money(100, "USD"), "kind": "digital", "shipping_price": 100},
        {"title": "x", "price": Money(100, "USD"), "stock": 1, "category": "weapons"},
    ]
    for fields in bad:
        with pytest.raises(ValidationFailed):
            listing_create(carol, **fields)


def test_digital_listing_needs_its_file_to_publish(carol):
    album = listing_create(carol, title="Album", kind="digital", price=Money(500, "USD"))
    assert album.stock is None
    with pytest.raises(ValidationFailed) as error:
        listing_publish(carol, listing=album)
    assert error.value.code == "digital_file_missing"
    listing_digital_file_set(carol, listing=album, file=file_upload("../../etc/Album.zip"))
    album.refresh_from_db()
    assert album.digital_file_name == "Album.zip"
    assert "etc" not in album.digital_file.name and album.digital_file.name.endswith(".zip")
    assert listing_publish(carol, listing=album).status == ListingStatus.ACTIVE


def test_physical_needs_stock_to_publish_and_stock_drives_sold_out(carol):
    listing = make_listing(carol.shop, stock=0, status=ListingStatus.DRAFT)
    with pytest.raises(ValidationFailed):
        listing_publish(carol, listing=listing)
    listing_update(carol, listing=listing, stock=2)
    listing_publish(carol, listing=listing)
    assert listing_update(carol, listing=listing, stock=0).status == ListingStatus.SOLD_OUT
    assert listing_update(carol, listing=listing, stock=3).status == ListingStatus.ACTIVE
    updated = listing_update(carol, listing=listing, title="New title", price=Money.parse("9.99", "EUR"))
    assert (updated.title, updated.price, updated.currency) == ("New title", 999, "EUR")
    with pytest.raises(ValidationFailed):
        listing_update(carol, listing=listing, shop=1)


def test_only_the_owner_acts_on_a_listing(carol):
    listing = make_listing(carol.shop, status=ListingStatus.DRAFT)
    eve = seller_user("eve")
    for action in (
        lambda: listing_update(eve, listing=listing, title="Mine"),
        lambda: listing_publish(eve, listing=listing),
        lambda: listing_archive(eve, listing=listing.pk),
        lambda: listing_image_add(eve, listing=listing, file=png_upload()),
        lambda: listing_digital_file_set(eve, listing=listing, file=file_upload()),
    ):
        with pytest.raises(NotFound):
            action()


def test_suspended_shop_cannot_create_or_publish(carol):
    listing = make_listing(carol.shop, status=ListingStatus.DRAFT)
    shop_suspend(sender_user("staffer", is_staff=True), shop=carol.shop, reason="Review")
    with pytest.raises(ShopSuspended):
        listing_create(carol, title="x", price=Money(100, "USD"), stock=1)
    with pytest.raises(ShopSuspended):
        listing_publish(carol, listing=listing)


def test_images_are_checked_stripped_and_limited_to_eight(carol):
    listing = make_listing(carol.shop)
    images = [listing_image_add(carol, listing=listing, file=png_upload(), alt=f"view {i}") for i in range(8)]
    assert [i.position for i in images] == list(range(8))
    assert images[0].content_type == "image/png" and (images[0].width, images[0].height) == (64, 48)
    with pytest.raises(TooManyImages):
        listing_image_add(carol, listing=listing, file=png_upload())
    listing_image_remove(carol, image=images[3])
    again = listing_image_add(carol, listing=listing, file=png_upload())
    assert again.position == 3
    with pytest.raises(NotFound):
        listing_image_remove(seller_user("eve"), image=again)
    for bad in (SimpleUploadedFile("x.png", b"GIF89a nope"), SimpleUploadedFile("x.txt", b"hello")):
        with pytest.raises(ValidationFailed):
            listing_image_add(carol, listing=make_listing(carol.shop), file=bad)
    assert ListingImage.objects.filter(listing=listing).count() == 8


def test_image_metadata_is_stripped(carol):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    Image.new("RGB", (40, 30)).save(buffer, format="JPEG", exif=exif.tobytes())
    image = listing_image_add(
        carol, listing=make_listing(carol.shop), file=SimpleUploadedFile("p.jpg", buffer.getvalue())
    )
    with image.file.open("rb") as handle:
        assert b"PhoneMaker" not in handle.read()
    assert png_bytes()  # the helper others use works

"""Helpers for commerce tests: sellers with shops, listings, funded buyers and paid orders.

Shops and listings are made straight in the database (fast, no service rules in the way);
orders always go through ``commerce.services.checkout.checkout_pay`` so the money really is
in escrow and the ledger invariants hold. Point ``PRIVATE_MEDIA_ROOT`` at a temporary folder
in tests that store files (``private_media`` fixture below, or ``settings`` yourself).

    seller = seller_user("carol")            # tier-1 user with a shop "carol's shop" (slug "carol-shop")
    mug = make_listing(seller.shop, title="Mug", price="12.00", stock=1, shipping="3.00")
    bob = buyer_user("bob", funds="100.00")
    order = make_order(bob, mug)             # paid, in escrow (status "paid")
"""

from __future__ import annotations

import io
import itertools

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from core.money import Money
from payments.tests.factories import fund, sender_user

from ..models import CommerceSettings, Listing, ListingImage, ListingKind, ListingStatus, Shop

ADDRESS = {
    "name": "Bob Buyer",
    "line1": "1 Main Street",
    "line2": "",
    "city": "Springfield",
    "postcode": "12345",
    "country": "US",
}

_seq = itertools.count(1)


@pytest.fixture
def private_media(settings, tmp_path):
    """Private files (logos, listing images, digital goods, evidence) under a temporary folder."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


def set_fee_bps(bps: int) -> CommerceSettings:
    row, _ = CommerceSettings.objects.update_or_create(pk=1, defaults={"fee_bps": bps})
    return row


def png_bytes(size=(64, 48), colour=(10, 120, 200), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


def png_upload(name: str = "photo.png", **kwargs) -> SimpleUploadedFile:
    """An uploaded PNG (what a form or the API hands a service)."""
    return SimpleUploadedFile(name, png_bytes(**kwargs), content_type="image/png")


def pdf_upload(name: str = "receipt.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name, b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", content_type="application/pdf"
    )


def file_upload(name: str = "album.zip", content: bytes = b"PK\x03\x04 digital goods") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def make_shop(owner=None, *, name: str | None = None, slug: str | None = None, **fields) -> Shop:
    """A shop for ``owner`` (default: a new tier-1 user), made directly in the database."""
    if owner is None:
        owner = sender_user()
    n = next(_seq)
    slug = slug or f"{owner.handle}-shop".replace("_", "-")[:50] or f"shop-{n}"
    return Shop.objects.create(owner=owner, name=name or f"{owner.handle}'s shop", slug=slug, **fields)


def seller_user(handle: str | None = None, *, currency: str = "USD", country: str = "US", **shop_fields):
    """A tier-1 user with a shop (``user.shop``)."""
    user = sender_user(handle, currency=currency, country=country)
    make_shop(user, **shop_fields)
    return user


def buyer_user(handle: str | None = None, *, funds: str | None = "100.00", currency: str = "USD", **kwargs):
    """A tier-1 user with ``funds`` in their ``currency`` wallet (None: no money)."""
    user = sender_user(handle, currency=currency, **kwargs)
    if funds is not None:
        fund(user, funds, currency)
    return user


def _minor(value, currency: str) -> int:
    if isinstance(value, int):
        return value
    return Money.parse(value, currency).amount


def make_listing(
    shop: Shop | None = None,
    *,
    title: str | None = None,
    price: str | int = "10.00",
    currency: str = "USD",
    stock: int | None = 5,
    kind: str = ListingKind.PHYSICAL,
    shipping: str | int = 0,
    ships_to: list[str] | None = None,
    status: str = ListingStatus.ACTIVE,
    category: str = "other",
    description: str = "",
    digital_content: bytes | None = None,
    images: int = 0,
) -> Listing:
    """A listing made directly in the database (default: active, physical, $10.00, stock 5).

    ``price``/``shipping``: "12.00" strings or minor-unit ints. A digital listing gets a small file
    (``digital_content``) and no shipping; ``images`` adds that many PNG images. Needs
    ``private_media`` (or PRIVATE_MEDIA_ROOT set) when it stores files.
    """
    if shop is None:
        shop = seller_user().shop
    n = next(_seq)
    digital = kind == ListingKind.DIGITAL
    listing = Listing.objects.create(
        shop=shop,
        title=title or f"Item {n}",
        description=description,
        category=category,
        kind=kind,
        price=_minor(price, currency),
        currency=currency,
        stock=stock,
        shipping_price=0 if digital else _minor(shipping, currency),
        ships_to=list(ships_to or []),
        status=status,
    )
    if digital:
        content = digital_content if digital_content is not None else b"the digital goods " * 10
        listing.digital_file.save(f"{n:06d}.bin", ContentFile(content), save=False)
        listing.digital_file_name = f"{listing.title}.zip"
        listing.save(update_fields=["digital_file", "digital_file_name"])
    for position in range(images):
        make_listing_image(listing, position=position)
    return listing


def make_listing_image(listing: Listing, *, position: int | None = None, alt: str = "") -> ListingImage:
    if position is None:
        position = listing.images.count()
    image = ListingImage(listing=listing, position=position, content_type="image/png", width=64, height=48, alt=alt)
    image.file.save(f"{next(_seq):06d}.png", ContentFile(png_bytes()), save=False)
    image.save()
    return image


def make_order(
    buyer=None,
    listing: Listing | None = None,
    *,
    quantity: int = 1,
    address: dict | None = None,
    pay_currency: str | None = None,
    key: str | None = None,
):
    """A paid order (in escrow) of ``quantity`` × ``listing`` through the real checkout (Buy now).

    Default buyer: a new user with $100.00; default listing: a new $10.00 physical item.
    """
    from ..services.checkout import checkout_pay

    if listing is None:
        listing = make_listing()
    if buyer is None:
        buyer = buyer_user(funds="1000.00", currency=listing.currency)
    if address is None and listing.kind == ListingKind.PHYSICAL:
        address = ADDRESS
    orders = checkout_pay(
        buyer,
        buy_now=(listing.pk, quantity),
        pay_currency=pay_currency,
        address=address,
        idempotency_key=key or f"test-order-{next(_seq)}",
    )
    return orders[0]


def make_cart_order(buyer, *, address: dict | None = None, key: str | None = None, pay_currency: str | None = None):
    """Pay ``buyer``'s whole cart; returns the list of orders (one per shop)."""
    from ..services.checkout import checkout_pay

    return checkout_pay(
        buyer, address=address or ADDRESS, pay_currency=pay_currency, idempotency_key=key or f"test-cart-{next(_seq)}"
    )

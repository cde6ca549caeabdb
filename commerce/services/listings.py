"""Listings: create (draft), edit, publish, archive; their images and digital files.

Only the shop's owner acts on a listing (anyone else: NotFound, as if it did not exist).
Images are checked from their bytes (``core.images``: JPEG, PNG, GIF or WebP), re-encoded
without metadata, at most ``LISTING_MAX_IMAGES`` (8) per listing, ≤ 10 MB each, stored
privately under random names. A digital file (≤ 50 MB, any type) is stored privately and only
ever served to buyers through ``orders.order_download``'s access check.

Stock: an int ≥ 0 for physical items (required), or None (unlimited, digital goods only).
Publishing needs a price (always set), a digital file for a digital listing and stock > 0 for
a physical one; a listing whose stock reaches 0 becomes ``sold_out`` (and ``active`` again
when the seller adds stock).
"""

from __future__ import annotations

import os
import secrets

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django_countries import countries

from core.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from core.images import DECODE_ERRORS, ImageInvalid, as_file, file_size, sniff_image, strip_metadata
from core.money import Money, check_amount_minor, format_money
from payments.services.common import check_text

from ..models import (
    LISTING_MAX_IMAGES,
    Category,
    Listing,
    ListingImage,
    ListingKind,
    ListingStatus,
    Shop,
)

IMAGE_MAX_BYTES = 10 * 1024 * 1024
DIGITAL_MAX_BYTES = 50 * 1024 * 1024
STOCK_MAX = 1_000_000

__all__ = [
    "check_text",
    "image_prepare",
    "listing_archive",
    "listing_create",
    "listing_digital_file_set",
    "listing_image_add",
    "listing_image_remove",
    "listing_publish",
    "listing_update",
]


class NoShop(NotPermitted):
    code = "no_shop"
    default_message = "Open a shop first at /shop/sell/open/."


class ShopSuspended(NotPermitted):
    code = "shop_suspended"
    default_message = "Your shop is suspended; contact support."


class TooManyImages(ValidationFailed):
    code = "too_many_images"
    default_message = f"A listing has at most {LISTING_MAX_IMAGES} images; remove one first."


# --- shared checks ------------------------------------------------------------------------


def image_prepare(upload, *, max_bytes: int, field: str = "file", label: str = "image") -> tuple[ContentFile, object]:
    """A checked image upload re-encoded without metadata, named ``<random>.<ext>``; raises ImageInvalid."""
    handle = as_file(upload)
    if handle is None:
        raise ImageInvalid(f"Choose an image for the {label}.", fields={field: ["Required."]})
    if file_size(handle) > max_bytes:
        raise ImageInvalid(
            f"That {label} is larger than {max_bytes // (1024 * 1024)} MB.", fields={field: ["Too large."]}
        )
    try:
        sniffed = sniff_image(handle)
    except ImageInvalid as error:
        raise ImageInvalid(error.message, fields={field: [error.message]}) from None
    if sniffed is None:
        raise ImageInvalid(f"The {label} must be a JPEG, PNG, GIF or WebP image.", fields={field: ["Not an image."]})
    try:
        stripped = strip_metadata(handle, sniffed)
    except DECODE_ERRORS:
        raise ImageInvalid("That image is damaged or incomplete.", fields={field: ["Damaged."]}) from None
    if stripped is not None:
        data_file, _size, sniffed = stripped
        data = data_file.read()
    else:
        handle.seek(0)
        data = handle.read()
    return ContentFile(data, name=f"{secrets.token_hex(16)}.{sniffed.extension}"), sniffed


def own_shop_of(user) -> Shop:
    shop = Shop.objects.filter(owner_id=getattr(user, "pk", None)).first()
    if shop is None:
        raise NoShop()
    return shop


def _own_listing(user, listing, *, lock: bool = False) -> Listing:
    pk = listing.pk if isinstance(listing, Listing) else listing
    if isinstance(pk, bool) or not isinstance(pk, int):
        raise NotFound("That listing does not exist.", code="listing_not_found")
    queryset = Listing.objects.select_related("shop")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    found = queryset.filter(pk=pk, shop__owner_id=getattr(user, "pk", None)).first()
    if found is None:
        raise NotFound("That listing does not exist.", code="listing_not_found")
    return found


def _check_price(price: object) -> Money:
    if not isinstance(price, Money):
        raise ValidationFailed("Enter a price.", code="invalid_price", fields={"price": ["Required."]})
    try:
        check_amount_minor(price.amount)
    except ValidationFailed as error:
        raise ValidationFailed(error.message, code="invalid_price", fields={"price": [error.message]}) from None
    return price


def _check_stock(stock: object, kind: str) -> int | None:
    if stock is None:
        if kind == ListingKind.PHYSICAL:
            raise ValidationFailed(
                "Say how many you have in stock.", code="invalid_stock", fields={"stock": ["Required."]}
            )
        return None
    if isinstance(stock, bool) or not isinstance(stock, int) or not 0 <= stock <= STOCK_MAX:
        raise ValidationFailed(
            f"Stock is a whole number from 0 to {STOCK_MAX:,}.", code="invalid_stock", fields={"stock": ["Invalid."]}
        )
    return stock


def _check_shipping(shipping_price: object, kind: str) -> int:
    if shipping_price in (None, 0):
        return 0
    if kind == ListingKind.DIGITAL:
        raise ValidationFailed(
            "Digital goods have no shipping.", code="invalid_shipping", fields={"shipping_price": ["Must be 0."]}
        )
    try:
        return check_amount_minor(shipping_price, allow_zero=True)
    except ValidationFailed as error:
        raise ValidationFailed(
            error.message, code="invalid_shipping", fields={"shipping_price": [error.message]}
        ) from None


def _check_ships_to(ships_to: object, kind: str) -> list[str]:
    if not ships_to or kind == ListingKind.DIGITAL:
        return []
    if isinstance(ships_to, str):
        ships_to = list(ships_to.replace(";", ",").split(","))
    if not isinstance(ships_to, (list, tuple, set, frozenset)) or len(ships_to) > 250:
        raise ValidationFailed("Ships-to is a list of countries.", fields={"ships_to": ["Invalid."]})
    codes = []
    for code in ships_to:
        if not isinstance(code, str) or not code.strip():
            continue
        code = code.strip().upper()
        if code not in countries:
            raise ValidationFailed(
                f"“{code[:10]}” is not a country code (use two letters, like US or FR).",
                code="invalid_country",
                fields={"ships_to": ["Unknown country."]},
            )
        if code not in codes:
            codes.append(code)
    return sorted(codes)


def _check_choice(value: object, choices, *, field: str, label: str) -> str:
    if value not in choices.values:
        raise ValidationFailed(f"Choose a {label}.", fields={field: ["Not a choice."]})
    return value


# --- create / edit ------------------------------------------------------------------------


def listing_create(
    user,
    *,
    title,
    description="",
    category="other",
    kind="physical",
    price: Money,
    stock: int | None = None,
    shipping_price: int = 0,
    ships_to: list[str] | None = None,
) -> Listing:
    """A draft listing in ``user``'s shop. Raises NoShop, ShopSuspended, ValidationFailed."""
    shop = own_shop_of(user)
    if shop.is_suspended:
        raise ShopSuspended()
    kind = _check_choice(kind, ListingKind, field="kind", label="kind of item")
    listing = Listing(
        shop=shop,
        title=check_text(title, field="title", label="title", max_length=120, required=True),
        description=check_text(description, field="description", label="description", max_length=5000),
        category=_check_choice(category, Category, field="category", label="category"),
        kind=kind,
        stock=_check_stock(stock, kind),
        shipping_price=_check_shipping(shipping_price, kind),
        ships_to=_check_ships_to(ships_to, kind),
    )
    price = _check_price(price)
    listing.price, listing.currency = price.amount, price.currency
    listing.save()
    return listing


EDITABLE_FIELDS = {"title", "description", "category", "price", "stock", "shipping_price", "ships_to", "kind"}


def listing_update(user, *, listing, **fields) -> Listing:
    """Change a listing's fields (only those given). ``kind`` only while it is a draft.

    Stock changes keep the status right: 0 → sold_out, > 0 on a sold-out listing → active.
    Orders already paid keep their own snapshots (title, price). Raises NotFound, ValidationFailed.
    """
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValidationFailed(f"Cannot change {', '.join(sorted(unknown))}.", code="invalid_field")
    with transaction.atomic():
        listing = _own_listing(user, listing, lock=True)
        if listing.status == ListingStatus.ARCHIVED and fields:
            raise Conflict("An archived listing cannot be edited.", code="listing_archived")
        kind = listing.kind
        if "kind" in fields and fields["kind"] != listing.kind:
            if listing.status != ListingStatus.DRAFT:
                raise Conflict("The kind of a published listing cannot change.", code="kind_locked")
            kind = _check_choice(fields["kind"], ListingKind, field="kind", label="kind of item")
            listing.kind = kind
            if kind == ListingKind.DIGITAL:
                listing.shipping_price, listing.ships_to = 0, []
                if "stock" not in fields:
                    listing.stock = None
            elif listing.stock is None and "stock" not in fields:
                listing.stock = 0
        if "title" in fields:
            listing.title = check_text(fields["title"], field="title", label="title", max_length=120, required=True)
        if "description" in fields:
            listing.description = check_text(
                fields["description"], field="description", label="description", max_length=5000
            )
        if "category" in fields:
            listing.category = _check_choice(fields["category"], Category, field="category", label="category")
        if "price" in fields:
            price = _check_price(fields["price"])
            listing.price, listing.currency = price.amount, price.currency
        if "stock" in fields:
            listing.stock = _check_stock(fields["stock"], kind)
        if "shipping_price" in fields:
            listing.shipping_price = _check_shipping(fields["shipping_price"], kind)
        if "ships_to" in fields:
            listing.ships_to = _check_ships_to(fields["ships_to"], kind)
        if kind == ListingKind.PHYSICAL and listing.stock is None:
            raise ValidationFailed(
                "Say how many you have in stock.", code="invalid_stock", fields={"stock": ["Required."]}
            )
        if listing.status == ListingStatus.ACTIVE and listing.stock == 0:
            listing.status = ListingStatus.SOLD_OUT
        elif listing.status == ListingStatus.SOLD_OUT and (listing.stock is None or listing.stock > 0):
            listing.status = ListingStatus.ACTIVE
        listing.save()
    return listing


def listing_publish(user, *, listing) -> Listing:
    """Make a draft (or archived) listing active. Needs a digital file (digital) or stock > 0 (physical)."""
    with transaction.atomic():
        listing = _own_listing(user, listing, lock=True)
        if listing.shop.is_suspended:
            raise ShopSuspended()
        if listing.status == ListingStatus.ACTIVE:
            return listing
        if listing.kind == ListingKind.DIGITAL and not listing.digital_file:
            raise ValidationFailed(
                "Add the file buyers will download before publishing.",
                code="digital_file_missing",
                fields={"digital_file": ["Required."]},
            )
        if listing.kind == ListingKind.PHYSICAL and not listing.stock:
            raise ValidationFailed(
                "Add stock before publishing.", code="no_stock", fields={"stock": ["Must be at least 1."]}
            )
        if listing.price <= 0:  # the database refuses it anyway
            raise ValidationFailed("Set a price.", code="invalid_price")
        listing.status = ListingStatus.ACTIVE
        listing.save(update_fields=["status", "updated_at"])
    return listing


def listing_archive(user, *, listing) -> Listing:
    """Take a listing off the marketplace (it stays on paid orders). Idempotent."""
    with transaction.atomic():
        listing = _own_listing(user, listing, lock=True)
        if listing.status != ListingStatus.ARCHIVED:
            listing.status = ListingStatus.ARCHIVED
            listing.save(update_fields=["status", "updated_at"])
    return listing


# --- images and files ---------------------------------------------------------------------


def listing_image_add(user, *, listing, file, alt="") -> ListingImage:
    """Add a checked image (≤ 10 MB, ≤ 8 per listing), metadata stripped, at the first free position."""
    alt = check_text(alt, field="alt", label="description", max_length=420)
    prepared, sniffed = image_prepare(file, max_bytes=IMAGE_MAX_BYTES, field="file")
    with transaction.atomic():
        listing = _own_listing(user, listing, lock=True)  # serialises positions
        taken = set(listing.images.values_list("position", flat=True))
        free = [p for p in range(LISTING_MAX_IMAGES) if p not in taken]
        if not free:
            raise TooManyImages()
        image = ListingImage(
            listing=listing,
            position=free[0],
            content_type=sniffed.content_type,
            width=sniffed.width or 1,
            height=sniffed.height or 1,
            alt=alt,
        )
        image.file.save(prepared.name, prepared, save=False)
        try:
            image.save()
        except IntegrityError:
            image.file.storage.delete(image.file.name)
            raise TooManyImages() from None
    return image


def listing_image_remove(user, *, image) -> None:
    """Delete one of the owner's listing images (the file goes once the transaction commits)."""
    pk = image.pk if isinstance(image, ListingImage) else image
    if isinstance(pk, bool) or not isinstance(pk, int):
        raise NotFound("That image does not exist.", code="image_not_found")
    with transaction.atomic():
        found = (
            ListingImage.objects.select_for_update()
            .filter(pk=pk, listing__shop__owner_id=getattr(user, "pk", None))
            .first()
        )
        if found is None:
            raise NotFound("That image does not exist.", code="image_not_found")
        storage, name = found.file.storage, found.file.name
        found.delete()
        transaction.on_commit(lambda: storage.delete(name))


def _safe_display_name(name: object) -> str:
    base = os.path.basename(str(name or "")).replace("\x00", "").strip()
    return (base or "download")[:200]


def listing_digital_file_set(user, *, listing, file) -> Listing:
    """Attach (or replace) the file a digital listing delivers. ≤ 50 MB, any type, stored privately."""
    handle = as_file(file)
    if handle is None:
        raise ValidationFailed("Choose a file.", code="file_missing", fields={"digital_file": ["Required."]})
    size = file_size(handle)
    if size <= 0:
        raise ValidationFailed("That file is empty.", code="file_empty", fields={"digital_file": ["Empty."]})
    if size > DIGITAL_MAX_BYTES:
        raise ValidationFailed(
            f"The file is larger than {DIGITAL_MAX_BYTES // (1024 * 1024)} MB.",
            code="file_too_large",
            fields={"digital_file": ["Too large."]},
        )
    display = _safe_display_name(getattr(file, "name", "") or getattr(handle, "name", ""))
    extension = os.path.splitext(display)[1].lower()[:10]
    if extension and not extension[1:].isalnum():
        extension = ""
    with transaction.atomic():
        listing = _own_listing(user, listing, lock=True)
        if listing.kind != ListingKind.DIGITAL:
            raise ValidationFailed("Only digital listings have a file.", code="not_digital")
        old = listing.digital_file.name if listing.digital_file else ""
        handle.seek(0)
        listing.digital_file.save(f"{secrets.token_hex(16)}{extension}", handle, save=False)
        listing.digital_file_name = display
        listing.save(update_fields=["digital_file", "digital_file_name", "updated_at"])
        if old:
            storage = listing.digital_file.storage
            transaction.on_commit(lambda: storage.delete(old))
    return listing


def price_label(listing: Listing) -> str:
    return format_money(listing.price, listing.currency)

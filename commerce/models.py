"""The marketplace: shops, listings, carts, orders held in escrow, refunds and disputes.

Money never lives here: an order's payment moves buyer wallet → the ESCROW system account
(ledger), and release / refund / dispute outcomes move it on from there (``commerce.services``).
These rows say what each movement was and keep an order's history (``OrderEvent``) for its
status timeline.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django_countries.fields import CountryField

from core.money import CURRENCY_CHOICES, format_money
from core.storage import PrivateStorage

LISTING_MAX_IMAGES = 8

_shop_storage = PrivateStorage("shops")
_listing_storage = PrivateStorage("listings")
_digital_storage = PrivateStorage("digital")
_evidence_storage = PrivateStorage("disputes")


def shop_storage() -> PrivateStorage:
    return _shop_storage


def listing_storage() -> PrivateStorage:
    return _listing_storage


def digital_storage() -> PrivateStorage:
    return _digital_storage


def evidence_storage() -> PrivateStorage:
    return _evidence_storage


def shop_logo_path(instance, filename: str) -> str:
    # Never the user's file name on disk: callers name files randomly ("<hex>.<ext>").
    return f"{instance.pk or 'new'}/{filename}"


def listing_image_path(instance, filename: str) -> str:
    return f"{instance.listing_id}/{filename}"


def digital_file_path(instance, filename: str) -> str:
    return f"{instance.pk or 'new'}/{filename}"


def evidence_path(instance, filename: str) -> str:
    return f"{instance.dispute_id}/{filename}"


class CommerceSettings(models.Model):
    """One row (pk=1), edited by staff in the admin: the platform fee."""

    fee_bps = models.PositiveIntegerField(default=250, help_text="Platform fee in basis points (250 = 2.5%).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "commerce settings"
        verbose_name_plural = "commerce settings"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="commerce_settings_singleton"),
            models.CheckConstraint(condition=Q(fee_bps__lte=3000), name="commerce_fee_at_most_30_percent"),
        ]

    def __str__(self) -> str:
        return f"Platform fee {self.fee_bps / 100:.2f}%"


class Shop(models.Model):
    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="shop")
    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=50, unique=True)
    description = models.TextField(max_length=2000, blank=True)
    logo = models.FileField(upload_to=shop_logo_path, storage=shop_storage, max_length=255, blank=True)
    return_policy = models.TextField(max_length=2000, blank=True)
    # Staff suspension: the shop and its listings disappear from the marketplace; open orders go on.
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class ListingKind(models.TextChoices):
    PHYSICAL = "physical", "Physical item"
    DIGITAL = "digital", "Digital download"


class ListingStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    SOLD_OUT = "sold_out", "Sold out"
    ARCHIVED = "archived", "Archived"


class Category(models.TextChoices):
    ART = "art", "Art"
    BOOKS = "books", "Books"
    CLOTHING = "clothing", "Clothing"
    HOME = "home", "Home and kitchen"
    MUSIC = "music", "Music"
    ELECTRONICS = "electronics", "Electronics"
    DIGITAL = "digital", "Digital goods"
    OTHER = "other", "Other"


class Listing(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="listings")
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=5000, blank=True)
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.OTHER)
    kind = models.CharField(max_length=16, choices=ListingKind.choices, default=ListingKind.PHYSICAL)
    price = models.BigIntegerField()  # minor units of currency
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    stock = models.PositiveIntegerField(null=True, blank=True)  # None = unlimited (digital goods)
    shipping_price = models.BigIntegerField(default=0)  # physical only, per order line
    ships_to = models.JSONField(default=list, blank=True)  # ISO country codes; [] = everywhere
    digital_file = models.FileField(upload_to=digital_file_path, storage=digital_storage, max_length=255, blank=True)
    digital_file_name = models.CharField(max_length=200, blank=True)  # shown to the buyer
    status = models.CharField(max_length=16, choices=ListingStatus.choices, default=ListingStatus.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="commerce_listing_price_positive"),
            models.CheckConstraint(condition=Q(shipping_price__gte=0), name="commerce_listing_shipping_not_negative"),
            models.CheckConstraint(
                condition=Q(kind="physical") | Q(shipping_price=0), name="commerce_listing_digital_no_shipping"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-id"], name="commerce_listing_browse_idx"),
            models.Index(fields=["status", "category", "-id"], name="commerce_listing_category_idx"),
            models.Index(fields=["status", "price"], name="commerce_listing_price_idx"),
            models.Index(fields=["shop", "status", "-id"], name="commerce_listing_shop_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({format_money(self.price, self.currency)})"


class ListingImage(models.Model):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=listing_image_path, storage=listing_storage, max_length=255)
    content_type = models.CharField(max_length=32)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    alt = models.CharField("description", max_length=420, blank=True)

    class Meta:
        ordering = ["listing", "position"]
        constraints = [
            models.UniqueConstraint(fields=["listing", "position"], name="commerce_listingimage_position_unique"),
            models.CheckConstraint(
                condition=Q(position__lt=LISTING_MAX_IMAGES), name="commerce_listingimage_at_most_eight"
            ),
        ]

    def __str__(self) -> str:
        return f"Image {self.position} of listing {self.listing_id}"


class CartItem(models.Model):
    """The cart is the buyer's CartItems (one row per listing)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cart_items")
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "listing"], name="commerce_cart_one_row_per_listing"),
            models.CheckConstraint(condition=Q(quantity__gte=1, quantity__lte=99), name="commerce_cart_quantity_range"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × listing {self.listing_id}"


class Checkout(models.Model):
    """One checkout (a cart paid at once): the idempotency unit; it makes one order per seller."""

    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="checkouts")
    idempotency_key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["buyer", "idempotency_key"], name="commerce_checkout_idempotency_unique")
        ]

    def __str__(self) -> str:
        return f"Checkout #{self.pk}"


class OrderStatus(models.TextChoices):
    PAID = "paid", "Paid (in escrow)"
    SHIPPED = "shipped", "Shipped"
    RELEASED = "released", "Completed"  # received (or downloaded, or auto-released): money to the seller
    DISPUTED = "disputed", "Disputed"
    REFUNDED = "refunded", "Refunded"  # in full (before or after release)


OPEN_ORDER_STATUSES = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DISPUTED)


class Order(models.Model):
    checkout = models.ForeignKey(Checkout, on_delete=models.PROTECT, related_name="orders")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.PAID)
    # In the listings' currency (one currency per order), minor units.
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    subtotal = models.BigIntegerField()
    shipping = models.BigIntegerField(default=0)
    total = models.BigIntegerField()  # subtotal + shipping: what went into escrow
    # What left the buyer's wallet, when they paid from another currency (FX), else = total / currency.
    paid_amount = models.BigIntegerField()
    paid_currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    fee_bps = models.PositiveIntegerField()  # the platform fee in force when the order was paid
    fee = models.BigIntegerField(default=0)  # the fee actually taken, set at release
    refunded = models.BigIntegerField(default=0)  # refunded to the buyer so far (order currency)
    released = models.BigIntegerField(default=0)  # paid out to the seller (after fee)
    is_digital = models.BooleanField(default=False)  # every line digital: releases on download / 72 h
    # Shipping address (physical goods).
    ship_name = models.CharField(max_length=120, blank=True)
    ship_line1 = models.CharField(max_length=200, blank=True)
    ship_line2 = models.CharField(max_length=200, blank=True)
    ship_city = models.CharField(max_length=100, blank=True)
    ship_postcode = models.CharField(max_length=20, blank=True)
    ship_country = CountryField(blank=True)
    carrier = models.CharField(max_length=60, blank=True)
    tracking_number = models.CharField(max_length=60, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    # Received (buyer confirmed), downloaded, or auto-released: the dispute window runs from here.
    delivered_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    auto_release_at = models.DateTimeField(null=True, blank=True)  # shipped + 14 days, or paid + 72 h (digital)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(subtotal__gt=0), name="commerce_order_subtotal_positive"),
            models.CheckConstraint(condition=Q(total=F("subtotal") + F("shipping")), name="commerce_order_total_sum"),
            models.CheckConstraint(
                condition=Q(refunded__gte=0, refunded__lte=F("total")), name="commerce_order_refund_range"
            ),
            models.CheckConstraint(condition=Q(fee__gte=0, released__gte=0), name="commerce_order_payout_not_negative"),
            models.CheckConstraint(condition=Q(paid_amount__gt=0), name="commerce_order_paid_positive"),
        ]
        indexes = [
            models.Index(fields=["buyer", "-id"], name="commerce_order_buyer_idx"),
            models.Index(fields=["shop", "status", "-id"], name="commerce_order_shop_idx"),
            models.Index(fields=["status", "-id"], name="commerce_order_status_idx"),
            models.Index(
                fields=["auto_release_at"],
                condition=Q(status__in=["paid", "shipped"]),
                name="commerce_order_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk} {format_money(self.total, self.currency)} ({self.status})"


class OrderItem(models.Model):
    """A line of an order, with the listing as it was when bought (title and price snapshots)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="order_items")
    title = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=ListingKind.choices)
    unit_price = models.BigIntegerField()
    quantity = models.PositiveIntegerField()
    shipping = models.BigIntegerField(default=0)
    downloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(unit_price__gt=0, quantity__gte=1), name="commerce_orderitem_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.title}"

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


class OrderEvent(models.Model):
    """The order's status timeline (append-only)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=16, choices=OrderStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)
    amount = models.BigIntegerField(null=True, blank=True)  # a refund's or release's amount
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"Order {self.order_id}: {self.status}"


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    amount = models.BigIntegerField()  # order currency
    reason = models.CharField(max_length=500, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    after_release = models.BooleanField(default=False)  # taken from the seller's wallet, not escrow
    # Of an after-release refund: the part the seller's wallet could not cover, advanced by the
    # platform and added to the seller's debt (ShopDebt).
    advanced = models.BigIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL: no key
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="commerce_refund_positive"),
            models.CheckConstraint(
                condition=Q(advanced__gte=0, advanced__lte=F("amount")), name="commerce_refund_advanced_range"
            ),
            models.UniqueConstraint(
                fields=["order", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="commerce_refund_idempotency_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {format_money(self.amount, self.order.currency)} on order {self.order_id}"


class ShopDebt(models.Model):
    """What a seller owes the platform (per currency) after refunds their wallet could not cover.

    Recovered first from the seller's next releases (``commerce.services``); shown on the seller
    dashboard. ``amount`` only goes up by an advance and down by a recovery, never below zero.
    """

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="debts")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "currency"], name="commerce_shopdebt_one_per_currency"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="commerce_shopdebt_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.shop} owes {format_money(self.amount, self.currency)}"


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class DisputeOutcome(models.TextChoices):
    REFUND = "refund", "Refund the buyer"
    RELEASE = "release", "Release to the seller"
    SPLIT = "split", "Split"


class Dispute(models.Model):
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="dispute")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=2000)
    status = models.CharField(max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    outcome = models.CharField(max_length=16, choices=DisputeOutcome.choices, blank=True)
    refund_amount = models.BigIntegerField(null=True, blank=True)  # to the buyer, on resolution
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_note = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "id"], name="commerce_dispute_queue_idx")]

    def __str__(self) -> str:
        return f"Dispute on order {self.order_id} ({self.status})"


class DisputeEvidence(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="evidence")
    file = models.FileField(upload_to=evidence_path, storage=evidence_storage, max_length=255)
    content_type = models.CharField(max_length=32)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Evidence for dispute {self.dispute_id}"


class PostListing(models.Model):
    """A social post that shows a listing with a Buy button (when the social app is installed)."""

    post = models.OneToOneField("social.Post", on_delete=models.CASCADE, related_name="listing_link")
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="post_links")

    def __str__(self) -> str:
        return f"Post {self.post_id} → listing {self.listing_id}"

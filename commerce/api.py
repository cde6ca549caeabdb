"""API of commerce under /api/v1/: shops, listings, the cart, checkout, orders and their actions.

Thin (DESIGN §6): parse strictly, call ``commerce.services`` / ``commerce.selectors``, serialise.
Money is a decimal string in major units (``"12.50"``) with its currency; JSON numbers are refused
for amounts. Someone else's order, a draft listing of another shop or a suspended shop is a 404.
Checkout needs an ``Idempotency-Key`` header (the key is also the checkout's own idempotency key,
so a retry after a late failure moves nothing twice); a refund takes an optional one.
"""

from __future__ import annotations

from django.db.models import Prefetch, Q
from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    IDEMPOTENCY_KEY_OPTIONAL,
    IDEMPOTENCY_KEY_REQUIRED,
    DefaultCursorPagination,
    StrictCharField,
    decimal_text,
    error_responses,
)
from core.errors import DomainError, NotFound, ValidationFailed
from core.idempotency import idempotent, request_key
from core.money import CURRENCIES, Money
from core.parsers import JSON_ONLY, StrictJSONParser

from . import selectors
from .models import (
    Category,
    Listing,
    ListingImage,
    ListingKind,
    ListingStatus,
    Order,
    OrderItem,
    OrderStatus,
    Shop,
)
from .services import cart as cart_services
from .services import listings as listing_services
from .services import shops as shop_services

TAG = "commerce"
ADDRESS_KEYS = ("name", "line1", "line2", "city", "postcode", "country")
EVIDENCE_MAX_FILES = 3
JSON_OR_MULTIPART = [StrictJSONParser, MultiPartParser]


# --- Parsing helpers -----------------------------------------------------------------------------


def _body(request) -> dict:
    if not isinstance(request.data, dict) and not hasattr(request.data, "getlist"):
        raise ValidationFailed("The body must be a JSON object.", code="invalid_body")
    return request.data


def _validated(serializer_class, request, *, partial: bool = False) -> dict:
    serializer = serializer_class(data=_body(request), partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _money(text: str, currency: str, field: str) -> Money:
    try:
        return Money.parse(text, currency)
    except DomainError as exc:
        raise ValidationFailed(exc.message, code=exc.code, fields={field: [exc.message]}) from None


def _minor(text: str | None, currency: str, field: str, *, allow_zero: bool = False) -> int:
    if allow_zero and text is not None and text.strip() in ("0", "0.0", "0.00", "0.000", ""):
        return 0
    return _money(text or "", currency, field).amount


def _pk(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise ValidationFailed(f"{field} is an id (a positive whole number).", fields={field: ["An id."]})
    return value


def _query(request) -> dict[str, str]:
    """The query string without NUL characters (PostgreSQL refuses them in text: a 500 otherwise)."""
    return {key: value.replace("\x00", "") for key, value in request.query_params.items()}


def _when(value):
    return serializers.DateTimeField().to_representation(value) if value else None


class _CurrencyField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str) or data.strip().upper() not in CURRENCIES:
            raise serializers.ValidationError(f"One of {', '.join(CURRENCIES)}.")
        return data.strip().upper()


class _StrictInteger(serializers.IntegerField):
    """Only JSON integers (DRF's would accept "12" and 12.0)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


# --- Serializers ---------------------------------------------------------------------------------


def _image_url(image_id: int) -> str:
    from .social import listing_image_url

    return listing_image_url(image_id)


def _listing_url(listing_id: int) -> str:
    from .social import listing_url

    return listing_url(listing_id)


class ShopSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    return_policy = serializers.CharField()
    owner = serializers.CharField(help_text='"@handle" of the seller.')
    logo_url = serializers.CharField(allow_null=True)
    suspended = serializers.BooleanField(help_text="Only ever true for the owner (others get 404).")
    url = serializers.CharField()
    created = serializers.DateTimeField()

    def to_representation(self, shop: Shop):
        return {
            "slug": shop.slug,
            "name": shop.name,
            "description": shop.description,
            "return_policy": shop.return_policy,
            "owner": f"@{shop.owner.handle}",
            "logo_url": f"/shop/media/logo/{shop.pk}" if shop.logo else None,
            "suspended": shop.suspended_at is not None,
            "url": f"/shop/{shop.slug}/",
            "created": _when(shop.created_at),
        }


class ShopOpenSerializer(serializers.Serializer):
    name = StrictCharField(max_length=80)
    slug = StrictCharField(max_length=50, help_text="a-z, 0-9 and -, 3 to 50 characters.")
    description = StrictCharField(required=False, allow_blank=True, max_length=2000)
    return_policy = StrictCharField(required=False, allow_blank=True, max_length=2000)


class ShopUpdateSerializer(serializers.Serializer):
    name = StrictCharField(required=False, max_length=80)
    description = StrictCharField(required=False, allow_blank=True, max_length=2000)
    return_policy = StrictCharField(required=False, allow_blank=True, max_length=2000)


class ListingImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    alt = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()

    def to_representation(self, image: ListingImage):
        return {
            "id": image.pk,
            "url": _image_url(image.pk),
            "alt": image.alt,
            "width": image.width,
            "height": image.height,
        }


class ListingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    kind = serializers.CharField(help_text="physical or digital.")
    price = serializers.CharField(help_text="Decimal string, major units.")
    currency = serializers.CharField()
    stock = serializers.IntegerField(allow_null=True, help_text="null: unlimited.")
    shipping_price = serializers.CharField(help_text="Per order line (physical only).")
    ships_to = serializers.ListField(child=serializers.CharField(), help_text="ISO-2 codes; [] = everywhere.")
    status = serializers.CharField(help_text="draft, active, sold_out or archived.")
    digital_file_name = serializers.CharField(allow_null=True)
    shop = inline_serializer(
        name="ListingShop", fields={"slug": serializers.CharField(), "name": serializers.CharField()}
    )
    images = ListingImageSerializer(many=True)
    url = serializers.CharField()
    created = serializers.DateTimeField()

    def to_representation(self, listing: Listing):
        return {
            "id": listing.pk,
            "title": listing.title,
            "description": listing.description,
            "category": listing.category,
            "kind": listing.kind,
            "price": decimal_text(listing.price, listing.currency),
            "currency": listing.currency,
            "stock": listing.stock,
            "shipping_price": decimal_text(listing.shipping_price, listing.currency),
            "ships_to": list(listing.ships_to or []),
            "status": listing.status,
            "digital_file_name": (listing.digital_file_name or None) if listing.kind == ListingKind.DIGITAL else None,
            "shop": {"slug": listing.shop.slug, "name": listing.shop.name},
            "images": [ListingImageSerializer(image).data for image in listing.images.all()],
            "url": _listing_url(listing.pk),
            "created": _when(listing.created_at),
        }


class ListingWriteSerializer(serializers.Serializer):
    title = StrictCharField(max_length=120)
    description = StrictCharField(required=False, allow_blank=True, max_length=5000)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    # A plain string (an enum named "kind" would collide with other apps' in the schema).
    kind = StrictCharField(required=False, max_length=16, help_text='"physical" (default) or "digital".')

    def validate_kind(self, value):
        if value not in ListingKind.values:
            raise serializers.ValidationError('"physical" or "digital".')
        return value

    price = StrictCharField(max_length=40, help_text='Decimal string, like "12.00".')
    currency = _CurrencyField(required=False, help_text="Default: your home currency. Fixed once created.")
    stock = _StrictInteger(
        required=False, allow_null=True, help_text="Physical: required, ≥ 0. Digital: null (unlimited)."
    )
    shipping_price = StrictCharField(required=False, max_length=40, help_text='Physical only; "0.00" default.')
    ships_to = serializers.ListField(
        child=StrictCharField(max_length=2), required=False, max_length=250, help_text="ISO-2 codes."
    )


class CartLineSerializer(serializers.Serializer):
    listing = serializers.IntegerField()
    title = serializers.CharField()
    kind = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.CharField()
    line_total = serializers.CharField()
    shipping = serializers.CharField()


class CartGroupSerializer(serializers.Serializer):
    shop = inline_serializer(name="CartShop", fields={"slug": serializers.CharField(), "name": serializers.CharField()})
    currency = serializers.CharField()
    items = CartLineSerializer(many=True)
    subtotal = serializers.CharField()
    shipping = serializers.CharField()
    total = serializers.CharField()
    problems = serializers.ListField(child=serializers.CharField(), help_text="Why it cannot be bought now.")

    def to_representation(self, group):
        currency = group.currency
        items = []
        for line in group.items:
            listing = line.listing
            physical = listing.kind == ListingKind.PHYSICAL
            items.append(
                {
                    "listing": listing.pk,
                    "title": listing.title,
                    "kind": listing.kind,
                    "quantity": line.quantity,
                    "unit_price": decimal_text(listing.price, listing.currency),
                    "line_total": decimal_text(listing.price * line.quantity, listing.currency),
                    "shipping": decimal_text(listing.shipping_price if physical else 0, listing.currency),
                }
            )
        return {
            "shop": {"slug": group.shop.slug, "name": group.shop.name},
            "currency": currency,
            "items": items,
            "subtotal": decimal_text(group.subtotal, currency) if currency else "0",
            "shipping": decimal_text(group.shipping, currency) if currency else "0",
            "total": decimal_text(group.total, currency) if currency else "0",
            "problems": list(group.problems),
        }


class CartSerializer(serializers.Serializer):
    groups = CartGroupSerializer(many=True, help_text="One per shop: one order each at checkout.")
    count = serializers.IntegerField(help_text="Cart rows.")


class CartWriteSerializer(serializers.Serializer):
    listing = _StrictInteger(min_value=1)
    quantity = _StrictInteger(required=False, min_value=0, max_value=99)


class BuyNowSerializer(serializers.Serializer):
    listing = _StrictInteger(min_value=1)
    quantity = _StrictInteger(required=False, min_value=1, max_value=99, default=1)


class AddressSerializer(serializers.Serializer):
    name = StrictCharField(max_length=120)
    line1 = StrictCharField(max_length=200)
    line2 = StrictCharField(required=False, allow_blank=True, max_length=200)
    city = StrictCharField(max_length=100)
    postcode = StrictCharField(required=False, allow_blank=True, max_length=20)
    country = StrictCharField(max_length=2, help_text="ISO-2, e.g. US.")


class CheckoutSerializer(serializers.Serializer):
    buy_now = BuyNowSerializer(required=False, allow_null=True, help_text="Omit to pay the whole cart.")
    pay_currency = _CurrencyField(required=False, allow_null=True, help_text="Default: the items' currency.")
    address = AddressSerializer(required=False, allow_null=True, help_text="Required for physical goods.")
    expected_total = StrictCharField(
        required=False,
        allow_null=True,
        max_length=40,
        help_text="The quote's `pay_total` you showed the buyer (decimal string). If the total is now different "
        "(a price or shipping changed), 409 `price_changed` and nothing is charged. Recommended.",
    )


class QuoteSerializer(serializers.Serializer):
    groups = CartGroupSerializer(many=True)
    pay_currency = serializers.CharField()
    pay_total = serializers.CharField(help_text="What leaves your wallet, in pay_currency.")
    fx_rate = serializers.CharField(allow_null=True, help_text="Applied rate (with the spread), when converting.")
    needs_address = serializers.BooleanField()

    def to_representation(self, quote):
        return {
            "groups": [CartGroupSerializer(group).data for group in quote.groups],
            "pay_currency": quote.pay_currency,
            "pay_total": decimal_text(quote.pay_total, quote.pay_currency),
            "fx_rate": None if quote.fx_rate is None else f"{quote.fx_rate.normalize():f}",
            "needs_address": bool(quote.needs_address),
        }


class OrderItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    listing = serializers.IntegerField()
    title = serializers.CharField()
    kind = serializers.CharField()
    unit_price = serializers.CharField()
    quantity = serializers.IntegerField()
    line_total = serializers.CharField()
    shipping = serializers.CharField()
    downloaded = serializers.DateTimeField(allow_null=True)
    download_url = serializers.CharField(allow_null=True, help_text="Digital items, for the buyer.")


class OrderSerializer(serializers.Serializer):
    """An order as its buyer or its seller sees it (``role``); fee and payout only for the seller."""

    id = serializers.IntegerField()
    role = serializers.CharField(help_text="buyer or seller: your side of the order.")
    status = serializers.CharField(help_text="paid (in escrow), shipped, released, disputed or refunded.")
    status_label = serializers.CharField()
    shop = inline_serializer(
        name="OrderShop", fields={"slug": serializers.CharField(), "name": serializers.CharField()}
    )
    buyer = serializers.CharField()
    currency = serializers.CharField()
    subtotal = serializers.CharField()
    shipping = serializers.CharField()
    total = serializers.CharField(help_text="What went into escrow.")
    paid_amount = serializers.CharField(help_text="What left the buyer's wallet (differs with FX).")
    paid_currency = serializers.CharField()
    refunded = serializers.CharField()
    fee = serializers.CharField(allow_null=True, help_text="Seller only: the platform fee taken at release.")
    fee_bps = serializers.IntegerField(allow_null=True, help_text="Seller only: the fee rate of this order.")
    released = serializers.CharField(allow_null=True, help_text="Seller only: paid out to the seller.")
    is_digital = serializers.BooleanField()
    address = AddressSerializer(allow_null=True)
    carrier = serializers.CharField()
    tracking_number = serializers.CharField()
    shipped = serializers.DateTimeField(allow_null=True)
    delivered = serializers.DateTimeField(allow_null=True)
    released_at = serializers.DateTimeField(allow_null=True)
    auto_release_at = serializers.DateTimeField(allow_null=True)
    created = serializers.DateTimeField()
    items = OrderItemSerializer(many=True)
    url = serializers.CharField()

    def to_representation(self, order: Order):
        user = self.context["request"].user
        seller = order.shop.owner_id == user.pk
        c = order.currency
        items = []
        for item in order.items.all():
            digital = item.kind == ListingKind.DIGITAL
            items.append(
                {
                    "id": item.pk,
                    "listing": item.listing_id,
                    "title": item.title,
                    "kind": item.kind,
                    "unit_price": decimal_text(item.unit_price, c),
                    "quantity": item.quantity,
                    "line_total": decimal_text(item.unit_price * item.quantity, c),
                    "shipping": decimal_text(item.shipping, c),
                    "downloaded": _when(item.downloaded_at),
                    "download_url": f"/api/v1/orders/{order.pk}/items/{item.pk}/download/"
                    if digital and order.buyer_id == user.pk and order.status != OrderStatus.REFUNDED
                    else None,
                }
            )
        address = None
        if order.ship_name or order.ship_line1:
            address = {
                "name": order.ship_name,
                "line1": order.ship_line1,
                "line2": order.ship_line2,
                "city": order.ship_city,
                "postcode": order.ship_postcode,
                "country": str(order.ship_country or ""),
            }
        return {
            "id": order.pk,
            "role": "seller" if seller else "buyer",
            "status": order.status,
            "status_label": order.get_status_display(),
            "shop": {"slug": order.shop.slug, "name": order.shop.name},
            "buyer": f"@{order.buyer.handle}",
            "currency": c,
            "subtotal": decimal_text(order.subtotal, c),
            "shipping": decimal_text(order.shipping, c),
            "total": decimal_text(order.total, c),
            "paid_amount": decimal_text(order.paid_amount, order.paid_currency),
            "paid_currency": order.paid_currency,
            "refunded": decimal_text(order.refunded, c),
            "fee": decimal_text(order.fee, c) if seller else None,
            "fee_bps": order.fee_bps if seller else None,
            "released": decimal_text(order.released, c) if seller else None,
            "is_digital": order.is_digital,
            "address": address,
            "carrier": order.carrier,
            "tracking_number": order.tracking_number,
            "shipped": _when(order.shipped_at),
            "delivered": _when(order.delivered_at),
            "released_at": _when(order.released_at),
            "auto_release_at": _when(order.auto_release_at),
            "created": _when(order.created_at),
            "items": items,
            "url": f"/shop/orders/{order.pk}/",
        }


class OrderDetailSerializer(OrderSerializer):
    events = serializers.ListField(child=serializers.DictField(), help_text="The status timeline, oldest first.")
    refunds = serializers.ListField(child=serializers.DictField())
    dispute = serializers.DictField(allow_null=True)

    def to_representation(self, order: Order):
        data = super().to_representation(order)
        c = order.currency
        data["events"] = [
            {
                "status": event.status,
                "note": event.note,
                "amount": None if event.amount is None else decimal_text(event.amount, c),
                "actor": f"@{event.actor.handle}" if event.actor_id else None,
                "created": _when(event.created_at),
            }
            for event in order.events.all()
        ]
        data["refunds"] = [
            {
                "id": refund.pk,
                "amount": decimal_text(refund.amount, c),
                "reason": refund.reason,
                "after_release": refund.after_release,
                "created": _when(refund.created_at),
            }
            for refund in order.refunds.all()
        ]
        dispute = getattr(order, "dispute_or_none", None)
        data["dispute"] = (
            None
            if dispute is None
            else {
                "status": dispute.status,
                "reason": dispute.reason,
                "outcome": dispute.outcome or None,
                "refund_amount": None if dispute.refund_amount is None else decimal_text(dispute.refund_amount, c),
                "resolution_note": dispute.resolution_note,
                "evidence_count": len(dispute.evidence.all()),
                "created": _when(dispute.created_at),
                "resolved": _when(dispute.resolved_at),
            }
        )
        return data


class ShipSerializer(serializers.Serializer):
    carrier = StrictCharField(required=False, allow_blank=True, max_length=60)
    tracking_number = StrictCharField(required=False, allow_blank=True, max_length=60)


class OrderRefundSerializer(serializers.Serializer):
    amount = StrictCharField(required=False, allow_null=True, max_length=40, help_text="Omit: all that is left.")
    reason = StrictCharField(required=False, allow_blank=True, max_length=500)


class DisputeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="What went wrong.")
    evidence = serializers.ListField(
        child=serializers.FileField(), required=False, help_text="Multipart only: up to 3 images or PDFs, ≤ 10 MB."
    )


# --- Shops ---------------------------------------------------------------------------------------


class ShopListView(generics.ListAPIView):
    serializer_class = ShopSerializer
    pagination_class = DefaultCursorPagination
    parser_classes = JSON_OR_MULTIPART

    def get_queryset(self):
        queryset = Shop.objects.filter(suspended_at__isnull=True).select_related("owner")
        q = " ".join((_query(self.request).get("q") or "").split())[:80]
        if q:
            queryset = queryset.filter(Q(name__icontains=q) | Q(slug__icontains=q))
        return queryset

    @extend_schema(
        summary="Shops",
        parameters=[OpenApiParameter("q", str, description="Part of a shop's name or slug.")],
        tags=[TAG],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Open your shop",
        description="KYC tier 1 needed (403 `verification_required`). One shop per person (409 `shop_exists`); "
        "the slug is unique (409 `slug_taken`). Multipart may carry a `logo` image.",
        request=ShopOpenSerializer,
        responses={201: ShopSerializer, **error_responses(400, 403, 409)},
        tags=[TAG],
    )
    def post(self, request):
        data = _validated(ShopOpenSerializer, request)
        shop = shop_services.shop_open(request.user, logo=request.FILES.get("logo"), **data)
        shop.owner = request.user
        return Response(ShopSerializer(shop).data, status=201)


class ShopDetailView(APIView):
    parser_classes = JSON_OR_MULTIPART

    @extend_schema(summary="A shop", responses={200: ShopSerializer, **error_responses(404)}, tags=[TAG])
    def get(self, request, slug: str):
        return Response(ShopSerializer(selectors.shop_for_page(request.user, slug)).data)

    @extend_schema(
        summary="Change your shop",
        description="Name, description, return policy (multipart: a new `logo`). The slug never changes.",
        request=ShopUpdateSerializer,
        responses={200: ShopSerializer, **error_responses(400, 404)},
        tags=[TAG],
    )
    def patch(self, request, slug: str):
        shop = Shop.objects.filter(slug=slug, owner_id=request.user.pk).select_related("owner").first()
        if shop is None:
            raise NotFound("No such shop.", code="shop_not_found")
        data = _validated(ShopUpdateSerializer, request, partial=True)
        shop = shop_services.shop_update(request.user, shop=shop, logo=request.FILES.get("logo"), **data)
        return Response(ShopSerializer(Shop.objects.select_related("owner").get(pk=shop.pk)).data)


# --- Listings ------------------------------------------------------------------------------------


class _ListingPagination(DefaultCursorPagination):
    page_size = 24


class ListingListView(generics.ListAPIView):
    serializer_class = ListingSerializer
    parser_classes = JSON_ONLY

    @property
    def paginator(self):
        if not hasattr(self, "_paginator"):
            paginator = _ListingPagination()
            sort = (self.request.query_params.get("sort") or "").strip() if self.request else ""
            paginator.ordering = selectors.SORTS.get(sort, ("-id",))
            self._paginator = paginator
        return self._paginator

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Listing.objects.none()
        params = _query(self.request)
        user = self.request.user
        if params.get("mine") in ("1", "true"):
            queryset = Listing.objects.filter(shop__owner_id=user.pk)
            status = params.get("status")
            if status in ListingStatus.values:
                queryset = queryset.filter(status=status)
        else:
            queryset = selectors.visible_listings(user).filter(status=ListingStatus.ACTIVE)
            shop = (params.get("shop") or "").strip()
            if shop:
                queryset = queryset.filter(shop__slug=shop[:50])
        return selectors.with_images(selectors.listings_filter(queryset, selectors.filters_from(params)))

    @extend_schema(
        summary="Search listings",
        description="Active listings of open shops, newest first (or `sort`). `mine=1`: your own listings, "
        "any status (`status` filters). Prices in `min`/`max` are major units in each listing's currency.",
        parameters=[
            OpenApiParameter("q", str, description="Words in the title or description."),
            OpenApiParameter("category", str, enum=Category.values),
            OpenApiParameter("min", str),
            OpenApiParameter("max", str),
            OpenApiParameter("sort", str, enum=list(selectors.SORTS)),
            OpenApiParameter("shop", str, description="A shop's slug."),
            OpenApiParameter("mine", str, description="1: your own listings."),
            OpenApiParameter("status", str, enum=ListingStatus.values, description="With mine=1."),
        ],
        tags=[TAG],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a listing (a draft)",
        description="Publish it with `POST /listings/{id}/publish/`. Digital goods need their file first "
        "(`POST /listings/{id}/file/`, multipart `file`).",
        request=ListingWriteSerializer,
        responses={201: ListingSerializer, **error_responses(400, 403)},
        tags=[TAG],
    )
    def post(self, request):
        data = _validated(ListingWriteSerializer, request)
        currency = data.get("currency") or request.user.home_currency
        kind = data.get("kind", ListingKind.PHYSICAL)
        listing = listing_services.listing_create(
            request.user,
            title=data["title"],
            description=data.get("description", ""),
            category=data.get("category", Category.OTHER),
            kind=kind,
            price=_money(data["price"], currency, "price"),
            stock=data.get("stock"),
            shipping_price=_minor(data.get("shipping_price", "0"), currency, "shipping_price", allow_zero=True),
            ships_to=data.get("ships_to"),
        )
        return Response(ListingSerializer(_listing_for_owner(request.user, listing.pk)).data, status=201)


def _listing_for_owner(user, pk) -> Listing:
    return selectors.listing_for_owner(user, pk)


class ListingDetailView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(summary="A listing", responses={200: ListingSerializer, **error_responses(404)}, tags=[TAG])
    def get(self, request, pk: int):
        return Response(ListingSerializer(selectors.listing_for_page(request.user, pk)).data)

    @extend_schema(
        summary="Change your listing",
        description="Any of title, description, category, price (in the listing's currency), stock, "
        "shipping_price, ships_to; `kind` only while a draft. Stock 0 makes it sold out.",
        request=ListingWriteSerializer(partial=True),
        responses={200: ListingSerializer, **error_responses(400, 404, 409)},
        tags=[TAG],
    )
    def patch(self, request, pk: int):
        listing = _listing_for_owner(request.user, pk)
        data = _validated(ListingWriteSerializer, request, partial=True)
        if "currency" in data and data["currency"] != listing.currency:
            raise ValidationFailed(
                "A listing's currency cannot change.", code="currency_locked", fields={"currency": ["Fixed."]}
            )
        fields = {name: data[name] for name in ("title", "description", "category", "kind", "ships_to") if name in data}
        if "stock" in data:
            fields["stock"] = data["stock"]
        if "price" in data:
            fields["price"] = _money(data["price"], listing.currency, "price")
        if "shipping_price" in data:
            fields["shipping_price"] = _minor(
                data["shipping_price"], listing.currency, "shipping_price", allow_zero=True
            )
        listing_services.listing_update(request.user, listing=listing, **fields)
        return Response(ListingSerializer(_listing_for_owner(request.user, pk)).data)


class _ListingAction(APIView):
    parser_classes = JSON_ONLY
    service = None

    def post(self, request, pk: int):
        listing = _listing_for_owner(request.user, pk)
        type(self).service(request.user, listing=listing)
        return Response(ListingSerializer(_listing_for_owner(request.user, pk)).data)


@extend_schema(
    summary="Publish your listing",
    description="Needs stock > 0 (physical) or the file (digital). Idempotent.",
    request=None,
    responses={200: ListingSerializer, **error_responses(400, 403, 404)},
    tags=[TAG],
)
class ListingPublishView(_ListingAction):
    service = listing_services.listing_publish


@extend_schema(
    summary="Archive your listing",
    description="Off the marketplace; paid orders keep it. Idempotent.",
    request=None,
    responses={200: ListingSerializer, **error_responses(404)},
    tags=[TAG],
)
class ListingArchiveView(_ListingAction):
    service = listing_services.listing_archive


class ListingShareSerializer(serializers.Serializer):
    text = StrictCharField(max_length=280, help_text="The post's text (social's rules: 1–280 characters).")


class ListingShareView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Share your listing as a post",
        description="Posts `text` to your followers with the listing attached: the timeline shows a card with the "
        "price and a Buy button. Only an active listing of an open shop (400 `listing_not_shareable`).",
        request=ListingShareSerializer,
        responses={
            201: inline_serializer(name="ListingShared", fields={"post_id": serializers.IntegerField()}),
            **error_responses(400, 404),
        },
        tags=[TAG],
    )
    def post(self, request, pk: int):
        from .social import listing_share_as_post

        listing = _listing_for_owner(request.user, pk)
        data = _validated(ListingShareSerializer, request)
        post = listing_share_as_post(request.user, listing=listing, text=data["text"])
        return Response({"post_id": post.pk, "url": f"/posts/{post.pk}"}, status=201)


class ListingImageAddView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="Add an image to your listing",
        description="Multipart `file` (JPEG, PNG, GIF or WebP, ≤ 10 MB; metadata removed) and optional `alt`. "
        "At most 8 images.",
        request={
            "multipart/form-data": inline_serializer(
                name="ListingImageUpload", fields={"file": serializers.FileField(), "alt": serializers.CharField()}
            )
        },
        responses={201: ListingSerializer, **error_responses(400, 404)},
        tags=[TAG],
    )
    def post(self, request, pk: int):
        listing = _listing_for_owner(request.user, pk)
        alt = request.data.get("alt") or ""
        listing_services.listing_image_add(request.user, listing=listing, file=request.FILES.get("file"), alt=alt)
        return Response(ListingSerializer(_listing_for_owner(request.user, pk)).data, status=201)


class ListingImageDeleteView(APIView):
    @extend_schema(summary="Remove an image of your listing", responses={204: None, **error_responses(404)}, tags=[TAG])
    def delete(self, request, pk: int, image_id: int):
        image = ListingImage.objects.filter(pk=image_id, listing_id=pk, listing__shop__owner_id=request.user.pk).first()
        if image is None:
            raise NotFound("No such image.", code="image_not_found")
        listing_services.listing_image_remove(request.user, image=image)
        return Response(status=204)


class ListingFileView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="Set the file of your digital listing",
        description="Multipart `file`, any type, ≤ 50 MB; stored privately, served only to buyers.",
        request={
            "multipart/form-data": inline_serializer(name="ListingFileUpload", fields={"file": serializers.FileField()})
        },
        responses={200: ListingSerializer, **error_responses(400, 404)},
        tags=[TAG],
    )
    def post(self, request, pk: int):
        listing = _listing_for_owner(request.user, pk)
        listing_services.listing_digital_file_set(request.user, listing=listing, file=request.FILES.get("file"))
        return Response(ListingSerializer(_listing_for_owner(request.user, pk)).data)


# --- Cart ----------------------------------------------------------------------------------------


def _cart(user) -> dict:
    groups = cart_services.cart_groups(user)
    return {
        "groups": [CartGroupSerializer(group).data for group in groups],
        "count": sum(len(group.items) for group in groups),
    }


class CartView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(summary="Your cart, per shop", responses={200: CartSerializer}, tags=[TAG])
    def get(self, request):
        return Response(_cart(request.user))

    @extend_schema(
        summary="Add to your cart",
        description='`{"listing": 12, "quantity": 1}` adds to what is there (1–99). 422 `not_buyable`, '
        "`not_enough_stock`; 403 `own_listing`, `blocked`; 404 for a listing you cannot see.",
        request=CartWriteSerializer,
        responses={200: CartSerializer, **error_responses(400, 403, 404, 422)},
        tags=[TAG],
    )
    def post(self, request):
        data = _validated(CartWriteSerializer, request)
        _visible_listing(request.user, data["listing"])
        cart_services.cart_add(request.user, listing=data["listing"], quantity=data.get("quantity", 1))
        return Response(_cart(request.user))

    @extend_schema(
        summary="Set a quantity in your cart",
        description='`{"listing": 12, "quantity": 3}`; 0 removes it. 404 when it is not in your cart.',
        request=CartWriteSerializer,
        responses={200: CartSerializer, **error_responses(400, 404, 422)},
        tags=[TAG],
    )
    def patch(self, request):
        data = _validated(CartWriteSerializer, request)
        if "quantity" not in data:
            raise ValidationFailed("Give the quantity.", fields={"quantity": ["Required."]})
        cart_services.cart_set_quantity(request.user, listing=data["listing"], quantity=data["quantity"])
        return Response(_cart(request.user))

    @extend_schema(
        summary="Remove from your cart",
        parameters=[OpenApiParameter("listing", int, required=True)],
        request=None,
        responses={200: CartSerializer, **error_responses(400)},
        tags=[TAG],
    )
    def delete(self, request):
        text = (request.query_params.get("listing") or "").strip()
        if not text and isinstance(request.data, dict):
            value = request.data.get("listing")
            text = str(value) if isinstance(value, int) and not isinstance(value, bool) else ""
        if not (text.isascii() and text.isdigit()) or len(text) > 18 or int(text) == 0:
            raise ValidationFailed("Say which listing: ?listing=<id>.", fields={"listing": ["An id."]})
        cart_services.cart_remove(request.user, listing=int(text))
        return Response(_cart(request.user))


def _visible_listing(user, listing_id: int) -> Listing:
    """404 for a listing the user may not see (a draft of another shop, a suspended shop, a block)."""
    return selectors.listing_for_page(user, listing_id)


# --- Checkout ------------------------------------------------------------------------------------


def _checkout_args(request) -> dict:
    data = _validated(CheckoutSerializer, request)
    buy_now = data.get("buy_now")
    if buy_now:
        _visible_listing(request.user, buy_now["listing"])
    address = data.get("address")
    return {
        "buy_now": (buy_now["listing"], buy_now.get("quantity", 1)) if buy_now else None,
        "pay_currency": data.get("pay_currency"),
        "address": {key: address.get(key, "") for key in ADDRESS_KEYS} if address else None,
    }


def _quote_currency(user, args: dict) -> str:
    """The currency the buyer would pay in (what a quote's ``pay_total`` is counted in)."""
    from .services.checkout import checkout_quote

    return checkout_quote(user, **args).pay_currency


class CheckoutQuoteView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Quote a checkout",
        description="What paying would cost: one group (one order) per shop, shipping, totals, and with "
        "`pay_currency` different from the items' the amount converted and the rate. Moves nothing.",
        request=CheckoutSerializer,
        responses={200: QuoteSerializer, **error_responses(400, 403, 404, 422)},
        tags=[TAG],
    )
    def post(self, request):
        from .services.checkout import checkout_quote

        return Response(QuoteSerializer(checkout_quote(request.user, **_checkout_args(request))).data)


class CheckoutView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Pay: the cart, or one listing (buy_now)",
        description="Needs an `Idempotency-Key` header: the same key and body replay the first answer and move "
        "nothing; another body answers 422 `idempotency_key_reused`. One order per shop, all paid in one "
        "ledger operation into escrow, or none (422 `insufficient_funds`, a sold-out item...).",
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
        request=CheckoutSerializer,
        responses={
            201: inline_serializer(name="CheckoutResult", fields={"orders": OrderSerializer(many=True)}),
            **error_responses(400, 403, 404, 409, 422),
        },
        tags=[TAG],
    )
    @idempotent(required=True)
    def post(self, request):
        from .services.checkout import checkout_pay

        args = _checkout_args(request)
        expected = request.data.get("expected_total") if isinstance(request.data, dict) else None
        expected_total = None
        if expected is not None:
            quote_currency = args["pay_currency"] or _quote_currency(request.user, args)
            expected_total = _minor(expected, quote_currency, "expected_total")
        orders = checkout_pay(
            request.user, idempotency_key=request_key(request._request), expected_total=expected_total, **args
        )
        rows = _order_rows().filter(pk__in=[order.pk for order in orders]).order_by("id")
        context = {"request": request}
        return Response({"orders": [OrderSerializer(order, context=context).data for order in rows]}, status=201)


# --- Orders --------------------------------------------------------------------------------------


def _order_rows():
    return Order.objects.select_related("shop", "buyer").prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.order_by("id"))
    )


class OrderListView(generics.ListAPIView):
    serializer_class = OrderSerializer
    pagination_class = DefaultCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        params = self.request.query_params
        if params.get("role") == "seller":
            queryset = _order_rows().filter(shop__owner_id=self.request.user.pk)
        else:
            queryset = _order_rows().filter(buyer_id=self.request.user.pk)
        status = params.get("status")
        if status in OrderStatus.values:
            queryset = queryset.filter(status=status)
        return queryset

    @extend_schema(
        summary="Your orders",
        description="As the buyer (default), or `role=seller`: your shop's orders. Newest first.",
        parameters=[
            OpenApiParameter("role", str, enum=["buyer", "seller"]),
            OpenApiParameter("status", str, enum=OrderStatus.values),
        ],
        tags=[TAG],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _order_detail(request, pk) -> Response:
    order = selectors.order_for_page(request.user, pk)
    return Response(OrderDetailSerializer(order, context={"request": request}).data)


def _party_order(request, pk) -> Order:
    from .services.orders import order_for_party

    return order_for_party(request.user, pk)


class OrderDetailView(APIView):
    @extend_schema(
        summary="One order",
        description="For its buyer or its seller (else 404): items, amounts, the timeline, refunds, the dispute.",
        responses={200: OrderDetailSerializer, **error_responses(404)},
        tags=[TAG],
    )
    def get(self, request, pk: int):
        return _order_detail(request, pk)


class OrderShipView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Mark shipped (seller)",
        description="Optional carrier and tracking number. Auto-release starts counting (14 days).",
        request=ShipSerializer,
        responses={200: OrderDetailSerializer, **error_responses(400, 403, 404, 409)},
        tags=[TAG],
    )
    def post(self, request, pk: int):
        from .services.orders import order_ship

        data = _validated(ShipSerializer, request)
        order_ship(request.user, order=_party_order(request, pk), **data)
        return _order_detail(request, pk)


class OrderConfirmView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Confirm receipt (buyer)",
        description="Releases the money to the seller (less the fee), once.",
        request=None,
        responses={200: OrderDetailSerializer, **error_responses(403, 404, 409)},
        tags=[TAG],
    )
    def post(self, request, pk: int):
        from .services.orders import order_confirm_received

        order_confirm_received(request.user, order=_party_order(request, pk))
        return _order_detail(request, pk)


class OrderRefundView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Refund (seller)",
        description="`amount` (decimal string, order currency; omit for all that is left) and a reason. Before "
        "release it comes from escrow; after release from your wallet (what it cannot cover is advanced and "
        "becomes your shop's debt). An optional `Idempotency-Key` makes a retry refund once.",
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        request=OrderRefundSerializer,
        responses={200: OrderDetailSerializer, **error_responses(400, 403, 404, 409, 422)},
        tags=[TAG],
    )
    @idempotent
    def post(self, request, pk: int):
        from .services.orders import order_refund

        data = _validated(OrderRefundSerializer, request)
        order = _party_order(request, pk)
        amount = data.get("amount")
        order_refund(
            request.user,
            order=order,
            amount=None if amount in (None, "") else _money(amount, order.currency, "amount").amount,
            reason=data.get("reason", ""),
            idempotency_key=request_key(request._request),
        )
        return _order_detail(request, pk)


class OrderDisputeView(APIView):
    parser_classes = JSON_OR_MULTIPART

    @extend_schema(
        summary="Open a dispute (buyer)",
        description="Within 30 days of delivery (or any time before release). JSON `{reason}`, or multipart "
        "with up to 3 `evidence` files (images or PDF, ≤ 10 MB each). Auto-release stops; staff decide.",
        request={"application/json": DisputeSerializer, "multipart/form-data": DisputeSerializer},
        responses={201: OrderDetailSerializer, **error_responses(400, 403, 404, 409, 422)},
        tags=[TAG],
    )
    def post(self, request, pk: int):
        from .services.disputes import dispute_open

        order = _party_order(request, pk)  # someone else's order: 404 before anything else
        data = _body(request)
        reason = data.get("reason")
        if not isinstance(reason, str):
            raise ValidationFailed("Say what went wrong.", fields={"reason": ["Required."]})
        evidence = request.FILES.getlist("evidence") if hasattr(request.FILES, "getlist") else []
        if len(evidence) > EVIDENCE_MAX_FILES:
            raise ValidationFailed(
                f"At most {EVIDENCE_MAX_FILES} evidence files.", code="too_much_evidence", fields={"evidence": ["≤ 3."]}
            )
        dispute_open(request.user, order=order, reason=reason, evidence=evidence)
        response = _order_detail(request, pk)
        response.status_code = 201
        return response


class OrderDownloadView(APIView):
    @extend_schema(
        summary="Download a digital item (buyer)",
        description="The file; the first download of an all-digital order releases it to the seller.",
        responses={(200, "application/octet-stream"): bytes, **error_responses(403, 404)},
        tags=[TAG],
    )
    def get(self, request, pk: int, item_id: int):
        from .services.orders import order_download

        order = _party_order(request, pk)
        item = OrderItem.objects.filter(pk=item_id, order=order).select_related("listing").first()
        if item is None:
            raise NotFound("No such item.", code="item_not_found")
        item = order_download(request.user, item=item)
        listing = Listing.objects.get(pk=item.listing_id)
        if not listing.digital_file:
            raise NotFound("No file.", code="file_not_found")
        try:
            handle = listing.digital_file.storage.open(listing.digital_file.name, "rb")
        except (FileNotFoundError, OSError, ValueError):
            raise Http404("No such file.") from None
        name = listing.digital_file_name or f"item-{item.pk}"
        response = FileResponse(handle, as_attachment=True, filename=name, content_type="application/octet-stream")
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response

"""Reads of the marketplace: browse/search, shop and listing pages, orders, the seller dashboard.

Nothing here changes state. Every function runs a fixed number of queries whatever the number
of rows (``select_related`` / ``prefetch_related``), and never shows a row the viewer may not see:
another person's order is ``NotFound`` (a 404), a suspended shop or a draft listing is visible to
its owner only, and people blocked either way do not see each other's shops.

Search: PostgreSQL full-text with the ``'simple'`` configuration on ``title || ' ' || description``
(the expression of the GIN index of migration 0002, so the index is used); elsewhere (SQLite)
"every word appears" in the title or the description (``icontains``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.db import connection
from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.selectors import exclude_blocked
from core.charts import nice_ceiling
from core.errors import NotFound
from core.money import CURRENCIES, format_money

from .models import (
    Category,
    Dispute,
    DisputeStatus,
    Listing,
    ListingImage,
    ListingStatus,
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    Refund,
    Shop,
    ShopDebt,
)

PAGE_SIZE = 24
ORDERS_PAGE_SIZE = 25
SORTS = {
    "newest": ("-id",),
    "price_asc": ("price", "-id"),
    "price_desc": ("-price", "-id"),
}
DEFAULT_SORT = "newest"
MAX_QUERY_WORDS = 8
BROWSABLE = (ListingStatus.ACTIVE, ListingStatus.SOLD_OUT)
# PostgreSQL full-text document of a listing; migration 0002 indexes this very expression.
SEARCH_DOCUMENT_SQL = (
    """to_tsvector('simple'::regconfig, "commerce_listing"."title" || ' ' || "commerce_listing"."description")"""
)


class OrderNotFound(NotFound):
    code = "order_not_found"
    default_message = "No such order."


class ListingNotFound(NotFound):
    code = "listing_not_found"
    default_message = "No such listing."


class ShopNotFound(NotFound):
    code = "shop_not_found"
    default_message = "No such shop."


def _pk(value) -> int | None:
    """A positive database id from a URL/query value, else None (never an exception)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        number = int(value)
        return number or None
    return None


# --- Marketplace -------------------------------------------------------------------------------


@dataclass
class Filters:
    q: str = ""
    category: str = ""
    min: Decimal | None = None
    max: Decimal | None = None
    sort: str = DEFAULT_SORT
    page: int = 1

    def as_query(self, **overrides) -> str:
        """The query string for these filters (for pagination links), with ``overrides``."""
        from django.utils.http import urlencode

        data = {
            "q": self.q,
            "category": self.category,
            "min": "" if self.min is None else str(self.min),
            "max": "" if self.max is None else str(self.max),
            "sort": self.sort if self.sort != DEFAULT_SORT else "",
            "page": self.page if self.page != 1 else "",
        }
        data.update(overrides)
        return urlencode({k: v for k, v in data.items() if v not in ("", None, 1)})


def _decimal(text) -> Decimal | None:
    text = (text or "").strip()[:24]
    if not text:
        return None
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0 or value > Decimal("1000000000"):
        return None
    return value


def filters_from(params) -> Filters:
    """Filters from a request's GET (anything malformed is ignored, never an error)."""
    category = (params.get("category") or "").strip()
    sort = (params.get("sort") or "").strip()
    page = _pk((params.get("page") or "").strip()) or 1
    return Filters(
        q=" ".join((params.get("q") or "").replace("\x00", " ").split())[:100],  # PostgreSQL refuses NUL
        category=category if category in Category.values else "",
        min=_decimal(params.get("min")),
        max=_decimal(params.get("max")),
        sort=sort if sort in SORTS else DEFAULT_SORT,
        page=min(page, 1000),
    )


def _price_q(bound: Decimal, lookup: str) -> Q:
    """``price <lookup> bound`` with ``bound`` in major units, per currency (each has its own minor units)."""
    q = Q()
    for code, (places, *_rest) in CURRENCIES.items():
        minor = int((bound * (10**places)).to_integral_value())
        q |= Q(currency=code, **{f"price__{lookup}": minor})
    return q


def _search(queryset: QuerySet, text: str) -> QuerySet:
    words = [w for w in text.split() if w][:MAX_QUERY_WORDS]
    if not words:
        return queryset
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVectorField
        from django.db.models.expressions import RawSQL

        # The exact expression of the GIN index (migration 0002), so the planner uses it.
        vector = RawSQL(SEARCH_DOCUMENT_SQL, [], output_field=SearchVectorField())  # noqa: S611 - constant SQL
        query = SearchQuery(" ".join(words), config="simple", search_type="plain")
        return queryset.annotate(search=vector).filter(search=query)
    for word in words:
        queryset = queryset.filter(Q(title__icontains=word) | Q(description__icontains=word))
    return queryset


def listings_filter(queryset: QuerySet[Listing], filters: Filters) -> QuerySet[Listing]:
    """``queryset`` narrowed by the filters' category, price bounds and search words (pages and API)."""
    if filters.category:
        queryset = queryset.filter(category=filters.category)
    if filters.min is not None:
        queryset = queryset.filter(_price_q(filters.min, "gte"))
    if filters.max is not None:
        queryset = queryset.filter(_price_q(filters.max, "lte"))
    return _search(queryset, filters.q)


def with_images(queryset: QuerySet) -> QuerySet:
    return queryset.select_related("shop").prefetch_related(
        Prefetch("images", queryset=ListingImage.objects.order_by("position"))
    )


def visible_listings(viewer) -> QuerySet[Listing]:
    """Listings anyone signed in may see in the marketplace: active or sold out, shop not suspended,
    the shop's owner not blocked either way by ``viewer``."""
    queryset = Listing.objects.filter(status__in=BROWSABLE, shop__suspended_at__isnull=True)
    return exclude_blocked(queryset, viewer, field="shop__owner")


@dataclass
class ListingPage:
    listings: list
    filters: Filters
    has_next: bool
    has_previous: bool

    @property
    def next_query(self) -> str:
        return self.filters.as_query(page=self.filters.page + 1)

    @property
    def previous_query(self) -> str:
        return self.filters.as_query(page=self.filters.page - 1)


def marketplace_listings(viewer, filters: Filters, *, page_size: int = PAGE_SIZE) -> ListingPage:
    """One page of the marketplace (two queries: listings with shops, their images).

    Only active listings (sold out ones appear on shop pages, not in search), newest first or by
    price; ``min``/``max`` are major units compared in each listing's own currency. Page pagination
    without a COUNT: one extra row says whether there is a next page.
    """
    queryset = listings_filter(visible_listings(viewer).filter(status=ListingStatus.ACTIVE), filters)
    start = (filters.page - 1) * page_size
    rows = list(with_images(queryset.order_by(*SORTS[filters.sort]))[start : start + page_size + 1])
    return ListingPage(
        listings=rows[:page_size],
        filters=filters,
        has_next=len(rows) > page_size,
        has_previous=filters.page > 1,
    )


def listing_for_page(viewer, listing_id) -> Listing:
    """A listing for its page: browsable, or any status for the shop's owner (else NotFound).

    Two queries (listing + shop + owner; images).
    """
    pk = _pk(listing_id)
    if pk is None:
        raise ListingNotFound()
    queryset = Listing.objects.filter(pk=pk)
    me = getattr(viewer, "pk", None)
    visible = Q(status__in=BROWSABLE, shop__suspended_at__isnull=True)
    if me is not None:
        visible |= Q(shop__owner_id=me)
    queryset = exclude_blocked(queryset.filter(visible), viewer, field="shop__owner")
    listing = (
        queryset.select_related("shop", "shop__owner")
        .prefetch_related(Prefetch("images", queryset=ListingImage.objects.order_by("position")))
        .first()
    )
    if listing is None:
        raise ListingNotFound()
    return listing


def listing_for_owner(user, listing_id) -> Listing:
    """The owner's own listing (any status) for the edit page, else NotFound."""
    pk = _pk(listing_id)
    listing = (
        Listing.objects.filter(pk=pk, shop__owner_id=getattr(user, "pk", None))
        .select_related("shop")
        .prefetch_related(Prefetch("images", queryset=ListingImage.objects.order_by("position")))
        .first()
        if pk
        else None
    )
    if listing is None:
        raise ListingNotFound()
    return listing


def shop_for_user(user) -> Shop | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Shop.objects.filter(owner_id=user.pk).first()


def shop_for_page(viewer, slug) -> Shop:
    """A shop for its page: not suspended (or the owner's own), not blocked either way, else NotFound."""
    if not isinstance(slug, str) or not slug or len(slug) > 50:
        raise ShopNotFound()
    queryset = Shop.objects.filter(slug=slug).select_related("owner")
    shop = exclude_blocked(queryset, viewer, field="owner").first()
    if shop is None or (shop.is_suspended and shop.owner_id != getattr(viewer, "pk", None)):
        raise ShopNotFound()
    return shop


def shop_listings(viewer, shop: Shop, *, page: int = 1, page_size: int = PAGE_SIZE) -> ListingPage:
    """The shop page's listings: active first then sold out; the owner also sees drafts (2 queries)."""
    statuses = list(BROWSABLE)
    if getattr(viewer, "pk", None) == shop.owner_id:
        statuses.append(ListingStatus.DRAFT)
    queryset = Listing.objects.filter(shop=shop, status__in=statuses).order_by("status", "-id")
    start = (page - 1) * page_size
    rows = list(with_images(queryset)[start : start + page_size + 1])
    return ListingPage(
        listings=rows[:page_size], filters=Filters(page=page), has_next=len(rows) > page_size, has_previous=page > 1
    )


def seller_listings(shop: Shop, *, status: str = "") -> list[Listing]:
    """The seller's listings (all statuses or one), with images (2 queries)."""
    queryset = Listing.objects.filter(shop=shop)
    if status in ListingStatus.values:
        queryset = queryset.filter(status=status)
    return list(with_images(queryset.order_by("-id"))[:500])


# --- Orders --------------------------------------------------------------------------------------


def _order_list_qs() -> QuerySet[Order]:
    return Order.objects.select_related("shop", "buyer", "shop__owner").prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.order_by("id"))
    )


@dataclass
class OrderPage:
    orders: list
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _page(queryset: QuerySet, page: int, page_size: int) -> OrderPage:
    page = max(1, min(page or 1, 1000))
    start = (page - 1) * page_size
    rows = list(queryset[start : start + page_size + 1])
    return OrderPage(orders=rows[:page_size], page=page, has_next=len(rows) > page_size)


def buyer_orders(user, *, page: int = 1, page_size: int = ORDERS_PAGE_SIZE) -> OrderPage:
    """The buyer's orders, newest first (2 queries)."""
    return _page(_order_list_qs().filter(buyer_id=user.pk).order_by("-id"), page, page_size)


TO_FULFIL = Q(status=OrderStatus.PAID, is_digital=False)


def seller_orders(shop: Shop, *, status: str = "", page: int = 1, page_size: int = ORDERS_PAGE_SIZE) -> OrderPage:
    """The shop's orders: those to fulfil (paid, physical) first, oldest first among them, then
    the rest newest first; ``status`` filters to one status (2 queries)."""
    from django.db.models import Case, IntegerField, When

    queryset = _order_list_qs().filter(shop=shop)
    if status in OrderStatus.values:
        queryset = queryset.filter(status=status)
    queryset = queryset.annotate(
        to_fulfil=Case(When(TO_FULFIL, then=Value(0)), default=Value(1), output_field=IntegerField()),
        sort_key=Case(When(TO_FULFIL, then=F("id")), default=-F("id")),
    )
    return _page(queryset.order_by("to_fulfil", "sort_key"), page, page_size)


def order_for_page(user, order_id) -> Order:
    """An order with everything its page shows, for its buyer or its shop's owner, else NotFound.

    Fixed queries: order (+ shop, owner, buyer), items (+ listings), events (+ actors), refunds,
    dispute (+ evidence).
    """
    pk = _pk(order_id)
    me = getattr(user, "pk", None)
    if pk is None or me is None:
        raise OrderNotFound()
    order = (
        Order.objects.filter(Q(buyer_id=me) | Q(shop__owner_id=me), pk=pk)
        .select_related("shop", "shop__owner", "buyer")
        .prefetch_related(
            Prefetch("items", queryset=OrderItem.objects.select_related("listing").order_by("id")),
            Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("id")),
            Prefetch("refunds", queryset=Refund.objects.order_by("id")),
        )
        .first()
    )
    if order is None:
        raise OrderNotFound()
    dispute = Dispute.objects.filter(order=order).prefetch_related("evidence").first()
    order.dispute_or_none = dispute
    return order


# --- Seller dashboard ------------------------------------------------------------------------------

CHART_WIDTH = 640
CHART_HEIGHT = 220
CHART_LEFT = 64
CHART_BOTTOM = 24
CHART_TOP = 8
MAX_DAYS = 366


@dataclass
class DayBar:
    day: date
    orders: int = 0
    revenue: int = 0

    @property
    def revenue_display(self) -> str:
        return format_money(self.revenue, self._currency)

    _currency: str = "USD"


@dataclass
class Dashboard:
    shop: Shop
    currency: str
    days: int
    start: date
    end: date
    bars: list[DayBar]
    to_fulfil: int = 0
    open_orders: int = 0
    window_orders: int = 0
    window_revenue: int = 0
    fees_paid: dict[str, int] = field(default_factory=dict)  # currency → fees taken on releases
    payouts: dict[str, int] = field(default_factory=dict)  # currency → released to the seller
    in_escrow: dict[str, int] = field(default_factory=dict)  # currency → open orders' totals less refunds
    debts: list[ShopDebt] = field(default_factory=list)
    other_currencies: list[str] = field(default_factory=list)
    recent: list[Order] = field(default_factory=list)

    @property
    def window_revenue_display(self) -> str:
        return format_money(self.window_revenue, self.currency)

    @staticmethod
    def _display(totals: dict[str, int]) -> str:
        return " + ".join(format_money(v, c) for c, v in sorted(totals.items()) if v) or ""

    @property
    def fees_display(self) -> str:
        return self._display(self.fees_paid) or format_money(0, self.currency)

    @property
    def payouts_display(self) -> str:
        return self._display(self.payouts) or format_money(0, self.currency)

    @property
    def escrow_display(self) -> str:
        return self._display(self.in_escrow) or format_money(0, self.currency)


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def seller_dashboard(shop: Shop, *, days: int = 30, now: datetime | None = None) -> Dashboard:
    """The seller dashboard's figures in a fixed number of queries (6).

    Sales per day: orders paid that day (count) and their totals (revenue, before refunds and the
    fee) in the shop's main currency (the owner's home currency, or the currency it sold most in);
    fees paid and payouts (releases) per currency, all time; what is still in escrow; the debt.
    """
    days = max(1, min(int(days), MAX_DAYS))
    now = now or timezone.now()
    end = timezone.localdate(now)
    start = end - timedelta(days=days - 1)
    orders = Order.objects.filter(shop=shop)
    counts = orders.aggregate(
        to_fulfil=Count("id", filter=TO_FULFIL),
        open_orders=Count("id", filter=Q(status__in=[OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DISPUTED])),
    )
    per_currency = list(
        orders.values("currency")
        .annotate(
            fees=Sum("fee"),
            payouts=Sum("released"),
            escrow=Sum("total", filter=Q(status__in=[OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DISPUTED])),
            escrow_refunded=Sum(
                "refunded", filter=Q(status__in=[OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DISPUTED])
            ),
            n=Count("id"),
        )
        .order_by("-n", "currency")
    )
    sold_in = [row["currency"] for row in per_currency]
    home = getattr(shop.owner, "home_currency", "") if Shop.owner.is_cached(shop) else ""
    currency = home if home in sold_in or not sold_in else sold_in[0]
    if not currency:
        currency = "USD"
    daily = (
        orders.filter(currency=currency, created_at__gte=_local_midnight(start))
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("id"), revenue=Sum("total"))
        .order_by("day")
    )
    by_day = {row["day"]: row for row in daily}
    bars = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        row = by_day.get(day)
        bar = DayBar(day=day, orders=row["n"] if row else 0, revenue=row["revenue"] or 0 if row else 0)
        bar._currency = currency
        bars.append(bar)
    recent = list(
        Order.objects.filter(TO_FULFIL, shop=shop)
        .select_related("buyer")
        .prefetch_related(Prefetch("items", queryset=OrderItem.objects.order_by("id")))
        .order_by("id")[:10]
    )
    return Dashboard(
        shop=shop,
        currency=currency,
        days=days,
        start=start,
        end=end,
        bars=bars,
        to_fulfil=counts["to_fulfil"],
        open_orders=counts["open_orders"],
        window_orders=sum(b.orders for b in bars),
        window_revenue=sum(b.revenue for b in bars),
        fees_paid={r["currency"]: r["fees"] or 0 for r in per_currency},
        payouts={r["currency"]: r["payouts"] or 0 for r in per_currency},
        in_escrow={r["currency"]: (r["escrow"] or 0) - (r["escrow_refunded"] or 0) for r in per_currency},
        debts=list(ShopDebt.objects.filter(shop=shop, amount__gt=0).order_by("currency")),
        other_currencies=[c for c in sold_in if c != currency],
        recent=recent,
    )


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def sales_chart(dashboard: Dashboard) -> dict:
    """Geometry of the revenue-per-day bar chart (pure arithmetic, no queries); the page also shows
    the same numbers as a table."""
    bars = dashboard.bars
    # With no sales yet the axis still reads in whole units ($0 to $1), not $0.00 / $0.01.
    top = nice_ceiling(max((b.revenue for b in bars), default=0) or 100)
    plot_w = CHART_WIDTH - CHART_LEFT - 8
    plot_h = CHART_HEIGHT - CHART_BOTTOM - CHART_TOP
    slot = plot_w / max(len(bars), 1)
    bar_w = max(slot * 0.7, 1)
    label_every = max(1, len(bars) // 6)
    out = []
    for index, bar in enumerate(bars):
        x = CHART_LEFT + index * slot + (slot - bar_w) / 2
        height = plot_h * bar.revenue / top if bar.revenue > 0 else 0
        out.append(
            {
                "x": _num(x),
                "y": _num(CHART_TOP + plot_h - height),
                "w": _num(bar_w),
                "h": _num(max(height, 0.5) if bar.revenue > 0 else 0),
                "title": f"{bar.day:%b} {bar.day.day}: {bar.orders} order{'s' if bar.orders != 1 else ''}, "
                f"{format_money(bar.revenue, dashboard.currency)}",
                "label": f"{bar.day:%b} {bar.day.day}" if index % label_every == 0 or index == len(bars) - 1 else "",
                "label_x": _num(x + bar_w / 2),
                "has_value": bar.revenue > 0,
            }
        )
    ticks = [
        {
            "y": _num(CHART_TOP + plot_h - plot_h * fraction),
            "label": format_money(int(top * fraction), dashboard.currency),
        }
        for fraction in (0, 0.5, 1)
    ]
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_LEFT,
        "right": CHART_WIDTH - 8,
        "label_y": CHART_HEIGHT - 6,
        "bars": out,
        "ticks": ticks,
        "desc": (
            f"Sales per day from {dashboard.start:%B} {dashboard.start.day} to {dashboard.end:%B} "
            f"{dashboard.end.day}, {dashboard.end.year} in {dashboard.currency}: {dashboard.window_orders} "
            f"orders, {dashboard.window_revenue_display} in total."
        ),
        "empty": all(b.revenue == 0 for b in bars),
    }


def order_counts_by_status(shop: Shop) -> dict[str, int]:
    rows = Order.objects.filter(shop=shop).values("status").annotate(n=Count("id")).order_by()
    out = defaultdict(int)
    for row in rows:
        out[row["status"]] = row["n"]
    return dict(out)


def open_dispute_count(shop: Shop) -> int:
    return Dispute.objects.filter(order__shop=shop, status=DisputeStatus.OPEN).count()


def cart_count(user) -> int:
    from .models import CartItem

    return CartItem.objects.filter(user_id=user.pk).count()

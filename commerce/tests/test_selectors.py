"""commerce.selectors: search, filters, sorting, pagination, visibility, order access and the
seller dashboard's figures, each in a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Block
from commerce import selectors
from commerce.models import ListingStatus, Order, OrderStatus, ShopDebt
from commerce.selectors import Filters, filters_from
from commerce.tests.factories import buyer_user, make_listing, make_order, private_media, seller_user  # noqa: F401
from core.errors import NotFound

pytestmark = pytest.mark.django_db


def _titles(page):
    return [listing.title for listing in page.listings]


@pytest.fixture
def shop():
    return seller_user("sally").shop


@pytest.fixture
def viewer():
    return buyer_user("vic", funds=None)


def test_search_needs_every_word(shop, viewer):
    make_listing(shop, title="Blue coffee mug", description="Stoneware")
    make_listing(shop, title="Red mug")
    make_listing(shop, title="Poster", description="A blue sky print")
    assert set(_titles(selectors.marketplace_listings(viewer, Filters(q="mug")))) == {"Blue coffee mug", "Red mug"}
    assert _titles(selectors.marketplace_listings(viewer, Filters(q="blue mug"))) == ["Blue coffee mug"]
    assert _titles(selectors.marketplace_listings(viewer, Filters(q="sky"))) == ["Poster"]
    assert _titles(selectors.marketplace_listings(viewer, Filters(q="nothing-like-this"))) == []


def test_only_active_listings_of_open_shops_the_viewer_is_not_blocked_from(shop, viewer):
    make_listing(shop, title="Active")
    make_listing(shop, title="Draft", status=ListingStatus.DRAFT)
    make_listing(shop, title="Archived", status=ListingStatus.ARCHIVED)
    make_listing(shop, title="Gone", status=ListingStatus.SOLD_OUT, stock=0)
    other = seller_user("suspended").shop
    make_listing(other, title="Hidden")
    other.suspended_at = timezone.now()
    other.save()
    blocker = seller_user("blocker").shop
    make_listing(blocker, title="Blocked")
    Block.objects.create(blocker=blocker.owner, blocked=viewer)
    assert _titles(selectors.marketplace_listings(viewer, Filters())) == ["Active"]
    # The blocker does not see the viewer's shop either (blocks work both ways).
    viewer_shop = seller_user("vshop").shop
    Block.objects.create(blocker=viewer_shop.owner, blocked=blocker.owner)
    make_listing(viewer_shop, title="From vshop")
    assert "From vshop" not in _titles(selectors.marketplace_listings(blocker.owner, Filters()))


def test_category_price_and_sort(shop, viewer):
    make_listing(shop, title="Cheap book", price="5.00", category="books")
    make_listing(shop, title="Dear book", price="50.00", category="books")
    make_listing(shop, title="Mid art", price="20.00", category="art")
    make_listing(shop, title="Yen thing", price=1500, currency="JPY", category="art")
    assert _titles(selectors.marketplace_listings(viewer, Filters(category="books", sort="price_asc"))) == [
        "Cheap book",
        "Dear book",
    ]
    page = selectors.marketplace_listings(viewer, filters_from({"min": "10", "max": "30", "sort": "price_desc"}))
    assert _titles(page) == ["Mid art"]  # 1500 yen is ¥1,500, not 15.00: compared in its own currency
    page = selectors.marketplace_listings(viewer, filters_from({"min": "1000", "sort": "price_desc"}))
    assert _titles(page) == ["Yen thing"]
    assert _titles(selectors.marketplace_listings(viewer, Filters(sort="newest")))[0] == "Yen thing"


def test_bad_filters_are_ignored():
    filters = filters_from(
        {"min": "abc", "max": "-4", "sort": "drop table", "category": "x", "page": "0", "q": " a  b "}
    )
    assert filters == Filters(q="a b")
    assert filters_from({"page": "99999999999999999999"}).page == 1


def test_pages_without_count(shop, viewer, django_assert_num_queries):
    for n in range(5):
        make_listing(shop, title=f"Item {n}", images=0)
    first = selectors.marketplace_listings(viewer, Filters(), page_size=2)
    assert first.has_next and not first.has_previous and len(first.listings) == 2
    last = selectors.marketplace_listings(viewer, Filters(page=3), page_size=2)
    assert not last.has_next and last.has_previous and len(last.listings) == 1
    assert "page=4" in last.filters.as_query(page=4)


def test_marketplace_queries_do_not_grow(shop, viewer, private_media, django_assert_max_num_queries):  # noqa: F811
    for n in range(6):
        make_listing(shop, title=f"Item {n}", images=2)
    with django_assert_max_num_queries(2):
        page = selectors.marketplace_listings(viewer, Filters())
        for listing in page.listings:
            list(listing.images.all())
            assert listing.shop.name


def test_listing_for_page_visibility(shop, viewer):
    draft = make_listing(shop, status=ListingStatus.DRAFT)
    active = make_listing(shop)
    assert selectors.listing_for_page(viewer, active.pk) == active
    assert selectors.listing_for_page(shop.owner, draft.pk) == draft
    for bad in (draft.pk, "abc", -1, 0, "9" * 30, None):
        with pytest.raises(NotFound):
            selectors.listing_for_page(viewer, bad)
    with pytest.raises(NotFound):
        selectors.listing_for_owner(viewer, active.pk)


def test_shop_for_page(shop, viewer):
    assert selectors.shop_for_page(viewer, shop.slug) == shop
    shop.suspended_at = timezone.now()
    shop.save()
    with pytest.raises(NotFound):
        selectors.shop_for_page(viewer, shop.slug)
    assert selectors.shop_for_page(shop.owner, shop.slug) == shop
    with pytest.raises(NotFound):
        selectors.shop_for_page(viewer, "no-such-shop")


def test_order_for_page_is_for_buyer_and_seller_only(shop):
    buyer = buyer_user("bea")
    order = make_order(buyer, make_listing(shop, price="12.00", shipping="3.00"))
    assert selectors.order_for_page(buyer, order.pk).pk == order.pk
    assert selectors.order_for_page(shop.owner, str(order.pk)).pk == order.pk
    for who, pk in ((buyer_user("eve", funds=None), order.pk), (buyer, order.pk + 1000), (buyer, "x")):
        with pytest.raises(NotFound):
            selectors.order_for_page(who, pk)


def test_order_detail_queries_are_bounded(shop, django_assert_max_num_queries):
    buyer = buyer_user("bo", funds="500.00")
    order = make_order(buyer, make_listing(shop, price="12.00"), quantity=2)
    with django_assert_max_num_queries(6):
        found = selectors.order_for_page(buyer, order.pk)
        assert [i.listing.title for i in found.items.all()]
        assert next(e.status for e in found.events.all()) == OrderStatus.PAID
        assert all(e.actor is None or e.actor.pk for e in found.events.all())
        list(found.refunds.all())


def test_seller_orders_put_orders_to_ship_first(shop):
    buyer = buyer_user("bob", funds="500.00")
    listing = make_listing(shop, price="10.00", stock=10)
    first = make_order(buyer, listing)
    second = make_order(buyer, listing)
    third = make_order(buyer, listing)
    Order.objects.filter(pk=second.pk).update(status=OrderStatus.SHIPPED)
    page = selectors.seller_orders(shop)
    assert [o.pk for o in page.orders] == [first.pk, third.pk, second.pk]  # to fulfil, then newest first
    assert [o.pk for o in selectors.seller_orders(shop, status="shipped").orders] == [second.pk]
    assert [o.pk for o in selectors.buyer_orders(buyer).orders] == [third.pk, second.pk, first.pk]
    assert selectors.buyer_orders(shop.owner).orders == []


def test_seller_dashboard_figures(shop, django_assert_max_num_queries):
    from commerce.services.orders import order_confirm_received

    buyer = buyer_user("bob", funds="500.00")
    listing = make_listing(shop, price="12.00", shipping="3.00", stock=10)
    released = make_order(buyer, listing)
    order_confirm_received(buyer, order=released)
    make_order(buyer, listing)  # still to ship
    ShopDebt.objects.create(shop=shop, currency="USD", amount=250)
    shop = type(shop).objects.select_related("owner").get(pk=shop.pk)
    with django_assert_max_num_queries(6):
        board = selectors.seller_dashboard(shop, days=7)
    assert board.to_fulfil == 1 and board.open_orders == 1
    assert board.window_orders == 2 and board.window_revenue == 3000
    assert board.bars[-1].orders == 2 and board.bars[-1].revenue == 3000
    assert board.fees_paid == {"USD": 38}  # 2.5% of 15.00 = 0.375 → 0.38 (half up)
    assert board.payouts == {"USD": 1500 - 38}
    assert board.in_escrow == {"USD": 1500}
    assert [(d.currency, d.amount) for d in board.debts] == [("USD", 250)]
    chart = selectors.sales_chart(board)
    assert not chart["empty"] and len(chart["bars"]) == 7 and chart["bars"][-1]["has_value"]
    assert "2 orders" in chart["desc"]


def test_dashboard_of_a_new_shop_is_empty(shop):
    board = selectors.seller_dashboard(shop, days=30, now=timezone.now() + timedelta(days=1))
    assert board.window_orders == 0 and board.to_fulfil == 0 and len(board.bars) == 30
    assert selectors.sales_chart(board)["empty"]
    assert board.fees_display == "$0.00"


def test_postgres_search_uses_the_gin_index_expression(shop, viewer):
    """On PostgreSQL the filter is the indexed expression itself (migration 0002), so the index serves it."""
    from django.db import connection

    from core.testing import skip_unless_postgres

    skip_unless_postgres()
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'commerce_listing_search_fts'")
        (indexdef,) = cursor.fetchone()
    assert "gin" in indexdef.lower() and "'simple'" in indexdef
    queryset = selectors._search(selectors.Listing.objects.all(), "blue mug").values("id")
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "commerce_listing_search_fts" in plan

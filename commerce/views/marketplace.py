"""``/shop/``: browse and search the marketplace."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .. import selectors
from ..models import Category
from . import query_params


@login_required
@require_GET
def marketplace(request):
    """Search (``q``), filter (``category``, ``min``/``max`` price), sort (newest|price_asc|price_desc)."""
    filters = selectors.filters_from(query_params(request.GET))
    page = selectors.marketplace_listings(request.user, filters)
    return render(
        request,
        "commerce/marketplace.html",
        {
            "page": page,
            "filters": filters,
            "categories": Category.choices,
            "sorts": [("newest", "Newest"), ("price_asc", "Price: low to high"), ("price_desc", "Price: high to low")],
            "my_shop": selectors.shop_for_user(request.user),
            "cart_count": selectors.cart_count(request.user),
            "filtered": bool(filters.q or filters.category or filters.min is not None or filters.max is not None),
        },
    )

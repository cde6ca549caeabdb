"""The seller's side: ``/shop/sell/`` (dashboard, or "Open your shop") and ``/shop/sell/orders/``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from compliance.selectors import kyc_profile_for, tier_of

from .. import selectors
from ..models import OrderStatus
from . import page_number

PERIODS = (7, 30, 90)


@login_required
@require_GET
def sell(request):
    shop = selectors.shop_for_user(request.user)
    if shop is None:
        return render(request, "commerce/sell_intro.html", {"tier": tier_of(kyc_profile_for(request.user))})
    raw = request.GET.get("days") or ""
    days = int(raw) if raw.isascii() and raw.isdigit() and int(raw) in PERIODS else 30
    dashboard = selectors.seller_dashboard(shop, days=days)
    return render(
        request,
        "commerce/sell.html",
        {
            "shop": shop,
            "dashboard": dashboard,
            "chart": selectors.sales_chart(dashboard),
            "days": days,
            "periods": PERIODS,
        },
    )


@login_required
@require_GET
def seller_orders(request):
    shop = selectors.shop_for_user(request.user)
    if shop is None:
        return redirect("commerce:shop_open")
    status = request.GET.get("status") or ""
    status = status if status in OrderStatus.values else ""
    return render(
        request,
        "commerce/sell_orders.html",
        {
            "shop": shop,
            "page": selectors.seller_orders(shop, status=status, page=page_number(request)),
            "status": status,
            "statuses": OrderStatus.choices,
        },
    )

"""Shop pages: ``/shop/<slug>/`` (public to signed-in people), open a shop, the shop's settings."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from compliance.selectors import kyc_profile_for, tier_of
from core.errors import DomainError, NotFound

from .. import selectors
from ..forms import ShopForm, ShopSettingsForm
from . import page_number


@login_required
@require_GET
def shop_page(request, slug):
    try:
        shop = selectors.shop_for_page(request.user, slug)
    except NotFound as exc:
        raise Http404(exc.message) from None
    page = selectors.shop_listings(request.user, shop, page=page_number(request))
    return render(
        request,
        "commerce/shop.html",
        {"shop": shop, "page": page, "is_owner": shop.owner_id == request.user.pk},
    )


def _tier(user) -> int:
    return tier_of(kyc_profile_for(user))


@login_required
@require_http_methods(["GET", "POST"])
def shop_open(request):
    """Open a shop (KYC tier 1 needed: the page says so and links to verification)."""
    if selectors.shop_for_user(request.user) is not None:
        return redirect("commerce:sell")
    tier = _tier(request.user)
    form = ShopForm(request.POST or None, request.FILES or None)
    error = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            from ..services.shops import shop_open as open_shop

            data = form.cleaned_data
            try:
                shop = open_shop(
                    request.user,
                    name=data["name"],
                    slug=data["slug"],
                    description=data["description"],
                    return_policy=data["return_policy"],
                    logo=data.get("logo"),
                )
            except DomainError as exc:
                status = exc.status
                # The message once: beside its field when the service names one, else on top.
                placed = False
                for name in exc.fields or {}:
                    if name in form.fields:
                        form.add_error(name, exc.message)
                        placed = True
                if not placed:
                    error = exc.message
            else:
                messages.success(request, f"Your shop “{shop.name}” is open. Add your first listing.")
                return redirect("commerce:sell")
        else:
            status = 400
    return render(request, "commerce/shop_open.html", {"form": form, "tier": tier, "error": error}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def shop_settings(request):
    shop = selectors.shop_for_user(request.user)
    if shop is None:
        return redirect("commerce:shop_open")
    initial = {"name": shop.name, "description": shop.description, "return_policy": shop.return_policy}
    form = ShopSettingsForm(request.POST or None, request.FILES or None, initial=initial)
    error, status = "", 200
    if request.method == "POST":
        if form.is_valid():
            from ..services.shops import shop_update

            data = form.cleaned_data
            try:
                shop_update(
                    request.user,
                    shop=shop,
                    name=data["name"],
                    description=data["description"],
                    return_policy=data["return_policy"],
                    logo=data.get("logo") or None,
                )
            except DomainError as exc:
                error, status = exc.message, exc.status
            else:
                messages.success(request, "Shop settings saved.")
                return redirect("commerce:shop_settings")
        else:
            status = 400
    return render(request, "commerce/shop_settings.html", {"form": form, "shop": shop, "error": error}, status=status)

"""Listing pages: the public listing page and the seller's listing management (/shop/sell/listings/)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError, NotFound
from core.money import format_money

from .. import selectors
from ..forms import DigitalFileForm, ImageForm, ListingForm
from ..models import LISTING_MAX_IMAGES, ListingKind, ListingStatus
from . import back_with_error


@login_required
@require_GET
def listing_page(request, pk):
    """Gallery, price, stock, shipping and where it ships, the seller; Buy now and Add to cart."""
    try:
        listing = selectors.listing_for_page(request.user, pk)
    except NotFound as exc:
        raise Http404(exc.message) from None
    is_owner = listing.shop.owner_id == request.user.pk
    buyable = listing.status == ListingStatus.ACTIVE and not listing.shop.is_suspended and not is_owner
    max_quantity = min(listing.stock, 99) if listing.stock is not None else 99
    return render(
        request,
        "commerce/listing.html",
        {
            "listing": listing,
            "images": list(listing.images.all()),
            "is_owner": is_owner,
            "buyable": buyable,
            "max_quantity": max_quantity,
            "ships_to": _country_names(listing.ships_to),
            "price_display": format_money(listing.price, listing.currency),
            "shipping_display": format_money(listing.shipping_price, listing.currency),
        },
    )


def _country_names(codes) -> list[str]:
    from django_countries import countries

    return [countries.name(code) or code for code in (codes or [])]


def _shop_or_redirect(request):
    shop = selectors.shop_for_user(request.user)
    if shop is None:
        messages.info(request, "Open your shop first.")
    return shop


@login_required
@require_GET
def seller_listings(request):
    shop = _shop_or_redirect(request)
    if shop is None:
        return redirect("commerce:shop_open")
    status = request.GET.get("status") or ""
    return render(
        request,
        "commerce/sell_listings.html",
        {
            "shop": shop,
            "listings": selectors.seller_listings(shop, status=status),
            "status": status if status in ListingStatus.values else "",
            "statuses": ListingStatus.choices,
        },
    )


def _fields(data) -> dict:
    return {
        "title": data["title"],
        "description": data["description"],
        "category": data["category"],
        "kind": data["kind"],
        "price": data["price_money"],
        "stock": data.get("stock"),
        "shipping_price": data["shipping_minor"],
        "ships_to": list(data.get("ships_to") or []),
    }


@login_required
@require_http_methods(["GET", "POST"])
def listing_new(request):
    shop = _shop_or_redirect(request)
    if shop is None:
        return redirect("commerce:shop_open")
    form = ListingForm(request.POST or None, initial={"currency": request.user.home_currency or "USD"})
    error, status = "", 200
    if request.method == "POST":
        if form.is_valid():
            from ..services.listings import listing_create

            try:
                listing = listing_create(request.user, **_fields(form.cleaned_data))
            except DomainError as exc:
                error, status = exc.message, exc.status
            else:
                messages.success(request, "Draft saved. Add images (and the file, for a download), then publish.")
                return redirect("commerce:listing_edit", pk=listing.pk)
        else:
            status = 400
    return render(request, "commerce/listing_form.html", {"form": form, "shop": shop, "error": error}, status=status)


def _edit_context(request, listing, form=None, *, error="") -> dict:
    images = list(listing.images.all())
    return {
        "listing": listing,
        "shop": listing.shop,
        "form": form
        or ListingForm(
            initial={
                "title": listing.title,
                "description": listing.description,
                "category": listing.category,
                "kind": listing.kind,
                "price": _major(listing.price, listing.currency),
                "currency": listing.currency,
                "stock": listing.stock,
                "shipping_price": _major(listing.shipping_price, listing.currency),
                "ships_to": listing.ships_to,
            }
        ),
        "images": images,
        "can_add_image": len(images) < LISTING_MAX_IMAGES,
        "max_images": LISTING_MAX_IMAGES,
        "image_form": ImageForm(),
        "file_form": DigitalFileForm(),
        "is_digital": listing.kind == ListingKind.DIGITAL,
        "error": error,
    }


def _major(amount: int, currency: str) -> str:
    from core.money import to_decimal

    return str(to_decimal(amount, currency))


def _owned(request, pk):
    try:
        return selectors.listing_for_owner(request.user, pk)
    except NotFound as exc:
        raise Http404(exc.message) from None


@login_required
@require_http_methods(["GET", "POST"])
def listing_edit(request, pk):
    listing = _owned(request, pk)
    if request.method == "GET":
        return render(request, "commerce/listing_edit.html", _edit_context(request, listing))
    form = ListingForm(request.POST)
    if not form.is_valid():
        return render(request, "commerce/listing_edit.html", _edit_context(request, listing, form), status=400)
    from ..services.listings import listing_update

    try:
        listing_update(request.user, listing=listing, **_fields(form.cleaned_data))
    except DomainError as exc:
        return render(
            request,
            "commerce/listing_edit.html",
            _edit_context(request, listing, form, error=exc.message),
            status=exc.status,
        )
    messages.success(request, "Listing saved.")
    return redirect("commerce:listing_edit", pk=listing.pk)


@login_required
@require_POST
def listing_image_add(request, pk):
    listing = _owned(request, pk)
    form = ImageForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose an image to upload.")
        return redirect("commerce:listing_edit", pk=listing.pk)
    from ..services.listings import listing_image_add as add

    try:
        add(request.user, listing=listing, file=form.cleaned_data["image"], alt=form.cleaned_data["alt"])
    except DomainError as exc:
        return back_with_error(request, exc, "commerce:listing_edit", pk=listing.pk)
    messages.success(request, "Image added.")
    return redirect("commerce:listing_edit", pk=listing.pk)


@login_required
@require_POST
def listing_image_remove(request, pk, image_id):
    listing = _owned(request, pk)
    image = next((i for i in listing.images.all() if i.pk == image_id), None)
    if image is None:
        raise Http404("No such image.")
    from ..services.listings import listing_image_remove as remove

    try:
        remove(request.user, image=image)
    except DomainError as exc:
        return back_with_error(request, exc, "commerce:listing_edit", pk=listing.pk)
    messages.success(request, "Image removed.")
    return redirect("commerce:listing_edit", pk=listing.pk)


@login_required
@require_POST
def listing_digital_file(request, pk):
    listing = _owned(request, pk)
    form = DigitalFileForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a file to upload.")
        return redirect("commerce:listing_edit", pk=listing.pk)
    from ..services.listings import listing_digital_file_set

    try:
        listing_digital_file_set(request.user, listing=listing, file=form.cleaned_data["file"])
    except DomainError as exc:
        return back_with_error(request, exc, "commerce:listing_edit", pk=listing.pk)
    messages.success(request, "File uploaded: buyers can download it after paying.")
    return redirect("commerce:listing_edit", pk=listing.pk)


@login_required
@require_POST
def listing_publish(request, pk):
    listing = _owned(request, pk)
    from ..services.listings import listing_publish as publish

    try:
        publish(request.user, listing=listing)
    except DomainError as exc:
        return back_with_error(request, exc, "commerce:listing_edit", pk=listing.pk)
    messages.success(request, "Published: your listing is in the marketplace.")
    return redirect("commerce:listing", pk=listing.pk)


@login_required
@require_POST
def listing_archive(request, pk):
    listing = _owned(request, pk)
    from ..services.listings import listing_archive as archive

    try:
        archive(request.user, listing=listing)
    except DomainError as exc:
        return back_with_error(request, exc, "commerce:listing_edit", pk=listing.pk)
    messages.success(request, "Archived: the listing is no longer for sale.")
    return redirect("commerce:sell_listings")


@login_required
@require_POST
def listing_share(request, pk):
    """The seller posts the listing to their followers (a social post with a Buy button)."""
    listing = _owned(request, pk)
    from ..social import listing_share_as_post

    text = (request.POST.get("text") or "").strip() or f"New in my shop: {listing.title}"
    try:
        post = listing_share_as_post(request.user, listing=listing, text=text)
    except DomainError as exc:
        return back_with_error(request, exc, "commerce:listing", pk=listing.pk)
    messages.success(request, "Posted: your followers see it in their timeline with a Buy button.")
    return redirect(f"/posts/{post.pk}")

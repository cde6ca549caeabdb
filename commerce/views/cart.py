"""The cart (``/shop/cart/``) and checkout (``/shop/checkout/``): address and pay currency → confirm
(items, shipping, total, FX) → pay. The idempotency key is made on the first step and carried
through the confirm step, so a double submit (or a replay) pays once (``checkout_pay``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_countries.fields import Country

from core.errors import DomainError, NotFound
from core.idempotency import new_key
from core.money import CURRENCIES, format_money

from .. import selectors
from ..forms import AddressForm
from ..selectors import _pk
from . import back_with_error


def _quantity(raw, default: int = 1) -> int | None:
    raw = (raw or "").strip() if isinstance(raw, str) else raw
    if raw in ("", None):
        return default
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 3:
        return int(raw)
    return None


@login_required
@require_GET
def cart_page(request):
    from ..services.cart import cart_groups

    groups = cart_groups(request.user)
    return render(
        request,
        "commerce/cart.html",
        {"groups": groups, "can_checkout": bool(groups) and not any(g.problems for g in groups)},
    )


def _listing_or_404(request, raw):
    try:
        return selectors.listing_for_page(request.user, raw)
    except NotFound as exc:
        raise Http404(exc.message) from None


@login_required
@require_POST
def cart_add(request):
    listing = _listing_or_404(request, request.POST.get("listing"))
    quantity = _quantity(request.POST.get("quantity"))
    if quantity is None or quantity < 1:
        messages.error(request, "Choose a quantity from 1 to 99.")
        return redirect("commerce:listing", pk=listing.pk)
    from ..services.cart import cart_add as add

    try:
        add(request.user, listing=listing, quantity=quantity)
    except DomainError as exc:
        return back_with_error(request, exc, "commerce:listing", pk=listing.pk)
    messages.success(request, f"“{listing.title}” is in your cart.")
    return redirect("commerce:cart")


@login_required
@require_POST
def cart_update(request):
    """Set a cart row's quantity (0 removes it)."""
    listing = _listing_for_cart(request)
    quantity = _quantity(request.POST.get("quantity"), default=-1)
    if quantity is None or quantity < 0:
        messages.error(request, "Choose a quantity from 0 to 99.")
        return redirect("commerce:cart")
    from ..services.cart import cart_set_quantity

    try:
        cart_set_quantity(request.user, listing=listing, quantity=quantity)
    except DomainError as exc:
        return back_with_error(request, exc, "commerce:cart")
    return redirect("commerce:cart")


def _listing_for_cart(request):
    """The listing of one of the user's own cart rows (it may no longer be buyable), else 404."""
    from ..models import CartItem

    pk = _pk(request.POST.get("listing"))
    row = CartItem.objects.filter(user=request.user, listing_id=pk).select_related("listing").first() if pk else None
    if row is None:
        raise Http404("That is not in your cart.")
    return row.listing


@login_required
@require_POST
def cart_remove(request):
    listing = _listing_for_cart(request)
    from ..services.cart import cart_remove as remove

    try:
        remove(request.user, listing=listing)
    except DomainError as exc:
        return back_with_error(request, exc, "commerce:cart")
    messages.success(request, f"Removed “{listing.title}” from your cart.")
    return redirect("commerce:cart")


# --- Checkout ----------------------------------------------------------------------------------


def _buy_now(source) -> tuple[int, int] | None:
    """``buy``/``qty`` (Buy now of one listing) or None (the cart). Raises Http404 on a bad id."""
    raw = source.get("buy")
    if not raw:
        return None
    pk = _pk(raw)
    if pk is None:
        raise Http404("No such listing.")
    # A mangled quantity in a link is not worth a dead end: 1 to 99, else 1 (the page shows it).
    quantity = _quantity(source.get("qty"))
    if quantity is None or not 1 <= quantity <= 99:
        quantity = 1
    return pk, quantity


def _form_key(request) -> str:
    """The form's idempotency key, or "" when missing or malformed (over 200 characters, or not
    printable: PostgreSQL refuses a NUL in text, which would be a 500)."""
    key = (request.POST.get("idempotency_key") or "").strip()
    return key if len(key) <= 200 and key.isprintable() else ""


def _pay_currency(source, user) -> str | None:
    raw = (source.get("pay_currency") or "").strip().upper()[:3]
    return raw if raw in CURRENCIES else None


def _address_form(source, *, bound: bool, user) -> AddressForm:
    if bound:
        return AddressForm(source)
    return AddressForm(initial={"name": getattr(user, "name", "") or "", "country": getattr(user, "country", "")})


def _currency_choices(quote, user) -> list[tuple[str, str]]:
    """The currencies the buyer may pay in: the listings' currency, and their home currency."""
    codes = []
    for group in quote.groups:
        if group.currency not in codes:
            codes.append(group.currency)
    home = getattr(user, "home_currency", "")
    if home in CURRENCIES and home not in codes:
        codes.append(home)
    if len(codes) < 2:
        return []
    return [(c, f"{c} — {CURRENCIES[c][2]}") for c in codes]


def _hidden(buy_now, pay_currency, address, key) -> dict:
    hidden = {"idempotency_key": key}
    if buy_now:
        hidden.update(buy=buy_now[0], qty=buy_now[1])
    if pay_currency:
        hidden["pay_currency"] = pay_currency
    for name, value in (address or {}).items():
        hidden[f"{name}"] = value
    return hidden


def _checkout_form(request, *, buy_now, pay_currency, form=None, error="", status=200, key=None):
    from ..services.checkout import checkout_quote

    try:
        quote = checkout_quote(request.user, buy_now=buy_now, pay_currency=pay_currency, address=None)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except DomainError as exc:
        return _refused(request, buy_now, exc)
    if not quote.groups:
        messages.info(request, "Your cart is empty.")
        return redirect("commerce:marketplace")
    return render(
        request,
        "commerce/checkout.html",
        {
            "quote": quote,
            "form": form or _address_form(request.POST, bound=False, user=request.user),
            "needs_address": quote.needs_address,
            "currency_choices": _currency_choices(quote, request.user),
            "pay_currency": pay_currency or quote.pay_currency,
            "buy_now": buy_now,
            "idempotency_key": key or new_key(),
            "error": error,
        },
        status=status,
    )


def _refused(request, buy_now, exc: DomainError):
    if isinstance(exc, NotFound):
        raise Http404(exc.message)
    messages.error(request, exc.message)
    if buy_now:
        return redirect("commerce:listing", pk=buy_now[0])
    return redirect("commerce:cart")


@login_required
@require_http_methods(["GET", "POST"])
def checkout(request):
    """Step 1 (GET): address for physical goods, the pay currency when there is a choice.
    Step 2 (POST): the confirm page — nothing moves until it is submitted to ``checkout_pay``."""
    source = request.POST if request.method == "POST" else request.GET
    buy_now = _buy_now(source)
    pay_currency = _pay_currency(source, request.user)
    key = _form_key(request) or None
    if request.method == "GET" or request.POST.get("back"):
        form = _address_form(request.POST, bound=False, user=request.user)
        if request.method == "POST":
            form = AddressForm(initial={k: request.POST.get(k, "") for k in AddressForm.FIELDS})
        return _checkout_form(request, buy_now=buy_now, pay_currency=pay_currency, form=form, key=key)
    from ..services.checkout import checkout_quote

    try:
        needs = checkout_quote(request.user, buy_now=buy_now, pay_currency=pay_currency, address=None)
    except DomainError as exc:
        return _refused(request, buy_now, exc)
    address = None
    if needs.needs_address:
        form = AddressForm(request.POST)
        if not form.is_valid():
            return _checkout_form(
                request,
                buy_now=buy_now,
                pay_currency=pay_currency,
                form=form,
                status=400,
                key=key,
                error="Check the delivery address.",
            )
        address = form.address()
    try:
        quote = checkout_quote(request.user, buy_now=buy_now, pay_currency=pay_currency, address=address)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise Http404(exc.message) from None
        form = AddressForm(request.POST) if needs.needs_address else None
        return _checkout_form(
            request,
            buy_now=buy_now,
            pay_currency=pay_currency,
            form=form,
            error=exc.message,
            status=exc.status,
            key=key,
        )
    problems = [p for g in quote.groups for p in g.problems]
    return render(
        request,
        "commerce/checkout_confirm.html",
        {
            "quote": quote,
            "address": address,
            "address_country": Country(address["country"]).name if address and address.get("country") else "",
            "problems": problems,
            "pay_total_display": format_money(quote.pay_total, quote.pay_currency),
            "hidden": {
                **_hidden(buy_now, quote.pay_currency, address, key or new_key()),
                "expected_total": quote.pay_total,  # what this page shows: paying any other total is refused
            },
            "fx": quote.fx_rate is not None,
        },
        status=422 if problems else 200,
    )


@login_required
@require_POST
def checkout_pay(request):
    """Pay the confirmed checkout (idempotent by the form's key: a double submit pays once)."""
    buy_now = _buy_now(request.POST)
    pay_currency = _pay_currency(request.POST, request.user)
    key = _form_key(request)
    if not key:
        messages.error(request, "This form expired: check the order again.")
        return redirect(reverse("commerce:checkout") + (f"?buy={buy_now[0]}&qty={buy_now[1]}" if buy_now else ""))
    address = None
    if any(request.POST.get(k) for k in AddressForm.FIELDS):
        form = AddressForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Check the delivery address.")
            return redirect("commerce:checkout")
        address = form.address()
    from ..services.checkout import checkout_pay as pay

    expected = request.POST.get("expected_total", "")
    expected_total = int(expected) if expected.isascii() and expected.isdigit() and len(expected) <= 18 else None
    if expected_total is None:
        messages.error(request, "This form expired: check the order again.")
        return redirect(reverse("commerce:checkout") + (f"?buy={buy_now[0]}&qty={buy_now[1]}" if buy_now else ""))
    try:
        orders = pay(
            request.user,
            buy_now=buy_now,
            pay_currency=pay_currency,
            address=address,
            idempotency_key=key,
            expected_total=expected_total,
        )
    except DomainError as exc:
        return _refused(request, buy_now, exc)
    if len(orders) == 1:
        messages.success(request, "Paid. Your money is held safely until you confirm you received the order.")
        return redirect("commerce:order", pk=orders[0].pk)
    messages.success(request, f"Paid: {len(orders)} orders, one per shop. Your money is held until each arrives.")
    return redirect("commerce:orders")

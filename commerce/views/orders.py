"""Order pages for the buyer (``/shop/orders/``) and the order page shared by buyer and seller
(``/shop/orders/<id>/``: timeline, items, amounts, actions), plus the access-checked download.

The order page re-renders its area on ``order.updated`` (static/js/commerce.js fetches
``?fragment=1``), so a status change made by the other party shows up live.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError, NotFound
from core.idempotency import new_key
from core.money import format_money

from .. import selectors
from ..forms import DisputeForm, RefundForm, ShipForm, parse_money
from ..models import OPEN_ORDER_STATUSES, DisputeStatus, OrderStatus
from . import back_with_error, page_number


@login_required
@require_GET
def orders_page(request):
    return render(
        request,
        "commerce/orders.html",
        {"page": selectors.buyer_orders(request.user, page=page_number(request))},
    )


def _order(request, pk):
    try:
        return selectors.order_for_page(request.user, pk)
    except NotFound as exc:
        raise Http404(exc.message) from None


def order_context(request, order, **extra) -> dict:
    from django.conf import settings
    from django.utils import timezone

    is_seller = order.shop.owner_id == request.user.pk
    is_buyer = order.buyer_id == request.user.pk
    dispute = getattr(order, "dispute_or_none", None)
    left = order.total - order.refunded
    open_status = order.status in OPEN_ORDER_STATUSES
    dispute_days = getattr(settings, "COMMERCE_DISPUTE_DAYS", 30)
    within_window = order.released_at is None or (
        order.delivered_at is not None and timezone.now() <= order.delivered_at + timedelta(days=dispute_days)
    )
    context = {
        "order": order,
        "items": list(order.items.all()),
        "events": list(order.events.all()),
        "refunds": list(order.refunds.all()),
        "dispute": dispute,
        "evidence": list(dispute.evidence.all()) if dispute else [],
        "is_seller": is_seller,
        "is_buyer": is_buyer,
        "left": left,
        "left_display": format_money(left, order.currency),
        "can_ship": is_seller and order.status == OrderStatus.PAID and not order.is_digital,
        "can_refund": is_seller and left > 0 and order.status != OrderStatus.REFUNDED,
        "can_confirm": is_buyer and order.status in (OrderStatus.PAID, OrderStatus.SHIPPED) and not order.is_digital,
        "can_download": is_buyer and order.status != OrderStatus.REFUNDED,
        "can_dispute": is_buyer
        and dispute is None
        and order.status != OrderStatus.REFUNDED
        and (open_status or within_window),
        "dispute_open": dispute is not None and dispute.status == DisputeStatus.OPEN,
        "ship_form": ShipForm(),
        "refund_form": RefundForm(initial={"idempotency_key": new_key()}),
        "dispute_form": DisputeForm(),
        "fx": order.paid_currency != order.currency,
        "fee_percent": f"{order.fee_bps / 100:g}",
    }
    context.update(extra)
    return context


@login_required
@require_GET
def order_page(request, pk):
    order = _order(request, pk)
    template = "commerce/_order_area.html" if request.GET.get("fragment") else "commerce/order.html"
    return render(request, template, order_context(request, order))


@login_required
@require_POST
def order_ship(request, pk):
    order = _order(request, pk)
    form = ShipForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Carrier and tracking number are at most 60 characters.")
        return redirect("commerce:order", pk=order.pk)
    from ..services.orders import order_ship as ship

    try:
        ship(
            request.user,
            order=order,
            carrier=form.cleaned_data["carrier"].strip(),
            tracking_number=form.cleaned_data["tracking_number"].strip(),
        )
    except DomainError as exc:
        return back_with_error(request, exc, "commerce:order", pk=order.pk)
    messages.success(request, "Marked as shipped: the buyer is told.")
    return redirect("commerce:order", pk=order.pk)


@login_required
@require_POST
def order_confirm(request, pk):
    order = _order(request, pk)
    from ..services.orders import order_confirm_received

    try:
        order_confirm_received(request.user, order=order)
    except DomainError as exc:
        return back_with_error(request, exc, "commerce:order", pk=order.pk)
    messages.success(request, "Thank you: the seller has been paid.")
    return redirect("commerce:order", pk=order.pk)


@login_required
@require_POST
def order_refund(request, pk):
    """Two steps: the form posts here (shows a confirm page), the confirm page posts ``confirm=1``."""
    order = _order(request, pk)
    form = RefundForm(request.POST)

    def show_again(message: str):
        # The order page again with the refund form open, what was typed and the error beside it.
        if order.shop.owner_id != request.user.pk:
            raise Http404("No such order.")
        form.add_error("amount", message)
        context = order_context(request, order, refund_form=form, refund_open=True)
        return render(request, "commerce/order.html", context, status=400)

    if not form.is_valid():
        return show_again("Check the refund amount.")
    data = form.cleaned_data
    left = order.total - order.refunded
    try:
        amount = parse_money(data["amount"], order.currency) if (data["amount"] or "").strip() else None
    except DomainError as exc:
        return show_again(exc.message)
    if amount is not None and amount > left:
        return show_again(f"You can refund at most {format_money(left, order.currency)}.")
    if not request.POST.get("confirm"):
        if order.shop.owner_id != request.user.pk:
            raise Http404("No such order.")
        return render(
            request,
            "commerce/refund_confirm.html",
            {
                "order": order,
                "amount_display": format_money(amount if amount is not None else left, order.currency),
                "after_release": order.released_at is not None,
                "hidden": {
                    "amount": data["amount"] or "",
                    "reason": data["reason"] or "",
                    "idempotency_key": data["idempotency_key"] or new_key(),
                    "confirm": "1",
                },
            },
        )
    from ..services.orders import order_refund as refund

    try:
        done = refund(
            request.user,
            order=order,
            amount=amount,
            reason=(data["reason"] or "").strip(),
            idempotency_key=data["idempotency_key"] or None,
        )
    except DomainError as exc:
        return back_with_error(request, exc, "commerce:order", pk=order.pk)
    messages.success(request, f"Refunded {format_money(done.amount, order.currency)} to the buyer.")
    return redirect("commerce:order", pk=order.pk)


@login_required
@require_POST
def order_dispute(request, pk):
    order = _order(request, pk)
    form = DisputeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say what went wrong (up to 2,000 characters).")
        return redirect("commerce:order", pk=order.pk)
    evidence = request.FILES.getlist("evidence")
    from ..services.disputes import dispute_open

    try:
        dispute_open(request.user, order=order, reason=form.cleaned_data["reason"].strip(), evidence=evidence)
    except DomainError as exc:
        return back_with_error(request, exc, "commerce:order", pk=order.pk)
    messages.success(request, "Dispute opened: the money stays held while our team looks at it.")
    return redirect("commerce:order", pk=order.pk)


@login_required
@require_http_methods(["GET"])
def order_download(request, pk, item_id):
    """The digital file of an order line, for the buyer only (anyone else: 404)."""
    order = _order(request, pk)
    item = next((i for i in order.items.all() if i.pk == item_id), None)
    if item is None or order.buyer_id != request.user.pk:
        raise Http404("No such download.")
    from ..services.orders import order_download as download

    try:
        item = download(request.user, item=item)
    except DomainError as exc:
        return back_with_error(request, exc, "commerce:order", pk=order.pk)
    listing = item.listing
    if not listing.digital_file:
        raise Http404("The file is not available.")
    try:
        handle = listing.digital_file.storage.open(listing.digital_file.name, "rb")
    except (FileNotFoundError, OSError, ValueError):
        raise Http404("The file is not available.") from None
    response = FileResponse(handle, content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(
        True, listing.digital_file_name or f"download-{item.pk}"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response

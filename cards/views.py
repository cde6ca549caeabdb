"""HTML pages of the debit card (``/cards/``) and the demo merchant's checkout (``/cards/demo-shop/``).

Thin: parse, call ``cards.services`` / ``cards.selectors`` / ``cards.network``, render. Every card
id is looked up through the services, which answer ``NotFound`` for someone else's card (a 404 here).

Showing the full number and CVV needs a recent re-authentication through django-allauth
(password, or an MFA code): allauth records each (re-)authentication in the session under
``account_authentication_methods`` (a list of ``{"method", "at", "reauthenticated": True...}``);
``last_reauthenticated_at`` reads the newest re-authentication and ``card_reveal`` refuses it when
it is older than 60 seconds. A refusal sends the person to allauth's re-authentication page with
``next`` back to the reveal.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError, IdempotencyKeyReused, NotFound
from core.idempotency import new_key
from core.money import format_money
from payments.selectors import wallet_available

from . import network, selectors, services
from .forms import CURRENCY, CheckoutForm, LimitsForm
from .models import Authorization, AuthorizationStatus, DeclineReason

# --- Re-authentication (allauth's session records) ---------------------------------------------

AUTH_RECORDS_KEY = "account_authentication_methods"  # allauth.account.internal.flows.login
AUTH_RECORDS_USER_KEY = "account_authentication_methods_user"


def last_reauthenticated_at(session, user) -> float | None:
    """Unix time of ``user``'s newest re-authentication (password or MFA) in ``session``, or None.

    Only entries allauth marks ``reauthenticated`` count: signing in a while ago does not unlock
    the card's details, entering the password (or an MFA code) again does.
    """
    if session is None or user is None or not user.is_authenticated:
        return None
    if session.get(AUTH_RECORDS_USER_KEY) != str(user.pk):
        return None
    records = session.get(AUTH_RECORDS_KEY)
    if not isinstance(records, list):
        return None
    times = [
        r["at"]
        for r in records
        if isinstance(r, dict)
        and r.get("reauthenticated")
        and isinstance(r.get("at"), int | float)
        and not isinstance(r.get("at"), bool)
    ]
    return float(max(times)) if times else None


def reauthenticate_url(user, next_url: str) -> str:
    """allauth's re-authentication page for ``user`` (password first, else MFA), coming back to ``next_url``."""
    from allauth.account.adapter import get_adapter

    methods = get_adapter().get_reauthentication_methods(user)
    base = methods[0]["url"] if methods else reverse("account_login")
    return f"{base}?{urlencode({REDIRECT_FIELD_NAME: next_url})}"


# --- Words for the page --------------------------------------------------------------------------

DECLINE_WORDS = {
    DeclineReason.CARD_NOT_FOUND: "We do not know that card number. Check the 16 digits.",
    DeclineReason.FROZEN: "The card is frozen. Unfreeze it on your card page and try again.",
    DeclineReason.CANCELLED: "The card was cancelled (replaced). Use your new card.",
    DeclineReason.EXPIRED: "The card has expired.",
    DeclineReason.WRONG_EXPIRY: "The expiry date does not match the card.",
    DeclineReason.WRONG_CVV: "The CVV does not match the card.",
    DeclineReason.OVER_PURCHASE_LIMIT: "This is more than the card's per-purchase limit.",
    DeclineReason.OVER_DAILY_LIMIT: "This would go over the card's daily limit.",
    DeclineReason.INSUFFICIENT_FUNDS: "There is not enough money in the wallet.",
    DeclineReason.CURRENCY_NOT_SUPPORTED: "The card pays in US dollars only.",
    DeclineReason.ACCOUNT_FROZEN: "The account is frozen: contact support.",
}


def decline_words(reason: str) -> str:
    return DECLINE_WORDS.get(reason, "The payment was declined.")


def _status_label(auth: Authorization) -> str:
    if auth.status == AuthorizationStatus.DECLINED:
        label = auth.get_decline_reason_display() if auth.decline_reason else ""
        return f"Declined: {label}" if label else "Declined"
    return auth.get_status_display()


def purchase_rows(purchases) -> list[dict]:
    """What the purchases list shows per authorisation (no queries: the merchant is joined)."""
    rows = []
    for a in purchases:
        held = a.held_amount
        if a.status == AuthorizationStatus.DECLINED:
            shown = a.amount
        elif a.status in (AuthorizationStatus.PENDING, AuthorizationStatus.PARTIALLY_CAPTURED):
            shown = a.captured_amount - a.refunded_amount + held
        else:
            shown = a.captured_amount - a.refunded_amount
        detail = []
        if a.status == AuthorizationStatus.PARTIALLY_CAPTURED:
            detail.append(f"{format_money(held, a.currency)} still held")
        if a.refunded_amount:
            detail.append(f"Refunded {format_money(a.refunded_amount, a.currency)}")
        rows.append(
            {
                "auth": a,
                "amount": shown,
                "status_label": _status_label(a),
                "is_void": a.status
                in (AuthorizationStatus.REVERSED, AuthorizationStatus.EXPIRED, AuthorizationStatus.DECLINED),
                "detail": " · ".join(detail),
            }
        )
    return rows


# --- The card page ---------------------------------------------------------------------------


@sensitive_variables("revealed", "context")
def _home_context(request, *, limits_form=None, revealed=None) -> dict:
    user = request.user
    card = selectors.card_open_for(user)
    state = selectors.card_issue_state(user)
    if card is None and state == "has_card":
        state = "eligible"
    context = {
        "card": card,
        "state": state,
        "threshold": settings.CARDS_ISSUE_THRESHOLD,
        "currency": CURRENCY,
        "max_purchase": settings.CARDS_MAX_PURCHASE_LIMIT,
        "max_daily": settings.CARDS_MAX_DAILY_LIMIT,
        "revealed": revealed,
        "revealed_number": " ".join(revealed.number[i : i + 4] for i in range(0, len(revealed.number), 4))
        if revealed
        else "",
        "reveal_seconds": services.REVEAL_SECONDS,
    }
    if card is not None:
        spent = selectors.card_daily_spent(card)
        context.update(
            purchases=purchase_rows(selectors.card_purchases(user, limit=25)),
            daily_spent=spent,
            daily_left=max(card.daily_limit - spent, 0),
            daily_percent=min(100, spent * 100 // card.daily_limit) if card.daily_limit else 0,
            available=wallet_available(user, CURRENCY),
            limits_form=limits_form
            or LimitsForm(
                initial={
                    "per_purchase": f"{card.per_purchase_limit / 100:.2f}",
                    "daily": f"{card.daily_limit / 100:.2f}",
                }
            ),
            holder_name=user.display_name or f"@{user.handle}",
        )
    return context


@login_required
@require_GET
@never_cache
def cards_home(request):
    """The card (face, controls, purchases) or what to do to get one. ``?fragment=1``: the card area only."""
    context = _home_context(request)
    if request.GET.get("fragment"):
        return render(request, "cards/_card_area.html", context)
    return render(request, "cards/home.html", context)


def _error_redirect(request, exc: DomainError):
    if isinstance(exc, NotFound):
        raise Http404(exc.message)
    messages.error(request, exc.message)
    return redirect("cards:home")


@login_required
@require_POST
def card_request(request):
    """ "Get your card": issue one if the person is eligible (tier 1, balance at the threshold)."""
    try:
        card = services.card_issue(request.user)
    except DomainError as exc:
        return _error_redirect(request, exc)
    messages.success(request, f"Your card •••• {card.last4} is ready.")
    return redirect("cards:home")


@login_required
@require_POST
def card_freeze(request, pk: int):
    try:
        services.card_freeze(request.user, card=pk)
    except DomainError as exc:
        return _error_redirect(request, exc)
    messages.success(request, "Your card is frozen: every purchase is declined until you unfreeze it.")
    return redirect("cards:home")


@login_required
@require_POST
def card_unfreeze(request, pk: int):
    try:
        services.card_unfreeze(request.user, card=pk)
    except DomainError as exc:
        return _error_redirect(request, exc)
    messages.success(request, "Your card works again.")
    return redirect("cards:home")


@login_required
@require_POST
def card_limits(request, pk: int):
    form = LimitsForm(request.POST)
    if not form.is_valid():
        if selectors.card_open_for(request.user) is None:
            raise Http404("No such card.")
        return render(request, "cards/home.html", _home_context(request, limits_form=form), status=400)
    try:
        services.card_limits_set(
            request.user,
            card=pk,
            per_purchase=form.cleaned_data["per_purchase_minor"],
            daily=form.cleaned_data["daily_minor"],
        )
    except DomainError as exc:
        return _error_redirect(request, exc)
    messages.success(request, "Spending limits saved.")
    return redirect("cards:home")


@login_required
@require_http_methods(["GET", "POST"])
def card_replace(request, pk: int):
    """GET: the confirm step ("the old card stops working at once"); POST: replace."""
    card = selectors.card_open_for(request.user)
    if card is None or card.pk != pk:
        raise Http404("No such card.")
    if request.method == "GET":
        return render(request, "cards/replace_confirm.html", {"card": card})
    try:
        new = services.card_replace(request.user, card=pk)
    except DomainError as exc:
        return _error_redirect(request, exc)
    messages.success(request, f"Your new card •••• {new.last4} is ready; •••• {card.last4} no longer works.")
    return redirect("cards:home")


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
@sensitive_variables("revealed", "response", "context")
def card_reveal(request, pk: int):
    """The full number and CVV for 60 seconds, after a recent re-authentication (else: re-authenticate)."""
    try:
        revealed = services.card_reveal(
            request.user, card=pk, authenticated_at=last_reauthenticated_at(request.session, request.user)
        )
    except services.ReauthenticationRequired:
        return HttpResponseRedirect(reauthenticate_url(request.user, reverse("cards:reveal", args=[pk])))
    except DomainError as exc:
        return _error_redirect(request, exc)
    response = render(request, "cards/home.html", _home_context(request, revealed=revealed))
    response["Cache-Control"] = "no-store"
    return response


# --- The demo merchant ---------------------------------------------------------------------------

DEMO_SHOP_NAME = "Everything Coffee Co."
DEMO_SHOP_MCC = "5814"  # fast food / coffee shops
DEMO_ITEMS = [
    {"id": "espresso", "name": "Double espresso", "price": 350, "blurb": "Two shots, single origin."},
    {"id": "latte", "name": "Oat milk latte", "price": 525, "blurb": "Smooth, a little sweet."},
    {"id": "beans", "name": "House beans, 1 lb", "price": 1899, "blurb": "Whole bean, roasted this week."},
]
DEMO_ITEMS_BY_ID = {item["id"]: item for item in DEMO_ITEMS}


def demo_network_id(user, form_key: str) -> str:
    """The network transaction id of a checkout: per buyer, and in its own namespace.

    All buyers share the demo merchant, whose ids are unique per merchant. The form key is the
    buyer's to choose, so it never becomes the id as is: "demo-capture-<order>" as a key would take
    the id another buyer's "Complete the order" uses (and block it), and one buyer's key would
    replay into another's checkout."""
    digest = hashlib.sha256(f"{user.pk}:{form_key}".encode()).hexdigest()[:40]
    return f"demo-pay-{digest}"


def _demo_merchant_open():
    """The demo merchant, or None when staff deactivated it (the shop is closed, like its API key)."""
    merchant = network.demo_merchant()
    return merchant if merchant.is_active else None


def _shop_page(request, form=None, *, status: int = 200, result: dict | None = None, error: str = ""):
    if form is None or result is not None or error:
        # A fresh form (and key) for the next try; the card details are never echoed back.
        selected = form.data.get("item") if form is not None else None
        form = CheckoutForm(items=DEMO_ITEMS, initial={"idempotency_key": new_key(), "item": selected or "latte"})
    return render(
        request,
        "cards/demo_shop.html",
        {
            "form": form,
            "items": DEMO_ITEMS,
            "shop_name": DEMO_SHOP_NAME,
            "result": result,
            "error": error,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
@sensitive_post_parameters("number", "cvv")
@sensitive_variables("form", "data")
def demo_shop(request):
    """The demo coffee shop: pick an item, pay with a card. The server is the merchant here: it
    calls the card network's authorise with a network transaction id made from the form's key,
    so a double submit authorises once."""
    if request.method == "GET":
        return _shop_page(request)
    form = CheckoutForm(request.POST, items=DEMO_ITEMS)
    if not form.is_valid():
        form.data = form.data.copy()
        form.data["number"] = ""  # never echo a card number back
        return _shop_page(request, form, status=400)
    data = form.cleaned_data
    item = DEMO_ITEMS_BY_ID[data["item"]]
    month, year = data["expiry"]
    merchant = _demo_merchant_open()
    if merchant is None:
        return _shop_page(request, form, status=503, error="The demo shop is closed for now.")
    try:
        result = network.card_authorize(
            merchant,
            number=data["number"],
            exp_month=month,
            exp_year=year,
            cvv=data["cvv"],
            amount=item["price"],
            currency=CURRENCY,
            merchant_name=DEMO_SHOP_NAME,
            category_code=DEMO_SHOP_MCC,
            network_transaction_id=demo_network_id(request.user, data["idempotency_key"]),
        )
    except IdempotencyKeyReused:
        return _shop_page(
            request, form, status=409, error="This checkout form was already used for another payment. Try again."
        )
    except DomainError as exc:
        return _shop_page(request, form, status=exc.status, error=exc.message)
    if result.get("approved"):
        return redirect("cards:demo_order", pk=result["authorization_id"])
    return _shop_page(
        request,
        form,
        status=200,
        result={"reason": result.get("decline_reason", ""), "words": decline_words(result.get("decline_reason", ""))},
    )


def _demo_order(request, pk: int) -> Authorization:
    """The buyer's own demo order (an approved authorisation at the demo merchant), else 404."""
    auth = (
        Authorization.objects.select_related("card", "merchant")
        .filter(pk=pk, merchant__is_demo=True, card__user=request.user)
        .exclude(status=AuthorizationStatus.DECLINED)
        .first()
    )
    if auth is None:
        raise Http404("No such order.")
    return auth


@login_required
@require_GET
@never_cache
def demo_order(request, pk: int):
    auth = _demo_order(request, pk)
    item = next((i for i in DEMO_ITEMS if i["price"] == auth.amount), None)
    return render(
        request,
        "cards/demo_order.html",
        {"auth": auth, "item": item, "shop_name": DEMO_SHOP_NAME, "row": purchase_rows([auth])[0]},
    )


@login_required
@require_POST
def demo_order_action(request, pk: int, action: str):
    """The merchant's side of the order: capture it all ("complete"), reverse it ("cancel") or refund it.

    Network transaction ids are fixed per order and action, so a double click acts once."""
    auth = _demo_order(request, pk)
    merchant = auth.merchant
    if not merchant.is_active:
        messages.error(request, "The demo shop is closed for now.")
        return redirect("cards:demo_order", pk=auth.pk)
    try:
        if action == "capture":
            network.card_capture(
                merchant,
                authorization_id=auth.pk,
                amount=None,
                network_transaction_id=f"demo-capture-{auth.pk}",
                final=True,
            )
            messages.success(request, "Order complete: the shop captured the payment.")
        elif action == "reverse":
            network.card_reverse(merchant, authorization_id=auth.pk, network_transaction_id=f"demo-reverse-{auth.pk}")
            messages.success(request, "Order cancelled: the hold on your card was released.")
        elif action == "refund":
            amount = auth.captured_amount - auth.refunded_amount
            if amount <= 0:
                messages.error(request, "There is nothing left to refund.")
                return redirect("cards:demo_order", pk=auth.pk)
            network.card_refund(
                merchant, authorization_id=auth.pk, amount=amount, network_transaction_id=f"demo-refund-{auth.pk}"
            )
            messages.success(request, f"Refunded {format_money(amount, auth.currency)} to your wallet.")
        else:
            raise Http404("No such action.")
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise Http404(exc.message) from None
        messages.error(request, exc.message)
    return redirect("cards:demo_order", pk=auth.pk)

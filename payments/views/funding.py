"""HTML views of funding: linked cards, add money (top-up) and cash out.

Thin: parse (``payments.forms_funding``), call ``payments.services.funding``, render.
Money pages go form -> confirm -> submit; the key minted with the first form
travels through the confirm form, and the submit view is ``@idempotent`` and passes
the key on to the service, so a double submit moves money once. A refusal is shown
on the first form with its HTTP status (4xx, which releases the key in
core.idempotency) and a fresh key, so the person can correct it and try again.

The card number and CVC are never rendered back into a page, never put in a
message and are hidden from Django's error reports (``sensitive_post_parameters``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError, NotFound
from core.idempotency import FORM_FIELD, idempotent, new_key

from .. import processor
from ..forms_funding import AddMoneyForm, CardForm, CashOutForm
from ..models import CashOutSpeed, MovementStatus
from ..services.funding import (
    MAX_ACTIVE_CARDS,
    card_label,
    card_link,
    card_remove,
    cash_out_for_user,
    cash_outs_for,
    cashout_arrival,
    cashout_check,
    cashout_create,
    funding_card_for_user,
    funding_cards_for,
    top_up_for_user,
    top_ups_for,
    topup_check,
    topup_create,
)
from ..services.wallet import wallet_account
from .wallet import html_idempotency_errors

CASH_OUTS_PER_PAGE = 10
RECENT_TOP_UPS = 5
NEXT_PAGES = {"add": "payments:add_money", "cash-out": "payments:cash_out"}
ADD_FIELDS = ("card", "amount", "currency")
CASH_OUT_FIELDS = ("card", "amount", "currency", "speed")


def _key_from(request) -> str:
    key = (request.POST.get(FORM_FIELD) or "").strip()
    return key[:200] if key else new_key()


def _add_domain_error(form, error: DomainError) -> None:
    placed = False
    for field, problems in (error.fields or {}).items():
        if field in form.fields:
            for problem in problems if isinstance(problems, list) else [problems]:
                form.add_error(field, str(problem))
            placed = True
    if not placed or error.message not in {str(e) for errors in form.errors.values() for e in errors}:
        form.add_error(None, error.message)


def _values(request, names) -> dict:
    return {name: request.POST.get(name, "")[:40] for name in names if request.POST.get(name)}


def _refilled(request, form_class, names):
    """An unbound form showing what was POSTed (for "Back" and for a refusal after submit)."""
    return form_class(initial=_values(request, names), user=request.user)


def _checked(request, form_class, page):
    """The confirm step's POSTed form and key; ``response`` is the form page again (400) if it is not valid."""
    key = _key_from(request)
    form = form_class(request.POST, user=request.user)
    response = None if form.is_valid() else page(request, form, status=400, key=key)
    return form, key, response


# --- Cards ---------------------------------------------------------------------------------


def _cards_page(request, form, *, status: int = 200):
    cards = list(funding_cards_for(request.user))
    return render(
        request,
        "payments/funding/cards.html",
        {
            "cards": [(card, card_label(card)) for card in cards],
            "form": form,
            "can_add": len(cards) < MAX_ACTIVE_CARDS,
            "max_cards": MAX_ACTIVE_CARDS,
            "test_cards": processor.TEST_CARDS if settings.DEBUG else None,
            "next": request.GET.get("next") if request.GET.get("next") in NEXT_PAGES else "",
        },
        status=status,
    )


@sensitive_variables("data")
@sensitive_post_parameters("number", "cvc")
@login_required
@require_http_methods(["GET", "POST"])
def cards(request):
    """The linked cards and the add-card form (POST links a card; nothing about it is echoed back)."""
    if request.method == "GET":
        return _cards_page(request, CardForm())
    form = CardForm(request.POST)
    if not form.is_valid():
        return _cards_page(request, form, status=400)
    data = form.cleaned_data
    try:
        card = card_link(
            request.user, number=data["number"], exp_month=data["exp_month"], exp_year=data["exp_year"], cvc=data["cvc"]
        )
    except DomainError as error:
        _add_domain_error(form, error)
        return _cards_page(request, form, status=error.status)
    messages.success(request, f"{card_label(card)} is linked. You can add money from it or cash out to it.")
    return redirect(NEXT_PAGES.get(request.GET.get("next", ""), "payments:cards"))


@login_required
@require_http_methods(["GET", "POST"])
def card_remove_view(request, pk: int):
    """GET: "Remove this card?"; POST: remove it. Someone else's card, or a removed one: 404."""
    try:
        card = funding_card_for_user(request.user, pk)
    except NotFound:
        raise Http404("That card is not linked to your account.") from None
    if request.method == "GET":
        return render(request, "payments/funding/card_remove.html", {"card": card, "label": card_label(card)})
    try:
        card_remove(request.user, card=card)
    except NotFound:
        raise Http404("That card is not linked to your account.") from None
    messages.success(request, f"{card_label(card)} was removed.")
    return redirect("payments:cards")


# --- Add money -----------------------------------------------------------------------------


def _add_page(request, form, *, status: int = 200, key: str | None = None, page_error: str = ""):
    return render(
        request,
        "payments/funding/add_money.html",
        {
            "form": form,
            "has_cards": funding_cards_for(request.user).exists(),
            "idempotency_key": key or new_key(),
            "page_error": page_error,
            "top_ups": [(t, card_label(t.card)) for t in top_ups_for(request.user)[:RECENT_TOP_UPS]],
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def add_money(request):
    """Choose a card, an amount and a currency. A POST is "Back" from the confirm step (same values, same key)."""
    if request.method == "GET":
        return _add_page(request, AddMoneyForm(user=request.user))
    form = _refilled(request, AddMoneyForm, ADD_FIELDS)
    return _add_page(request, form, key=_key_from(request))


@login_required
@require_http_methods(["GET", "POST"])
def add_money_confirm(request):
    """Check the form and show what will happen; nothing is charged until it is submitted."""
    if request.method == "GET":
        return redirect("payments:add_money")
    form, key, response = _checked(request, AddMoneyForm, _add_page)
    if response:
        return response
    data = form.cleaned_data
    try:
        card = topup_check(request.user, card=data["card"], amount=data["money"])
    except DomainError as error:
        _add_domain_error(form, error)
        return _add_page(request, form, status=error.status, key=key)
    return render(
        request,
        "payments/funding/add_money_confirm.html",
        {
            "card": card,
            "label": card_label(card),
            "money": data["money"],
            "fee": 0,
            "hidden": {
                "card": card.pk,
                "amount": data["amount"],
                "currency": data["money"].currency,
                FORM_FIELD: key,
            },
        },
    )


def _add_error_page(request, code, message, status):
    if code == "request_in_progress":
        messages.info(request, "Your top-up is still being processed: check your wallet in a moment.")
        return redirect("payments:add_money")
    if code == "idempotency_key_reused":
        message = "This form was already used for a different top-up, so nothing was charged. Check and try again."
    form = _refilled(request, AddMoneyForm, ADD_FIELDS)
    return _add_page(request, form, status=status, page_error=message)


@login_required
@require_POST
@html_idempotency_errors(_add_error_page)
@idempotent
def add_money_submit(request):
    """Charge the card and credit the wallet. Idempotent by the form's key: a double submit charges once."""
    form = AddMoneyForm(request.POST, user=request.user)
    if not form.is_valid():
        return _add_page(request, form, status=400)
    data = form.cleaned_data
    try:
        topup = topup_create(request.user, card=data["card"], amount=data["money"], idempotency_key=_key_from(request))
    except DomainError as error:
        fresh = _refilled(request, AddMoneyForm, ADD_FIELDS)
        return _add_page(request, fresh, status=error.status, page_error=error.message)
    return redirect("payments:top_up", pk=topup.pk)


@login_required
@require_GET
def top_up_detail(request, pk: int):
    """A top-up's outcome, with the wallet's new balance in its currency."""
    try:
        topup = top_up_for_user(request.user, pk)
    except NotFound:
        raise Http404("That top-up does not exist.") from None
    account = wallet_account(request.user, topup.currency)
    return render(
        request,
        "payments/funding/top_up.html",
        {"topup": topup, "label": card_label(topup.card), "account": account},
    )


# --- Cash out ------------------------------------------------------------------------------


def _cash_out_page(request, form, *, status: int = 200, key: str | None = None, page_error: str = ""):
    page = Paginator(cash_outs_for(request.user), CASH_OUTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "payments/funding/cash_out.html",
        {
            "form": form,
            "has_cards": funding_cards_for(request.user).exists(),
            "idempotency_key": key or new_key(),
            "page_error": page_error,
            "page": page,
            "cash_outs": [(c, card_label(c.card)) for c in page.object_list],
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def cash_out(request):
    """The cash-out form and the recent cash-outs. A POST is "Back" from the confirm step."""
    if request.method == "GET":
        return _cash_out_page(request, CashOutForm(user=request.user))
    form = _refilled(request, CashOutForm, CASH_OUT_FIELDS)
    return _cash_out_page(request, form, key=_key_from(request))


@login_required
@require_http_methods(["GET", "POST"])
def cash_out_confirm(request):
    """Show the fee, the total taken from the wallet and when it arrives; nothing moves yet."""
    if request.method == "GET":
        return redirect("payments:cash_out")
    form, key, response = _checked(request, CashOutForm, _cash_out_page)
    if response:
        return response
    data = form.cleaned_data
    try:
        quote = cashout_check(request.user, card=data["card"], amount=data["money"], speed=data["speed"])
    except DomainError as error:
        _add_domain_error(form, error)
        return _cash_out_page(request, form, status=error.status, key=key)
    card = data["card"]
    return render(
        request,
        "payments/funding/cash_out_confirm.html",
        {
            "card": card,
            "label": card_label(card),
            "quote": quote,
            "speed": data["speed"],
            "instant": data["speed"] == CashOutSpeed.INSTANT,
            "arrives": cashout_arrival(data["speed"]),
            "available": wallet_account(request.user, quote.amount.currency).available,
            "hidden": {
                "card": card.pk,
                "amount": data["amount"],
                "currency": quote.amount.currency,
                "speed": data["speed"],
                FORM_FIELD: key,
            },
        },
    )


def _cash_out_error_page(request, code, message, status):
    if code == "request_in_progress":
        messages.info(request, "Your cash-out is still being processed: check the list below in a moment.")
        return redirect("payments:cash_out")
    if code == "idempotency_key_reused":
        message = "This form was already used for a different cash-out, so nothing was sent. Check and try again."
    form = _refilled(request, CashOutForm, CASH_OUT_FIELDS)
    return _cash_out_page(request, form, status=status, page_error=message)


@login_required
@require_POST
@html_idempotency_errors(_cash_out_error_page)
@idempotent
def cash_out_submit(request):
    """Cash out. Idempotent by the form's key: a double submit cashes out once."""
    form = CashOutForm(request.POST, user=request.user)
    if not form.is_valid():
        return _cash_out_page(request, form, status=400)
    data = form.cleaned_data
    try:
        cashout = cashout_create(
            request.user,
            card=data["card"],
            amount=data["money"],
            speed=data["speed"],
            idempotency_key=_key_from(request),
        )
    except DomainError as error:
        fresh = _refilled(request, CashOutForm, CASH_OUT_FIELDS)
        return _cash_out_page(request, fresh, status=error.status, page_error=error.message)
    return redirect("payments:cash_out_detail", pk=cashout.pk)


@login_required
@require_GET
def cash_out_detail(request, pk: int):
    try:
        cashout = cash_out_for_user(request.user, pk)
    except NotFound:
        raise Http404("That cash-out does not exist.") from None
    return render(
        request,
        "payments/funding/cash_out_detail.html",
        {
            "cashout": cashout,
            "label": card_label(cashout.card),
            "total": cashout.amount + cashout.fee,
            "account": wallet_account(request.user, cashout.currency),
            "pending": cashout.status == MovementStatus.PENDING,
        },
    )


urlpatterns = [
    path("cards/", cards, name="cards"),
    path("cards/<int:pk>/remove/", card_remove_view, name="card_remove"),
    path("add/", add_money, name="add_money"),
    path("add/confirm/", add_money_confirm, name="add_money_confirm"),
    path("add/submit/", add_money_submit, name="add_money_submit"),
    path("add/<int:pk>/", top_up_detail, name="top_up"),
    path("cash-out/", cash_out, name="cash_out"),
    path("cash-out/confirm/", cash_out_confirm, name="cash_out_confirm"),
    path("cash-out/submit/", cash_out_submit, name="cash_out_submit"),
    path("cash-out/<int:pk>/", cash_out_detail, name="cash_out_detail"),
]

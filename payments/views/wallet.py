"""HTML views of the wallet: the wallet page, a payment's detail, send (form → confirm → submit),
return, cancel, the wallet settings and the people autocomplete.

Thin: parse, call ``payments.services``/``payments.selectors``, render. A domain
error is shown on the page it came from with its HTTP status (4xx), which also
releases the form's idempotency key (core.idempotency keeps successes only),
so the person can correct the form and send it again.
"""

from __future__ import annotations

import functools
import json
from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from compliance import services as compliance
from compliance.errors import LimitExceeded
from compliance.models import ReviewReason, Tier
from compliance.selectors import TIER_WEEKLY_LIMITS, account_status, usd
from core.errors import DomainError, NotFound
from core.idempotency import idempotent, new_key
from core.money import format_money
from ledger.services import InsufficientFunds

from ..forms import SendForm, WalletSettingsForm
from ..models import PaymentStatus, SafetyDelay
from ..selectors import (
    Filter,
    activity_feed,
    feed_filters,
    payment_visible_to,
    people_search,
    wallet_available,
    wallet_balances,
)
from ..services.fx import usd_equivalent
from ..services.send import (
    payment_cancel,
    payment_for_user,
    payment_quote,
    payment_return,
    payment_send,
    safety_delay_for,
    wallet_settings_update,
)

NEW_ACCOUNT_AGE = timedelta(days=30)
PREFILL_MAX = {"to": 64, "amount": 32, "note": 280, "currency": 3}


def rate_text(rate: Decimal | None) -> str:
    """An exchange rate for people: at most 6 decimal places, no trailing zeros, never an exponent."""
    if rate is None:
        return ""
    return f"{rate.quantize(Decimal('0.000001')).normalize():f}"


# --- Wallet page ----------------------------------------------------------------------


def _search_text(request) -> str:
    """``?q=`` without NUL characters (PostgreSQL refuses them in a query: a 500, not "no results")."""
    return (request.GET.get("q") or "").replace("\x00", "")


def _wallet_context(request) -> dict:
    page = activity_feed(
        request.user,
        feed_filter=request.GET.get("filter", Filter.ALL),
        query=_search_text(request),
        cursor=request.GET.get("cursor"),
    )
    return {
        "balances": wallet_balances(request.user),
        "activity": page,
        "filters": feed_filters(),
        "paged": bool(request.GET.get("cursor")),
    }


@login_required
@require_GET
def wallet(request):
    """Balances and the activity feed; ``?partial=1`` answers only the live fragment (for wallet.js)."""
    context = _wallet_context(request)
    if request.GET.get("partial"):
        return render(request, "payments/wallet/_live.html", context)
    context["status"] = account_status(request.user)
    return render(request, "payments/wallet/wallet.html", context)


# --- A payment's detail ------------------------------------------------------------------


def _payment_or_404(user, pk):
    try:
        payment = payment_for_user(user, pk)
    except NotFound:
        raise Http404("That payment does not exist.") from None
    if not payment_visible_to(user, payment):
        raise Http404("That payment does not exist.")
    return payment


def _detail_context(request, payment) -> dict:
    user = request.user
    is_sender = payment.sender_id == user.pk
    is_recipient = payment.recipient_id == user.pk
    return {
        "payment": payment,
        "events": list(payment.events.select_related("actor").order_by("id")),
        "is_sender": is_sender,
        "is_recipient": is_recipient,
        "fx_rate": rate_text(payment.fx_rate),
        "review_reason": dict(ReviewReason.choices).get(payment.review_reason, "a routine check"),
        "can_return": is_recipient and payment.status == PaymentStatus.COMPLETED,
        "can_cancel": is_sender and payment.status == PaymentStatus.ARRIVING,
        "return_prompt": (
            f"Send {format_money(payment.received_amount, payment.received_currency)} back to @{payment.sender.handle}?"
        ),
        "cancel_prompt": f"Cancel this payment to @{payment.recipient.handle}? The money stays in your wallet.",
    }


def _detail_response(request, payment, *, error: str = "", status: int = 200):
    context = _detail_context(request, payment)
    context["error"] = error
    template = "payments/wallet/_detail.html" if request.GET.get("partial") else "payments/wallet/detail.html"
    return render(request, template, context, status=status)


@login_required
@require_GET
def payment_detail(request, pk: int):
    """Both parties, amounts, FX, note, status and the whole history; 404 for anyone else."""
    return _detail_response(request, _payment_or_404(request.user, pk))


def html_idempotency_errors(on_error):
    """Turn the JSON refusals of the idempotency layer (key reused, still in progress) into a page.

    ``on_error(request, code, message, status, *view_args, **view_kwargs)`` renders or redirects.
    """

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            if isinstance(response, JsonResponse) and response.status_code >= 400:
                try:
                    error = json.loads(response.content)["error"]
                except (ValueError, KeyError, TypeError):
                    return response
                return on_error(
                    request, error.get("code", ""), error.get("message", ""), response.status_code, *args, **kwargs
                )
            return response

        return wrapper

    return decorate


def _back_to_detail(request, code, message, status, pk):
    if code == "request_in_progress":
        messages.info(request, "That is still being processed; check again in a moment.")
    else:
        messages.error(request, message)
    return redirect("payments:detail", pk=pk)


def _action_error(error: DomainError, *, action: str) -> tuple[str, int]:
    """The message and status to show when return/cancel is refused."""
    if isinstance(error, NotFound):  # a party, but not the one who may do this
        if action == "return":
            return "Only the person who received this payment can return it.", 403
        return "Only the person who sent this payment can cancel it.", 403
    return error.message, error.status


@login_required
@require_POST
@html_idempotency_errors(_back_to_detail)
@idempotent
def payment_return_view(request, pk: int):
    """The recipient gives a completed payment back (a ledger reversal). Once only."""
    payment = _payment_or_404(request.user, pk)
    try:
        payment = payment_return(request.user, payment=payment)
    except DomainError as error:
        message, status = _action_error(error, action="return")
        return _detail_response(request, _payment_or_404(request.user, pk), error=message, status=status)
    amount = format_money(payment.received_amount, payment.received_currency)
    messages.success(request, f"You sent {amount} back to @{payment.sender.handle}.")
    return redirect("payments:detail", pk=payment.pk)


@login_required
@require_POST
@html_idempotency_errors(_back_to_detail)
@idempotent
def payment_cancel_view(request, pk: int):
    """The sender cancels a payment still in its safety delay; the money stays with them."""
    payment = _payment_or_404(request.user, pk)
    try:
        payment = payment_cancel(request.user, payment=payment)
    except DomainError as error:
        message, status = _action_error(error, action="cancel")
        return _detail_response(request, _payment_or_404(request.user, pk), error=message, status=status)
    messages.success(request, f"Cancelled: {format_money(payment.amount, payment.currency)} stays in your wallet.")
    return redirect("payments:detail", pk=payment.pk)


# --- Send -----------------------------------------------------------------------------------


def _send_form_response(request, form, *, status: int = 200, error: DomainError | None = None):
    context = {
        "form": form,
        "status": account_status(request.user),
        # "Add money first" comes with the way to do it.
        "suggest_add_money": error is not None and error.code == "insufficient_funds",
    }
    return render(request, "payments/wallet/send.html", context, status=status)


def _prefill(request) -> dict:
    initial = {"currency": request.user.home_currency, "idempotency_key": new_key()}
    for name, limit in PREFILL_MAX.items():
        value = request.GET.get(name)
        if value:
            initial[name] = value.strip()[:limit]
    if "to" in initial and not initial["to"].startswith("@"):
        initial["to"] = f"@{initial['to']}"
    if initial["currency"] not in dict(SendForm.base_fields["currency"].choices):
        initial["currency"] = request.user.home_currency
    return initial


def _insufficient(user, money) -> DomainError | None:
    """Refuse early, on the first form, an amount above what is available (the service checks again)."""
    available = wallet_available(user, money.currency)
    if money.amount <= available:
        return None
    return InsufficientFunds(
        f"You have {format_money(available, money.currency)} available in {money.currency}; "
        f"{money} is more than that. Add money first.",
        fields={"amount": ["Not enough money."]},
    )


def _over_limit(user, money) -> DomainError | None:
    """Refuse early, on the first form, a payment over the 7-day limit (``limit_reserve`` checks again).

    Without this the person only learns it after pressing "Send" on the confirm step.
    """
    status = compliance.limit_status(user)
    if status.tier < Tier.DETAILS:
        return None  # sending_allowed_check already says what to do
    try:
        needed = usd_equivalent(money.amount, money.currency)
    except DomainError:
        return None  # no rate: the quote says so
    if needed <= status.remaining:
        return None
    message = (
        f"This payment counts as {usd(needed)} against your 7-day sending limit of {status.limit_display}, "
        f"and you have {status.remaining_display} left."
    )
    next_limit = TIER_WEEKLY_LIMITS[Tier.DOCUMENT]
    if status.tier == Tier.DETAILS and not status.overridden and status.limit < next_limit:
        message += f" Verify your identity with a document to raise your limit to {usd(next_limit)}."
    else:
        message += " Send a smaller amount, or wait until earlier payments leave the 7-day window."
    return LimitExceeded(message, fields={"amount": [f"{status.remaining_display} left of your 7-day limit."]})


def send_precheck(user, money) -> None:
    """Raise what sending ``money`` would surely be refused for (funds, 7-day limit), before the confirm step."""
    problem = _insufficient(user, money) or _over_limit(user, money)
    if problem:
        raise problem


@login_required
@require_http_methods(["GET", "POST"])
def send(request):
    """The send form, prefilled from ``?to=@handle&amount=&note=&currency=``.

    A POST is "Back" from the confirm step: the same values and the same key again.
    """
    if request.method == "GET":
        return _send_form_response(request, SendForm(initial=_prefill(request)))
    values = {name: request.POST.get(name, "")[:limit] for name, limit in PREFILL_MAX.items()}
    initial = {**_prefill(request), **{name: value for name, value in values.items() if value}}
    initial["idempotency_key"] = request.POST.get("idempotency_key", "")[:200] or new_key()
    return _send_form_response(request, SendForm(initial=initial))


@login_required
@require_http_methods(["GET", "POST"])
def send_confirm(request):
    """Check the send form and show the confirm step; nothing moves until it is submitted."""
    if request.method == "GET":
        return redirect("payments:send")
    form = SendForm(request.POST)
    if not form.is_valid():
        return _send_form_response(request, form, status=400)
    data = form.cleaned_data
    if not data.get("idempotency_key"):
        data["idempotency_key"] = new_key()
    try:
        compliance.sending_allowed_check(request.user)
        quote = payment_quote(request.user, to=data["to"], amount=data["money"])
        send_precheck(request.user, data["money"])
    except DomainError as error:
        form.add_domain_error(error)
        return _send_form_response(request, form, status=error.status, error=error)
    recipient = quote.recipient
    delay = quote.arrives_after
    return render(
        request,
        "payments/wallet/confirm.html",
        {
            "quote": quote,
            "recipient": recipient,
            "new_account": timezone.now() - recipient.date_joined < NEW_ACCOUNT_AGE,
            "delay_label": SafetyDelay(int(delay.total_seconds())).label.lower() if delay else "",
            "hidden": form.hidden_values,
            "note": data["note"],
            "rate": rate_text(quote.fx.rate),
            "mid_rate": rate_text(quote.fx.mid_rate),
            "spread_percent": f"{(quote.fx.spread * 100).normalize():f}",
        },
    )


def _send_error_page(request, code, message, status):
    form = SendForm(request.POST)
    form.is_valid()
    if code == "request_in_progress":
        messages.info(request, "Your payment is still being sent: check your activity in a moment.")
        return redirect("payments:wallet")
    if code == "idempotency_key_reused":
        message = (
            "This form was already used to send a different payment, so nothing was sent. "
            "Check the details and send again."
        )
    values = {**form.hidden_values, **{k: v for k, v in form.cleaned_data.items() if k != "money"}}
    values["idempotency_key"] = new_key()
    fresh = SendForm(initial=values)
    return render(
        request,
        "payments/wallet/send.html",
        {"form": fresh, "status": account_status(request.user), "page_error": message},
        status=status,
    )


@login_required
@require_POST
@html_idempotency_errors(_send_error_page)
@idempotent
def send_submit(request):
    """Send the confirmed payment. Idempotent by the form's key: a double submit sends once."""
    form = SendForm(request.POST)
    if not form.is_valid():
        return _send_form_response(request, form, status=400)
    data = form.cleaned_data
    try:
        payment = payment_send(
            request.user,
            to=data["to"],
            amount=data["money"],
            note=data["note"],
            idempotency_key=data["idempotency_key"] or None,
        )
    except DomainError as error:
        form.add_domain_error(error)
        return _send_form_response(request, form, status=error.status, error=error)
    amount = format_money(payment.amount, payment.currency)
    if payment.status == PaymentStatus.ARRIVING:
        messages.success(
            request, f"{amount} to @{payment.recipient.handle} is on its way; you can cancel it until it arrives."
        )
    elif payment.status == PaymentStatus.IN_REVIEW:
        messages.info(request, f"{amount} to @{payment.recipient.handle} is held for a quick review before it is sent.")
    else:
        messages.success(request, f"You sent {amount} to @{payment.recipient.handle}.")
    return redirect("payments:detail", pk=payment.pk)


# --- Settings and people --------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def wallet_settings(request):
    """The safety delay for payments to people the user has never paid."""
    if request.method == "POST":
        form = WalletSettingsForm(request.POST)
        if form.is_valid():
            try:
                wallet_settings_update(request.user, safety_delay_seconds=form.cleaned_data["safety_delay_seconds"])
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                choice = SafetyDelay(form.cleaned_data["safety_delay_seconds"])
                if choice == SafetyDelay.OFF:
                    messages.success(request, "Safety delay turned off: payments to new people arrive at once.")
                else:
                    messages.success(
                        request, f"Saved: your first payment to someone new arrives after {choice.label.lower()}."
                    )
                return redirect("payments:settings")
        status = 400
    else:
        form = WalletSettingsForm(initial={"safety_delay_seconds": safety_delay_for(request.user)})
        status = 200
    return render(request, "payments/wallet/settings.html", {"form": form}, status=status)


@login_required
@require_GET
def people(request):
    """Autocomplete for the "To" field: an HTML fragment of at most 8 people (escaped by the template)."""
    query = _search_text(request)
    found = people_search(request.user, query)
    return render(request, "payments/wallet/_people.html", {"people": found, "query": query})


urlpatterns = [
    path("", wallet, name="wallet"),
    path("payments/<int:pk>/", payment_detail, name="detail"),
    path("payments/<int:pk>/return/", payment_return_view, name="return"),
    path("payments/<int:pk>/cancel/", payment_cancel_view, name="cancel"),
    path("send/", send, name="send"),
    path("send/confirm/", send_confirm, name="send_confirm"),
    path("send/submit/", send_submit, name="send_submit"),
    path("settings/", wallet_settings, name="settings"),
    path("people/", people, name="people"),
]

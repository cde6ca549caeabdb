"""HTML pages of savings: the savings page, move money in/out (form → confirm → submit), round-ups,
goals, the projection calculator and the annual interest summary.

Thin: parse, call ``savings.services`` / ``savings.selectors``, render. A domain error is shown on
the page with its 4xx status (which also releases the form's idempotency key).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from core.idempotency import idempotent, new_key
from core.money import CURRENCIES, Money, format_money
from payments.services.wallet import wallet_account
from payments.views.wallet import html_idempotency_errors

from . import selectors, services
from .services import MOVE_IN, MOVE_OUT

# --- Forms -------------------------------------------------------------------------------------


class MoveForm(forms.Form):
    direction = forms.ChoiceField(
        choices=[(MOVE_IN, "Wallet → Savings"), (MOVE_OUT, "Savings → Wallet")], widget=forms.RadioSelect
    )
    amount = forms.CharField(max_length=32)
    currency = forms.ChoiceField(choices=[(c, c) for c in CURRENCIES])
    idempotency_key = forms.CharField(max_length=200, required=False, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if "amount" in data and "currency" in data:
            try:
                data["money"] = Money.parse(data["amount"], data["currency"])
            except DomainError as exc:
                self.add_error("amount", exc.message)
        return data


class GoalForm(forms.Form):
    name = forms.CharField(max_length=60)
    target = forms.CharField(max_length=32, label="Target amount")
    target_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


class ProjectionForm(forms.Form):
    amount = forms.CharField(max_length=32, required=False, label="Starting amount")
    monthly = forms.CharField(max_length=32, required=False, label="Monthly deposit")
    months = forms.IntegerField(min_value=1, max_value=services.MAX_PROJECTION_MONTHS, initial=12)


def _minor(text: str, currency: str) -> int:
    text = (text or "").strip()
    if not text or text in {"0", "0.0", "0.00"}:
        return 0
    return Money.parse(text, currency).amount


# --- The savings page ---------------------------------------------------------------------------


def _currency_for(request, accounts) -> str:
    raw = (request.GET.get("currency") or request.POST.get("currency") or "").strip().upper()[:3]
    if raw in CURRENCIES:
        return raw
    if accounts:
        home = request.user.home_currency
        return home if any(a.currency == home for a in accounts) else accounts[0].currency
    return request.user.home_currency if request.user.home_currency in CURRENCIES else "USD"


def _projection(request, currency: str, apy):
    """The calculator's result when its form was submitted (``?months=``), else None."""
    if "months" not in request.GET:
        return ProjectionForm(initial={"months": 12}), None, ""
    form = ProjectionForm(request.GET)
    if not form.is_valid() or apy is None:
        return form, None, ""
    try:
        result = services.projection_compute(
            amount=_minor(form.cleaned_data["amount"], currency),
            monthly_deposit=_minor(form.cleaned_data["monthly"], currency),
            months=form.cleaned_data["months"],
            apy=apy,
            currency=currency,
        )
    except DomainError as exc:
        return form, None, exc.message
    return form, result, ""


def _index_context(request, *, goal_form=None, error: str = "") -> dict:
    accounts = selectors.savings_accounts_for(request.user)
    currency = _currency_for(request, accounts)
    account = next((a for a in accounts if a.currency == currency), None)
    product = services.product_get(currency)
    apy = selectors.current_apy(currency) if product else None
    upcoming = selectors.upcoming_rate(currency) if product else None
    projection_form, projection, projection_error = _projection(request, currency, apy)
    context = {
        "accounts": accounts,
        "currency": currency,
        "account": account,
        "product": product,
        "apy": apy,
        "apy_percent": selectors.apy_percent(apy),
        "upcoming": upcoming,
        "upcoming_percent": selectors.apy_percent(upcoming.apy) if upcoming else "",
        "projection_form": projection_form,
        "projection": projection,
        "projection_error": projection_error,
        "goal_form": goal_form or GoalForm(),
        "error": error,
        "minor_units": CURRENCIES[currency][0],
        "currency_symbol": CURRENCIES[currency][1],
    }
    if account is not None:
        summary = selectors.savings_summary(account)
        context.update(
            summary=summary,
            goals=selectors.goals_with_progress(account),
            year=services.today_utc().year,
            chart_height=selectors.CHART_HEIGHT,
            chart_width=selectors.CHART_WIDTH,
        )
    return context


@login_required
@require_GET
def savings_index(request):
    """Balance, APY, interest this month and this year, the chart, moves, goals, round-ups, projection."""
    return render(request, "savings/index.html", _index_context(request))


@login_required
@require_POST
def savings_open(request):
    currency = _currency_for(request, [])
    try:
        account, created = services.savings_account_open(request.user, currency=currency)
    except DomainError as exc:
        return render(request, "savings/index.html", _index_context(request, error=exc.message), status=exc.status)
    if created:
        messages.success(request, f"Your {account.currency} savings account is open.")
    return redirect(f"{reverse('savings:index')}?currency={account.currency}")


# --- Move money: form → confirm → submit ---------------------------------------------------------


def _move_form_page(request, form, *, status: int = 200, error: str = ""):
    currency = form.data.get("currency") or form.initial.get("currency") or "USD"
    account = selectors.savings_account_for(request.user, currency) if currency in CURRENCIES else None
    if account is None:
        messages.info(request, "Open a savings account first.")
        return redirect("savings:index")
    wallet = wallet_account(request.user, account.currency)
    return render(
        request,
        "savings/move.html",
        {
            "form": form,
            "account": account,
            "balance": selectors.account_balance(account),
            "wallet_available": wallet.available,
            "error": error,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def savings_move(request):
    """The move form (``?direction=in|out&currency=``); a POST is "Back" from the confirm step."""
    source = request.POST if request.method == "POST" else request.GET
    direction = source.get("direction") if source.get("direction") in services.DIRECTIONS else MOVE_IN
    initial = {
        "direction": direction,
        "currency": _currency_for(request, selectors.savings_accounts_for(request.user)),
        "amount": (source.get("amount") or "")[:32],
        "idempotency_key": (request.POST.get("idempotency_key") or "")[:200] or new_key(),
    }
    return _move_form_page(request, MoveForm(initial=initial))


@login_required
@require_http_methods(["GET", "POST"])
def savings_move_confirm(request):
    """Check the move and show what will happen; nothing moves until it is confirmed."""
    if request.method == "GET":
        return redirect("savings:move")
    form = MoveForm(request.POST)
    if not form.is_valid():
        return _move_form_page(request, form, status=400)
    data = form.cleaned_data
    account = selectors.savings_account_for(request.user, data["currency"])
    if account is None:
        return _move_form_page(request, form, status=404, error="Open a savings account first.")
    money = data["money"]
    source_available = (
        wallet_account(request.user, money.currency).available
        if data["direction"] == MOVE_IN
        else account.ledger_account.available
    )
    if money.amount > source_available:
        where = "wallet" if data["direction"] == MOVE_IN else "savings"
        error = f"You have {format_money(max(source_available, 0), money.currency)} in your {where}; {money} is more."
        return _move_form_page(request, form, status=422, error=error)
    return render(
        request,
        "savings/move_confirm.html",
        {
            "money": money,
            "direction": data["direction"],
            "account": account,
            "hidden": {
                "direction": data["direction"],
                "amount": data["amount"],
                "currency": money.currency,
                "idempotency_key": data["idempotency_key"] or new_key(),
            },
        },
    )


def _move_error_page(request, code, message, status):
    if code == "request_in_progress":
        messages.info(request, "Your move is still being processed: check your savings in a moment.")
    elif code == "idempotency_key_reused":
        messages.error(request, "This form was already used for a different move, so nothing moved. Try again.")
    else:
        messages.error(request, message)
    return redirect("savings:index")


@login_required
@require_POST
@html_idempotency_errors(_move_error_page)
@idempotent
def savings_move_submit(request):
    """Move the confirmed amount. Idempotent by the form's key: a double submit moves once."""
    form = MoveForm(request.POST)
    if not form.is_valid():
        return _move_form_page(request, form, status=400)
    data = form.cleaned_data
    try:
        services.savings_move(
            request.user,
            currency=data["currency"],
            amount=data["money"].amount,
            direction=data["direction"],
            idempotency_key=data["idempotency_key"] or None,
        )
    except DomainError as exc:
        return _move_form_page(request, form, status=exc.status, error=exc.message)
    if data["direction"] == MOVE_IN:
        messages.success(request, f"Moved {data['money']} from your wallet to savings.")
    else:
        messages.success(request, f"Moved {data['money']} from savings to your wallet.")
    return redirect(f"{reverse('savings:index')}?currency={data['money'].currency}")


# --- Round-ups and goals ------------------------------------------------------------------------


@login_required
@require_POST
def savings_roundups(request):
    currency = _currency_for(request, [])
    enabled = request.POST.get("enabled") == "1"
    try:
        services.savings_roundups_set(request.user, currency=currency, enabled=enabled)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("savings:index")
    messages.success(request, "Round-ups are on." if enabled else "Round-ups are off.")
    return redirect(f"{reverse('savings:index')}?currency={currency}")


@login_required
@require_POST
def savings_goal_add(request):
    currency = _currency_for(request, [])
    form = GoalForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            services.savings_goal_create(
                request.user,
                currency=currency,
                name=form.cleaned_data["name"],
                target=Money.parse(form.cleaned_data["target"], currency).amount,
                target_date=form.cleaned_data["target_date"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = exc.status
        else:
            messages.success(request, f"Goal “{form.cleaned_data['name']}” added.")
            return redirect(f"{reverse('savings:index')}?currency={currency}")
    return render(request, "savings/index.html", _index_context(request, goal_form=form), status=status)


@login_required
@require_POST
def savings_goal_remove(request, pk: int):
    try:
        goal = services.savings_goal_get(request.user, pk)
        currency = goal.account.currency
        services.savings_goal_delete(request.user, pk)
    except DomainError:
        raise Http404("That goal does not exist.") from None
    messages.success(request, "Goal removed.")
    return redirect(f"{reverse('savings:index')}?currency={currency}")


# --- Annual summary -----------------------------------------------------------------------------


@login_required
@require_GET
def savings_interest_year(request, year: int):
    """Per month of ``year``: interest paid and average balance; the year's total."""
    if not 2000 <= year <= 9998:
        raise Http404("No such year.")
    accounts = selectors.savings_accounts_for(request.user)
    currency = _currency_for(request, accounts)
    account = next((a for a in accounts if a.currency == currency), None)
    if account is None:
        return render(request, "savings/interest_year.html", {"year": year, "account": None, "accounts": accounts})
    summary = selectors.annual_summary(account, year)
    return render(
        request,
        "savings/interest_year.html",
        {
            "year": year,
            "account": account,
            "accounts": accounts,
            "summary": summary,
            "years": selectors.interest_years(account),
        },
    )

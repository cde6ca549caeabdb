"""Loan pages: the offer and apply form, the disclosure (confirm step), a loan's schedule, pay early / pay off.

Thin: parse, call lending.services / lending.selectors, render. Every money action has a confirm
step and carries the form's idempotency key to the service (and so to the ledger).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from core.idempotency import idempotent, new_key
from core.money import Money, format_money, to_decimal

from .selectors import eligibility, loan_for_user, loans_of, next_instalment, product_for
from .services import loan_accept, loan_quote, loan_repay, payoff_quote


def _currency(request) -> str:
    """The person's home currency when loans are offered in it, else USD."""
    home_currency = request.user.home_currency
    return home_currency if product_for(home_currency) else "USD"


def _parse(request) -> tuple[Money, int]:
    currency = _currency(request)
    amount = Money.parse((request.POST.get("amount") or "")[:32], currency)
    try:
        term = int(request.POST.get("term_months") or "")
    except ValueError:
        from .services import InvalidLoanRequest

        raise InvalidLoanRequest("Choose a term.", fields={"term_months": ["Choose a term."]}) from None
    return amount, term


def _home(request, *, error: str = "", status: int = 200, values: dict | None = None):
    currency = _currency(request)
    offer = eligibility(request.user, currency=currency)
    context = {
        "offer": offer,
        "currency": currency,
        "loans": list(loans_of(request.user)),
        "error": error,
        "values": values or {"amount": "", "term_months": ""},
        "limit_text": to_decimal(offer.limit, currency) if offer.limit else "",
    }
    return render(request, "lending/home.html", context, status=status)


@login_required
@require_GET
def home(request):
    """The offer (with its score, line by line), the apply form and the person's loans."""
    return _home(request)


@login_required
@require_http_methods(["GET", "POST"])
def disclosure(request):
    """The disclosure: APR, monthly payment, finance charge, total of payments, the full schedule."""
    if request.method == "GET":
        return redirect("lending:home")
    values = {"amount": request.POST.get("amount", "")[:32], "term_months": request.POST.get("term_months", "")[:4]}
    try:
        amount, term = _parse(request)
        quote = loan_quote(request.user, amount=amount, term_months=term)
    except DomainError as error:
        return _home(request, error=error.message, status=error.status, values=values)
    return render(
        request,
        "lending/disclosure.html",
        {"d": quote, "values": values, "idempotency_key": request.POST.get("idempotency_key", "")[:200] or new_key()},
    )


@login_required
@require_POST
@idempotent
def accept(request):
    """Accept the disclosed loan: the money goes into the wallet now."""
    values = {"amount": request.POST.get("amount", "")[:32], "term_months": request.POST.get("term_months", "")[:4]}
    try:
        amount, term = _parse(request)
        loan = loan_accept(
            request.user, amount=amount, term_months=term, idempotency_key=request.POST.get("idempotency_key", "")
        )
    except DomainError as error:
        return _home(request, error=error.message, status=error.status, values=values)
    messages.success(request, f"{format_money(loan.principal, loan.currency)} is in your wallet.")
    return redirect("lending:detail", pk=loan.pk)


def _loan_or_404(request, pk):
    loan = loan_for_user(request.user, pk)
    if loan is None:
        raise Http404("That loan does not exist.")
    return loan


def _detail(request, loan, *, error: str = "", status: int = 200):
    loan.ledger_account.refresh_from_db()
    context = {
        "loan": loan,
        "instalments": list(loan.instalments.order_by("number")),
        "payments": list(loan.payments.all()[:50]),
        "next": next_instalment(loan),
        "payoff": payoff_quote(loan) if loan.status == "active" else None,
        "error": error,
        "idempotency_key": new_key(),
    }
    return render(request, "lending/detail.html", context, status=status)


@login_required
@require_GET
def detail(request, pk: int):
    """The schedule, what is owed, and pay early / pay off."""
    return _detail(request, _loan_or_404(request, pk))


@login_required
@require_POST
def repay_confirm(request, pk: int):
    """Check a repayment and show what it pays (fees, interest to today, principal); nothing moves yet."""
    loan = _loan_or_404(request, pk)
    payoff = request.POST.get("payoff") == "1"
    quote = payoff_quote(loan)
    amount = quote.total
    if not payoff:
        try:
            amount = Money.parse((request.POST.get("amount") or "")[:32], loan.currency).amount
        except DomainError as error:
            return _detail(request, loan, error=error.message, status=error.status)
        if amount >= quote.total:
            payoff, amount = amount == quote.total, amount
        if amount > quote.total or amount < quote.minimum_early:
            message = (
                f"Pay from {format_money(quote.minimum_early, loan.currency)} "
                f"to {format_money(quote.total, loan.currency)}."
            )
            return _detail(request, loan, error=message, status=400)
    return render(
        request,
        "lending/repay_confirm.html",
        {
            "loan": loan,
            "quote": quote,
            "payoff": payoff,
            "amount": amount,
            "amount_text": to_decimal(amount, loan.currency),
            "principal": amount - quote.fees - quote.interest,
            "idempotency_key": request.POST.get("idempotency_key", "")[:200] or new_key(),
        },
    )


@login_required
@require_POST
@idempotent
def repay(request, pk: int):
    """Pay early or pay off, from the wallet."""
    loan = _loan_or_404(request, pk)
    try:
        amount = None
        if request.POST.get("payoff") != "1":
            amount = Money.parse((request.POST.get("amount") or "")[:32], loan.currency).amount
        payment = loan_repay(
            request.user, loan_id=loan.pk, amount=amount, idempotency_key=request.POST.get("idempotency_key", "")
        )
    except DomainError as error:
        return _detail(request, loan, error=error.message, status=error.status)
    if payment.kind == "payoff":
        messages.success(request, "Your loan is paid off.")
    else:
        messages.success(request, f"You paid {format_money(payment.amount, loan.currency)} early.")
    return redirect("lending:detail", pk=loan.pk)

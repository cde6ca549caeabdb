"""HTML views of checks: the list, write (form → confirm → write), the printable check and its
PDF, void, and deposit (form, prefilled by the check's QR link → confirm → deposit).

Thin: parse, call ``payments.services.checks``, render. Only a check's writer sees,
prints or voids it (404 for anyone else). A domain error is shown on the form it came
from with its HTTP status, which also releases the form's idempotency key.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from compliance import services as compliance
from compliance.selectors import account_status
from core.errors import DomainError, NotFound
from core.idempotency import FORM_FIELD, idempotent, new_key
from core.money import format_money

from ..checks_print import PrintableCheck, check_pdf, qr_svg
from ..checks_words import amount_in_words
from ..forms import CURRENCY_FIELD_CHOICES, AmountFormMixin
from ..models import CheckStatus
from ..services.checks import (
    MEMO_MAX_LENGTH,
    PAYEE_MAX_LENGTH,
    check_deposit,
    check_deposit_code,
    check_deposit_path,
    check_deposit_preview,
    check_for_writer,
    check_void,
    check_write,
    checks_for_user,
    deposit_attempt_allowed_check,
    deposit_code_display,
    deposit_failure_record,
)
from .wallet import html_idempotency_errors, send_precheck

CHECKS_PAGE_SIZE = 20


class CheckForm(AmountFormMixin, forms.Form):
    """Payee, amount, currency, memo; ``money`` (a Money) is in ``cleaned_data`` once valid."""

    payee = forms.CharField(
        label="Pay to the order of",
        max_length=PAYEE_MAX_LENGTH,
        widget=forms.TextInput(
            attrs={
                "placeholder": "A name, or @handle",
                "autocomplete": "off",
                "spellcheck": "false",
                "role": "combobox",
                "aria-autocomplete": "list",
                "aria-expanded": "false",
                "aria-controls": "people-suggestions",
            }
        ),
        help_text="Write an @handle and only that person can deposit the check.",
        error_messages={"required": "Who is the check for? A name, or an @handle."},
    )
    amount = forms.CharField(
        label="Amount",
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0.00", "autocomplete": "off"}),
        error_messages={"required": "Enter an amount."},
    )
    currency = forms.ChoiceField(label="Currency", choices=CURRENCY_FIELD_CHOICES)
    memo = forms.CharField(
        label="Memo",
        required=False,
        max_length=MEMO_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": "What is it for? (optional)"}),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=200, required=False)

    def clean_payee(self) -> str:
        payee = self.cleaned_data["payee"].replace("\x00", "").strip()
        if payee.startswith("@"):
            handle = payee.removeprefix("@").strip()
            if not handle:
                raise forms.ValidationError("Type the person's @handle, or a name.")
            payee = f"@{handle.lower()}"
        return payee

    def clean_memo(self) -> str:
        return (self.cleaned_data.get("memo") or "").replace("\x00", "").strip()

    @property
    def hidden_values(self) -> dict:
        data = self.cleaned_data
        return {
            "payee": data.get("payee", ""),
            "amount": data.get("amount", ""),
            "currency": data.get("currency", ""),
            "memo": data.get("memo", ""),
            FORM_FIELD: data.get("idempotency_key", ""),
        }


class DepositForm(forms.Form):
    number = forms.CharField(
        label="Check number",
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "placeholder": "10 digits"}),
        error_messages={"required": "Enter the check number."},
    )
    code = forms.CharField(
        label="Deposit code",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}),
        help_text="The 12 characters printed under “Deposit code”.",
        error_messages={"required": "Enter the deposit code."},
    )

    def clean_number(self) -> str:
        return self.cleaned_data["number"].replace("\x00", "").strip()

    def clean_code(self) -> str:
        return self.cleaned_data["code"].replace("\x00", "").strip()


# --- The list ------------------------------------------------------------------------------


@login_required
@require_GET
def checks_list(request):
    """Checks the user wrote or deposited, newest first, 20 a page."""
    paginator = Paginator(checks_for_user(request.user), CHECKS_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "payments/checks/list.html", {"page": page, "checks": list(page.object_list)})


# --- Write -------------------------------------------------------------------------------------


def _form_response(request, form, *, status: int = 200, error: DomainError | None = None, page_error: str = ""):
    context = {
        "form": form,
        "status": account_status(request.user),
        "suggest_add_money": error is not None and error.code == "insufficient_funds",
        "page_error": page_error,
    }
    return render(request, "payments/checks/new.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def check_new(request):
    """The form to write a check. A POST is "Back" from the confirm step (same values, same key)."""
    initial = {"currency": request.user.home_currency, "idempotency_key": new_key()}
    if request.method == "POST":
        for name in ("payee", "amount", "currency", "memo"):
            value = request.POST.get(name, "")[:PAYEE_MAX_LENGTH]
            if value:
                initial[name] = value
        initial["idempotency_key"] = request.POST.get(FORM_FIELD, "")[:200] or new_key()
    elif request.GET.get("payee"):
        initial["payee"] = request.GET["payee"].strip()[:PAYEE_MAX_LENGTH]
    return _form_response(request, CheckForm(initial=initial))


def _payee_user(payee: str, user):
    """The person an "@handle" payee names (for the confirm step's avatar), or None."""
    if not payee.startswith("@"):
        return None
    return get_user_model().objects.filter(handle=payee[1:], is_active=True).exclude(pk=user.pk).first()


@login_required
@require_http_methods(["GET", "POST"])
def check_confirm(request):
    """Check the form and show what will be written; nothing moves until it is submitted."""
    if request.method == "GET":
        return redirect("payments:check_new")
    form = CheckForm(request.POST)
    if not form.is_valid():
        return _form_response(request, form, status=400)
    data = form.cleaned_data
    if not data.get("idempotency_key"):
        data["idempotency_key"] = new_key()
    payee_user = _payee_user(data["payee"], request.user)
    try:
        compliance.sending_allowed_check(request.user)
        if data["payee"].startswith("@") and payee_user is None:
            raise NotFound(f"There is no one called {data['payee'][:31]}.", fields={"payee": ["Unknown person."]})
        send_precheck(request.user, data["money"])
    except DomainError as error:
        form.add_domain_error(error)
        return _form_response(request, form, status=error.status, error=error)
    money = data["money"]
    return render(
        request,
        "payments/checks/confirm.html",
        {
            "payee": data["payee"],
            "payee_user": payee_user,
            "money": money,
            "words": amount_in_words(money.amount, money.currency),
            "memo": data["memo"],
            "hidden": form.hidden_values,
        },
    )


def _write_error_page(request, code, message, status):
    if code == "request_in_progress":
        messages.info(request, "Your check is still being written: look at your checks in a moment.")
        return redirect("payments:checks")
    if code == "idempotency_key_reused":
        message = (
            "This form was already used to write a different check, so nothing was written. Check and write again."
        )
    form = CheckForm(request.POST)
    form.is_valid()
    values = {k: v for k, v in form.hidden_values.items() if k != FORM_FIELD}
    values["idempotency_key"] = new_key()
    return _form_response(request, CheckForm(initial=values), status=status, page_error=message)


@login_required
@require_POST
@html_idempotency_errors(_write_error_page)
@idempotent
def check_submit(request):
    """Write the confirmed check. Idempotent by the form's key: a double submit writes once."""
    form = CheckForm(request.POST)
    if not form.is_valid():
        return _form_response(request, form, status=400)
    data = form.cleaned_data
    try:
        check = check_write(
            request.user,
            payee=data["payee"],
            amount=data["money"],
            memo=data["memo"],
            idempotency_key=data["idempotency_key"] or None,
        )
    except DomainError as error:
        form.add_domain_error(error)
        return _form_response(request, form, status=error.status, error=error)
    messages.success(
        request, f"Check {check.number} for {format_money(check.amount, check.currency)} written: print it or share it."
    )
    return redirect("payments:check_detail", pk=check.pk)


# --- The printable check, its PDF, void ------------------------------------------------------


def _own_check(request, pk):
    try:
        return check_for_writer(request.user, pk)
    except NotFound:
        raise Http404("That check does not exist.") from None


@sensitive_variables("code")
def _printable(request, check) -> PrintableCheck:
    code = check_deposit_code(check)
    return PrintableCheck(
        number=check.number,
        date=check.created_at,
        payee=check.payee_name,
        amount=check.amount,
        currency=check.currency,
        memo=check.memo,
        writer_name=check.writer.name or f"@{check.writer.handle}",
        deposit_code=deposit_code_display(code),
        deposit_url=request.build_absolute_uri(check_deposit_path(check, code)),
        status_label="" if check.status == CheckStatus.OUTSTANDING else check.get_status_display(),
    )


def _private(response):
    """The deposit code is on it: never cached. (The site-wide Referrer-Policy is same-origin, so the
    code never reaches another site; "no-referrer" would make browsers send `Origin: null` on the
    page's own forms, which the CSRF check rightly refuses.)"""
    response["Cache-Control"] = "no-store, private"
    return response


@login_required
@require_GET
@sensitive_variables("printable", "context", "code", "stored")
def check_detail(request, pk: int):
    """The printable check (CSS @media print), its status and, while outstanding, Void."""
    check = _own_check(request, pk)
    printable = _printable(request, check)
    context = {
        "check": check,
        "printable": printable,
        "qr": qr_svg(printable.deposit_url),
        "can_void": check.status == CheckStatus.OUTSTANDING,
    }
    return _private(render(request, "payments/checks/detail.html", context))


@login_required
@require_GET
def check_pdf_view(request, pk: int):
    """The same check as a PDF with its QR code."""
    check = _own_check(request, pk)
    response = HttpResponse(check_pdf(_printable(request, check)), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="check-{check.number}.pdf"'
    return _private(response)


def _back_to_check(request, code, message, status, pk):
    if code == "request_in_progress":
        messages.info(request, "That is still being processed; check again in a moment.")
    else:
        messages.error(request, message)
    return redirect("payments:check_detail", pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def check_void_view(request, pk: int):
    """The writer voids an outstanding check (GET: the confirm step), and the money comes back."""
    if request.method == "GET":
        check = _own_check(request, pk)
        if check.status != CheckStatus.OUTSTANDING:
            messages.info(request, "Only an outstanding check can be voided.")
            return redirect("payments:check_detail", pk=check.pk)
        return _private(render(request, "payments/checks/void_confirm.html", {"check": check}))
    return _check_void_submit(request, pk)


@html_idempotency_errors(_back_to_check)
@idempotent
def _check_void_submit(request, pk: int):
    check = _own_check(request, pk)
    try:
        check = check_void(request.user, check=check)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("payments:check_detail", pk=pk)
    messages.success(
        request, f"Check {check.number} voided: {format_money(check.amount, check.currency)} is back in your wallet."
    )
    return redirect("payments:check_detail", pk=check.pk)


# --- Deposit ---------------------------------------------------------------------------------


def _deposit_form_response(request, form, *, status: int = 200):
    return _private(render(request, "payments/checks/deposit.html", {"form": form}, status=status))


@login_required
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("code")
@sensitive_variables("form", "context", "initial", "code", "stored")  # also in the services below
def check_deposit_view(request):
    """GET: the form (``?number=&code=`` from the QR link prefills it). POST: the confirm step."""
    if request.method == "GET":
        initial = {name: request.GET.get(name, "").strip()[:32] for name in ("number", "code")}
        return _deposit_form_response(request, DepositForm(initial=initial))
    form = DepositForm(request.POST)
    if not form.is_valid():
        return _deposit_form_response(request, form, status=400)
    try:
        deposit_attempt_allowed_check(request.user)
        check = check_deposit_preview(request.user, number=form.cleaned_data["number"], code=form.cleaned_data["code"])
    except DomainError as error:
        deposit_failure_record(request.user, error)
        form.add_error(None, error.message)
        return _deposit_form_response(request, form, status=error.status)
    context = {
        "check": check,
        "words": amount_in_words(check.amount, check.currency),
        "number": form.cleaned_data["number"],
        "code": form.cleaned_data["code"],
    }
    return _private(render(request, "payments/checks/deposit_confirm.html", context))


def _deposit_error_page(request, code, message, status):
    if code == "request_in_progress":
        messages.info(request, "Your deposit is still being processed: look at your wallet in a moment.")
        return redirect("payments:wallet")
    form = DepositForm(request.POST)
    form.is_valid()
    form.add_error(None, message)
    return _deposit_form_response(request, form, status=status)


@login_required
@require_POST
@sensitive_post_parameters("code")
@html_idempotency_errors(_deposit_error_page)
@idempotent
@sensitive_variables("form", "code", "stored")  # also in the services below
def check_deposit_submit(request):
    """Deposit the confirmed check into the user's wallet. Exactly once, whoever else tries."""
    form = DepositForm(request.POST)
    if not form.is_valid():
        return _deposit_form_response(request, form, status=400)
    try:
        deposit_attempt_allowed_check(request.user)
        check = check_deposit(request.user, number=form.cleaned_data["number"], code=form.cleaned_data["code"])
    except DomainError as error:
        deposit_failure_record(request.user, error)
        form.add_error(None, error.message)
        return _deposit_form_response(request, form, status=error.status)
    messages.success(
        request,
        f"Deposited: {format_money(check.amount, check.currency)} from {check.writer.name or '@' + check.writer.handle} "
        "is in your wallet.",
    )
    return redirect("payments:checks")


urlpatterns = [
    path("checks/", checks_list, name="checks"),
    path("checks/new/", check_new, name="check_new"),
    path("checks/new/confirm/", check_confirm, name="check_confirm"),
    path("checks/new/submit/", check_submit, name="check_submit"),
    path("checks/deposit/", check_deposit_view, name="check_deposit"),
    path("checks/deposit/submit/", check_deposit_submit, name="check_deposit_submit"),
    path("checks/<int:pk>/", check_detail, name="check_detail"),
    path("checks/<int:pk>/check.pdf", check_pdf_view, name="check_pdf"),
    path("checks/<int:pk>/void/", check_void_view, name="check_void"),
]

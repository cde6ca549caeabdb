"""HTML: money requests, bill splits and tips (mounted under /wallet/, namespace ``payments``).

The tip page itself lives at ``/@handle/tip`` (``everything/urls.py``, name ``tip``)
and is ``tip_page`` below. Views only parse, call a service and render; every
POST that moves money or creates requests is idempotent (``@idempotent``, the
form's hidden key is also passed on to the service).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from compliance.services import sending_allowed_check
from core.errors import DomainError, ValidationFailed
from core.http import safe_next
from core.idempotency import idempotent, request_key
from core.money import Money

from ..forms_requests import RequestForm, SplitForm, TipForm, add_domain_error, shares_from_post
from ..models import PaymentKind, PaymentStatus, RequestStatus, SplitMethod
from ..selectors import open_requests_to_pay_count
from ..services.requests import (
    effective_status,
    remind_available_at,
    request_cancel,
    request_create,
    request_decline,
    request_for_user,
    request_pay,
    request_remind,
    requests_for_user,
    split_create,
    split_for_user,
    split_preview,
    split_requests,
    splits_for_user,
)
from ..services.send import payment_for_user, payment_quote
from ..services.tips import tip_send, tip_target_check
from .wallet import send_precheck

PAGE_SIZE = 20
TABS = ("incoming", "outgoing")


def _key(request) -> str | None:
    """The form's idempotency key (already checked by ``@idempotent`` on POSTs)."""
    try:
        return request_key(request)
    except ValidationFailed:
        return None


def _quote_context(quote) -> dict:
    """What the confirm partial needs beside the quote: readable rates and the account's age."""
    if quote is None:
        return {"quote": None}
    fx = quote.fx
    return {
        "quote": quote,
        "rate_display": _plain(fx.rate),
        "mid_rate_display": _plain(fx.mid_rate),
        "spread_percent": _plain(fx.spread * 100),
        "joined_recently": quote.recipient_joined > timezone.now() - timedelta(days=7),
    }


def _plain(value) -> str:
    """A Decimal without exponent or trailing zeros: 0.895500000000 -> "0.8955"."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _decorate(rows, user, now) -> None:
    """Per-row display facts for the list templates (no queries)."""
    for row in rows:
        row.display_status = effective_status(row, now)
        row.incoming = row.payer_id == user.pk
        row.other = row.requester if row.incoming else row.payer
        row.is_open = row.display_status == RequestStatus.OPEN
        again = remind_available_at(row)
        row.remind_after = again if again and again > now else None


# --- Requests ---------------------------------------------------------------------------------


@login_required
@require_GET
def request_list(request):
    tab = request.GET.get("tab")
    if tab not in TABS:
        tab = "incoming"
    now = timezone.now()
    paginator = Paginator(requests_for_user(request.user, role=tab), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    rows = list(page.object_list)
    _decorate(rows, request.user, now)
    # Where the row buttons come back to: this page, never the ?fragment=1 of a live reload.
    here = f"{reverse('payments:requests')}?tab={tab}&page={page.number}"
    context = {"tab": tab, "page": page, "rows": rows, "now": now, "here": here}
    if request.GET.get("fragment"):
        return render(request, "payments/requests/_list.html", context)
    context["open_incoming"] = open_requests_to_pay_count(request.user, now)
    return render(request, "payments/requests/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@idempotent
def request_new(request):
    user = request.user
    if request.method == "POST":
        form = RequestForm(request.POST)
        if form.is_valid():
            try:
                made = request_create(
                    user,
                    payers=form.cleaned_data["payers"],
                    amount=form.cleaned_data["money"],
                    note=form.cleaned_data["note"],
                )
            except DomainError as error:
                add_domain_error(form, error, field_map={"from": "payers"})
            else:
                names = ", ".join(f"@{row.payer.handle}" for row in made)
                messages.success(request, f"You asked {names} for {form.cleaned_data['money']}.")
                return redirect(f"{reverse('payments:requests')}?tab=outgoing")
        return render(request, "payments/requests/new.html", {"form": form}, status=400)
    initial = {"currency": user.home_currency, "payers": request.GET.get("to", "")[:200]}
    return render(request, "payments/requests/new.html", {"form": RequestForm(initial=initial)})


@login_required
@require_GET
def request_detail(request, pk: int):
    try:
        row = request_for_user(request.user, pk)
    except DomainError:
        raise Http404 from None
    _decorate([row], request.user, timezone.now())
    payment = row.payments.select_related("sender", "recipient").first()
    return render(request, "payments/requests/detail.html", {"row": row, "payment": payment})


@login_required
@require_http_methods(["GET", "POST"])
@idempotent
def request_pay_view(request, pk: int):
    """GET: the confirm step (who, how much, fee, FX, what arrives). POST: pay, once per key."""
    user = request.user
    try:
        row = request_for_user(user, pk)
    except DomainError:
        raise Http404 from None
    if row.payer_id != user.pk:
        raise Http404
    _decorate([row], user, timezone.now())
    error = None
    status = 200
    if request.method == "POST":
        try:
            payment = request_pay(user, request=row.pk, idempotency_key=_key(request))
        except DomainError as exc:
            error, status = exc, exc.status
        else:
            later = {
                PaymentStatus.ARRIVING: " Your safety delay is on: it arrives unless you cancel it.",
                PaymentStatus.IN_REVIEW: " It is held for a quick review before it is sent.",
            }
            messages.success(
                request,
                f"You paid @{row.requester.handle} {Money(payment.amount, payment.currency)}."
                + later.get(payment.status, ""),
            )
            return redirect(f"{reverse('payments:requests')}?tab=incoming")
    quote = None
    blocked = False
    if row.is_open:
        try:
            sending_allowed_check(user)  # say so before the confirm step, not after
            quote = payment_quote(user, to=row.requester, amount=Money(row.amount, row.currency))
            send_precheck(user, quote.send)  # not enough money or over the limit: say so before confirming
        except DomainError as exc:
            error = error or exc
            status = status if status != 200 else exc.status
            blocked = True  # the facts stay in view; the Pay button waits until this is fixed
    context = {"row": row, "error": error, "blocked": blocked, **_quote_context(quote)}
    return render(request, "payments/requests/pay_confirm.html", context, status=status)


def _request_action(request, pk: int, action, done: str):
    try:
        row = action(request.user, request=pk)
    except DomainError as error:
        if error.status == 404:
            raise Http404 from None
        messages.error(request, error.message)
    else:
        messages.success(request, done.format(payer=row.payer.handle, requester=row.requester.handle))
    return redirect(safe_next(request, reverse("payments:requests")))


@login_required
@require_POST
def request_decline_view(request, pk: int):
    return _request_action(request, pk, request_decline, "You declined @{requester}'s request.")


@login_required
@require_POST
def request_cancel_view(request, pk: int):
    return _request_action(request, pk, request_cancel, "You cancelled your request to @{payer}.")


@login_required
@require_POST
def request_remind_view(request, pk: int):
    return _request_action(request, pk, request_remind, "We reminded @{payer}.")


# --- Splits ---------------------------------------------------------------------------------------


@login_required
@require_GET
def split_list(request):
    rows = (
        splits_for_user(request.user)
        .annotate(
            n_requests=Count("requests", distinct=True),
            n_paid=Count("requests", filter=Q(requests__status=RequestStatus.PAID), distinct=True),
        )
        .order_by("-id")
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "payments/requests/split_list.html", {"page": page, "splits": page.object_list})


def _split_plan(request, form: SplitForm, *, require_shares: bool):
    """Validate a bound SplitForm and compute its plan; errors land on the form. Returns (plan, shares)."""
    if not form.is_valid():
        return None, {}
    data = form.cleaned_data
    method = data["method"]
    shares = shares_from_post(request.POST, currency=data["currency"]) if method == SplitMethod.CUSTOM else None
    try:
        if method == SplitMethod.CUSTOM and not shares and not require_shares:
            # First preview of custom shares: start from the equal shares, to be edited.
            plan = split_preview(
                request.user,
                title=data["title"],
                total=data["money"],
                participants=form.participant_list(),
                method=SplitMethod.EQUAL,
                include_me=data["include_me"],
            )
            shares = {f"@{line.user.handle}": _decimal(line.amount, plan.total.currency) for line in plan.lines}
            return replace(plan, method=SplitMethod.CUSTOM), shares
        plan = split_preview(
            request.user,
            title=data["title"],
            total=data["money"],
            participants=form.participant_list(),
            method=method,
            shares=shares,
            include_me=data["include_me"],
        )
        return plan, shares or {}
    except DomainError as error:
        add_domain_error(form, error)
        return None, shares or {}


@login_required
@require_http_methods(["GET", "POST"])
def split_new(request):
    """GET: the form. POST: the preview of each share (editable for custom shares) before creating."""
    if request.method == "GET":
        form = SplitForm(
            initial={"currency": request.user.home_currency, "participants": request.GET.get("with", "")[:200]}
        )
        return render(request, "payments/requests/split_new.html", {"form": form})
    form = SplitForm(request.POST)
    plan, shares = _split_plan(request, form, require_shares=False)
    context = {"form": form, "plan": plan, "lines": _lines(plan), "shares": shares, "key": _key(request)}
    return render(request, "payments/requests/split_new.html", context, status=200 if plan else 400)


def _decimal(amount: int, currency: str) -> str:
    return str(Money(amount, currency).decimal)


def _lines(plan) -> list[dict]:
    if plan is None:
        return []
    currency = plan.total.currency
    return [
        {
            "user": line.user,
            "amount": line.amount,
            "is_creator": line.is_creator,
            "value": _decimal(line.amount, currency),
        }
        for line in plan.lines
    ]


@login_required
@require_POST
@idempotent
def split_create_view(request):
    form = SplitForm(request.POST)
    plan, shares = _split_plan(request, form, require_shares=True)
    if plan is not None:
        data = form.cleaned_data
        try:
            split = split_create(
                request.user,
                title=data["title"],
                total=data["money"],
                participants=form.participant_list(),
                method=data["method"],
                shares=shares if data["method"] == SplitMethod.CUSTOM else None,
                include_me=data["include_me"],
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Split created: we asked {len(plan.others)} people for their share.")
            return redirect("payments:split_detail", pk=split.pk)
    context = {"form": form, "plan": None, "shares": shares, "key": None}
    return render(request, "payments/requests/split_new.html", context, status=400)


@login_required
@require_GET
def split_detail(request, pk: int):
    try:
        split = split_for_user(request.user, pk)
    except DomainError:
        raise Http404 from None
    rows = split_requests(split)
    _decorate(rows, request.user, timezone.now())
    paid = sum(row.amount for row in rows if row.status == RequestStatus.PAID)
    context = {
        "split": split,
        "rows": rows,
        "paid_total": paid,
        "paid_count": sum(1 for row in rows if row.status == RequestStatus.PAID),
        "outstanding": sum(row.amount for row in rows if row.display_status == RequestStatus.OPEN),
        "is_creator": split.creator_id == request.user.pk,
    }
    return render(request, "payments/requests/split_detail.html", context)


# --- Tips ----------------------------------------------------------------------------------------


def _creator_or_404(handle: str):
    User = get_user_model()
    handle = (handle or "").strip().lower()[:64]
    creator = None if "\x00" in handle else User.objects.filter(handle=handle, is_active=True).first()
    if creator is None:
        raise Http404("There is no one with that handle.")
    return creator


def _tip_render(request, creator, form, *, quote=None, key=None, status=200, error=None, blocked=""):
    template = "payments/requests/tip_confirm.html" if quote is not None else "payments/requests/tip.html"
    context = {
        "creator": creator,
        "form": form,
        "key": key,
        "error": error,
        "is_self": creator.pk == request.user.pk,
        "blocked": blocked,
        **_quote_context(quote),
    }
    return render(request, template, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def tip_page(request, handle: str):
    """``/@handle/tip``: presets + custom amount and a note; POST shows the confirm step."""
    creator = _creator_or_404(handle)
    currency = request.user.home_currency
    if request.method == "GET":
        form = TipForm(currency=currency, initial={"target": request.GET.get("target", "profile")[:64]})
        blocked = ""
        if creator.pk != request.user.pk:
            try:
                sending_allowed_check(request.user)  # frozen or unverified: say so now, not after the form
            except DomainError as error:
                blocked = error.message
        return _tip_render(request, creator, form, blocked=blocked)
    form = TipForm(request.POST, currency=currency)
    if creator.pk == request.user.pk:
        form.is_valid()
        form.add_error(None, "You cannot tip yourself.")
        return _tip_render(request, creator, form, status=400)
    if not form.is_valid():
        return _tip_render(request, creator, form, status=400)
    try:
        tip_target_check(form.cleaned_data["target"])
        sending_allowed_check(request.user)  # say so before the confirm step, not after
        quote = payment_quote(request.user, to=creator, amount=form.cleaned_data["money"])
        send_precheck(request.user, quote.send)
    except DomainError as error:
        add_domain_error(form, error, field_map={"to": "amount"})
        return _tip_render(request, creator, form, status=error.status)
    return _tip_render(request, creator, form, quote=quote, key=_key(request))


@login_required
@require_POST
@idempotent
def tip_confirm(request, handle: str):
    """The confirm step's submit: tips once per key, then shows the success page."""
    creator = _creator_or_404(handle)
    form = TipForm(request.POST, currency=request.POST.get("currency") or request.user.home_currency)
    if creator.pk == request.user.pk:
        form.is_valid()
        form.add_error(None, "You cannot tip yourself.")
        return _tip_render(request, creator, form, status=400)
    if not form.is_valid():
        return _tip_render(request, creator, form, status=400)
    try:
        payment = tip_send(
            request.user,
            creator=creator,
            amount=form.cleaned_data["money"],
            note=form.cleaned_data["note"],
            target=form.cleaned_data["target"] or "profile",
            idempotency_key=_key(request),
        )
    except DomainError as error:
        add_domain_error(form, error, field_map={"to": "amount"})
        return _tip_render(request, creator, form, status=error.status)
    return redirect("payments:tip_done", pk=payment.pk)


@login_required
@require_GET
def tip_done(request, pk: int):
    try:
        payment = payment_for_user(request.user, pk)
    except DomainError:
        raise Http404 from None
    if payment.kind != PaymentKind.TIP or payment.sender_id != request.user.pk:
        raise Http404
    return render(request, "payments/requests/tip_done.html", {"payment": payment, "creator": payment.recipient})


urlpatterns = [
    path("requests/", request_list, name="requests"),
    path("requests/new/", request_new, name="request_new"),
    path("requests/<int:pk>/", request_detail, name="request_detail"),
    path("requests/<int:pk>/pay/", request_pay_view, name="request_pay"),
    path("requests/<int:pk>/decline/", request_decline_view, name="request_decline"),
    path("requests/<int:pk>/cancel/", request_cancel_view, name="request_cancel"),
    path("requests/<int:pk>/remind/", request_remind_view, name="request_remind"),
    path("splits/", split_list, name="splits"),
    path("splits/new/", split_new, name="split_new"),
    path("splits/create/", split_create_view, name="split_create"),
    path("splits/<int:pk>/", split_detail, name="split_detail"),
    path("tips/@<str:handle>/confirm/", tip_confirm, name="tip_confirm"),
    path("tips/<int:pk>/", tip_done, name="tip_done"),
]

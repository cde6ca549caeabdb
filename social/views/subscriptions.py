"""Social pages: creator tiers (``/creator/tiers/``), subscribe (``/@handle/subscribe`` → confirm →
submit), the fan's subscriptions (``/subscriptions/``) with cancel (a confirm page) and resume.

Thin: parse, call ``social.services.subscriptions``, render. A domain error is shown on the page
it came from with its status (4xx), which also releases the form's idempotency key
(``core.idempotency`` keeps successes only) so the person can try again.
"""

from __future__ import annotations

import functools
import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import user_for_handle
from compliance.services import sending_allowed_check
from core.errors import DomainError, NotFound
from core.idempotency import FORM_FIELD, idempotent, new_key
from core.money import CURRENCY_CHOICES, Money, format_money
from payments.services.fx import fx_quote
from payments.views.wallet import rate_text, send_precheck

from ..models import LIVE_SUBSCRIPTION_STATUSES, SubscriptionStatus
from ..services.subscriptions import (
    TIER_NAME_MAX_LENGTH,
    TIER_PERKS_MAX_LENGTH,
    creator_mode_on,
    live_subscription,
    period_end,
    subscribe_check,
    subscription_cancel,
    subscription_for_fan,
    subscription_resume,
    subscription_start,
    subscriptions_of_fan,
    tier_archive,
    tier_create,
    tier_for_creator,
    tier_update,
    tiers_of,
)

S = SubscriptionStatus


def _date(moment) -> str:
    local = timezone.localtime(moment)
    return f"{local:%b} {local.day}, {local.year}"


# --- Forms --------------------------------------------------------------------------------


class TierForm(forms.Form):
    name = forms.CharField(max_length=TIER_NAME_MAX_LENGTH, strip=True)
    price = forms.CharField(label="Monthly price", max_length=32, help_text="Fixed once created.")
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES)
    perks = forms.CharField(
        required=False,
        max_length=TIER_PERKS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What subscribers get, e.g. “Subscriber-only posts, a monthly Q&A”.",
    )

    def clean(self):
        data = super().clean()
        if data.get("price") and data.get("currency"):
            try:
                data["money"] = Money.parse(data["price"], data["currency"])
            except DomainError as error:
                self.add_error("price", error.message)
        return data


class TierEditForm(forms.Form):
    name = forms.CharField(max_length=TIER_NAME_MAX_LENGTH, strip=True)
    perks = forms.CharField(required=False, max_length=TIER_PERKS_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3}))


def _add_domain_error(form: forms.Form, error: DomainError) -> None:
    placed = False
    for field, problems in (error.fields or {}).items():
        if field in form.fields:
            for problem in problems:
                form.add_error(field, problem)
            placed = True
    if not placed or error.message not in str(form.errors):
        form.add_error(None, error.message)


# --- Creator: tiers ----------------------------------------------------------------------------


def _tiers_render(request, form, *, status: int = 200):
    rows = tiers_of(request.user, active_only=False).annotate(
        live_subscribers=Count("subscriptions", filter=Q(subscriptions__status__in=LIVE_SUBSCRIPTION_STATUSES))
    )
    context = {"form": form, "tiers": list(rows), "creator_on": creator_mode_on(request.user)}
    return render(request, "social/subscriptions/tiers.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def tiers_page(request):
    """The creator's tiers (open and archived, with subscriber counts) and the new-tier form."""
    if request.method == "GET":
        return _tiers_render(request, TierForm(initial={"currency": request.user.home_currency}))
    form = TierForm(request.POST)
    if not form.is_valid():
        return _tiers_render(request, form, status=400)
    data = form.cleaned_data
    try:
        tier = tier_create(request.user, name=data["name"], price=data["money"], perks=data["perks"])
    except DomainError as error:
        _add_domain_error(form, error)
        return _tiers_render(request, form, status=error.status)
    messages.success(request, f"Tier “{tier.name}” created at {format_money(tier.price, tier.currency)} a month.")
    return redirect("social:tiers")


def _own_tier_or_404(user, pk):
    try:
        return tier_for_creator(user, pk)
    except NotFound:
        raise Http404("That tier does not exist.") from None


@login_required
@require_http_methods(["GET", "POST"])
def tier_edit(request, pk: int):
    """Rename a tier or change its perks; the price never changes (the page says how to change it)."""
    tier = _own_tier_or_404(request.user, pk)
    if request.method == "GET":
        form = TierEditForm(initial={"name": tier.name, "perks": tier.perks})
        return render(request, "social/subscriptions/tier_edit.html", {"form": form, "tier": tier})
    form = TierEditForm(request.POST)
    if form.is_valid():
        try:
            tier_update(request.user, tier=tier, name=form.cleaned_data["name"], perks=form.cleaned_data["perks"])
        except DomainError as error:
            _add_domain_error(form, error)
            return render(
                request, "social/subscriptions/tier_edit.html", {"form": form, "tier": tier}, status=error.status
            )
        messages.success(request, "Tier saved.")
        return redirect("social:tiers")
    return render(request, "social/subscriptions/tier_edit.html", {"form": form, "tier": tier}, status=400)


@login_required
@require_POST
def tier_archive_view(request, pk: int):
    """Close a tier to new subscribers (existing ones keep renewing)."""
    tier = tier_archive(request.user, tier=_own_tier_or_404(request.user, pk))
    messages.success(request, f"“{tier.name}” is archived: closed to new subscribers; current ones keep renewing.")
    return redirect("social:tiers")


# --- Fan: subscribe ------------------------------------------------------------------------------


def _creator_or_404(handle: str):
    try:
        return user_for_handle(handle)
    except NotFound:
        raise Http404("There is no one with that handle.") from None


def _choose_render(request, creator, *, error: str = "", status: int = 200, suggest_add_money: bool = False):
    is_self = request.user.pk == creator.pk
    on = creator_mode_on(creator)
    context = {
        "creator": creator,
        "tiers": list(tiers_of(creator)) if on else [],
        "creator_on": on,
        "is_self": is_self,
        "subscription": None if is_self else live_subscription(request.user, creator),
        "now": timezone.now(),
        "error": error,
        "suggest_add_money": suggest_add_money,
    }
    return render(request, "social/subscriptions/subscribe.html", context, status=status)


def _tier_of(creator, raw):
    """The creator's tier named by a form's ``tier`` field, or NotFound."""
    try:
        pk = int(raw)
    except (TypeError, ValueError):
        raise NotFound("Choose a tier.", code="tier_not_found") from None
    tier = tiers_of(creator, active_only=False).filter(pk=pk).first() if 0 < pk < 2**63 else None
    if tier is None:
        raise NotFound("That tier does not exist.", code="tier_not_found")
    return tier


@login_required
@require_http_methods(["GET", "POST"])
def subscribe_page(request, handle: str):
    """``/@handle/subscribe``: the creator's tiers; a POST (a tier chosen) shows the confirm step."""
    creator = _creator_or_404(handle)
    if request.method == "GET":
        return _choose_render(request, creator)
    try:
        tier = _tier_of(creator, request.POST.get("tier"))
        tier = subscribe_check(request.user, tier=tier)
        existing = live_subscription(request.user, creator)
        resuming = existing is not None and existing.status == S.CANCELLED and existing.paid_until > timezone.now()
        price = Money(tier.price, tier.currency)
        if not resuming:
            if existing is not None and existing.status in (S.ACTIVE, S.PAST_DUE):
                return _choose_render(
                    request, creator, error=f"You are already subscribed to @{creator.handle}.", status=409
                )
            sending_allowed_check(request.user)
            send_precheck(request.user, price)
        quote = fx_quote(send=price, to_currency=creator.home_currency)
    except DomainError as error:
        return _choose_render(
            request,
            creator,
            error=error.message,
            status=error.status,
            suggest_add_money=error.code == "insufficient_funds",
        )
    now = timezone.now()
    key = (request.POST.get(FORM_FIELD) or "")[:200] or new_key()
    context = {
        "creator": creator,
        "tier": tier,
        "quote": quote,
        "rate": rate_text(quote.rate),
        "mid_rate": rate_text(quote.mid_rate),
        "spread_percent": f"{(quote.spread * 100).normalize():f}",
        "resuming": existing if resuming else None,
        "next_renewal": existing.paid_until if resuming else period_end(now, 0),
        "key": key,
    }
    return render(request, "social/subscriptions/confirm.html", context)


def _html_idempotency_errors(view):
    """The idempotency layer answers JSON (key reused, still in progress): show a page instead."""

    @functools.wraps(view)
    def wrapper(request, handle: str):
        response = view(request, handle)
        if isinstance(response, JsonResponse) and response.status_code >= 400:
            try:
                error = json.loads(response.content)["error"]
            except (ValueError, KeyError, TypeError):
                return response
            if error.get("code") == "request_in_progress":
                messages.info(request, "Your subscription is still being set up: check in a moment.")
                return redirect("social:subscriptions")
            return _choose_render(
                request,
                _creator_or_404(handle),
                error="This form was already used for something else, so nothing was charged. Choose a tier again.",
                status=response.status_code,
            )
        return response

    return wrapper


@login_required
@require_POST
@_html_idempotency_errors
@idempotent
def subscribe_submit(request, handle: str):
    """The confirm step's submit: subscribes (and charges the first month) once per key."""
    creator = _creator_or_404(handle)
    before = live_subscription(request.user, creator)
    resumed = before is not None and before.status == S.CANCELLED
    try:
        tier = _tier_of(creator, request.POST.get("tier"))
        sub = subscription_start(request.user, tier=tier, idempotency_key=request.POST.get(FORM_FIELD) or new_key())
    except DomainError as error:
        return _choose_render(
            request,
            creator,
            error=error.message,
            status=error.status,
            suggest_add_money=error.code == "insufficient_funds",
        )
    price = format_money(sub.tier.price, sub.tier.currency)
    if sub.periods_paid == 0:
        messages.info(
            request,
            f"Your first payment to @{creator.handle} is held for a quick review; "
            "your subscription starts as soon as it is approved.",
        )
    elif resumed:
        messages.success(
            request,
            f"Welcome back: your subscription to @{creator.handle} renews again on {_date(sub.paid_until)} "
            f"({sub.tier.name}, {price} a month). Nothing was charged today.",
        )
    else:
        messages.success(
            request,
            f"You're subscribed to @{creator.handle} — {sub.tier.name}, {price} a month. "
            f"Next renewal on {_date(sub.paid_until)}; cancel any time.",
        )
    return redirect("social:subscriptions")


# --- Fan: my subscriptions ------------------------------------------------------------------------


@login_required
@require_GET
def subscriptions_page(request):
    """The fan's subscriptions with status, tier, price and next renewal or end (one query)."""
    rows = list(subscriptions_of_fan(request.user)[:200])
    return render(request, "social/subscriptions/list.html", {"subscriptions": rows, "now": timezone.now()})


def _own_subscription_or_404(user, pk):
    try:
        return subscription_for_fan(user, pk)
    except NotFound:
        raise Http404("That subscription does not exist.") from None


@login_required
@require_http_methods(["GET", "POST"])
def subscription_cancel_view(request, pk: int):
    """GET: "Cancel your subscription to @x? You keep access until …". POST: cancel (idempotent)."""
    sub = _own_subscription_or_404(request.user, pk)
    if request.method == "GET":
        return render(request, "social/subscriptions/cancel.html", {"sub": sub, "now": timezone.now()})
    try:
        sub = subscription_cancel(request.user, subscription=sub)
    except DomainError as error:
        return render(
            request,
            "social/subscriptions/cancel.html",
            {"sub": sub, "error": error.message, "now": timezone.now()},
            status=error.status,
        )
    if sub.status == S.CANCELLED:
        messages.success(
            request,
            f"Cancelled. You keep access to @{sub.creator.handle}'s subscriber posts until {_date(sub.paid_until)}; "
            "you will not be charged again.",
        )
    else:
        messages.success(request, f"Your subscription to @{sub.creator.handle} has ended; nothing more is charged.")
    return redirect("social:subscriptions")


@login_required
@require_POST
def subscription_resume_view(request, pk: int):
    """Undo a cancel while still paid: renewals start again at the end of the paid period."""
    sub = _own_subscription_or_404(request.user, pk)
    try:
        sub = subscription_resume(request.user, subscription=sub)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("social:subscriptions")
    price = format_money(sub.tier.price, sub.tier.currency)
    messages.success(
        request, f"Resumed: your subscription to @{sub.creator.handle} renews on {_date(sub.paid_until)} ({price})."
    )
    return redirect("social:subscriptions")


urlpatterns = [
    path("creator/tiers/", tiers_page, name="tiers"),
    path("creator/tiers/<int:pk>/edit/", tier_edit, name="tier_edit"),
    path("creator/tiers/<int:pk>/archive/", tier_archive_view, name="tier_archive"),
    path("@<str:handle>/subscribe", subscribe_page, name="subscribe"),
    path("@<str:handle>/subscribe/confirm", subscribe_submit, name="subscribe_confirm"),
    path("subscriptions/", subscriptions_page, name="subscriptions"),
    path("subscriptions/<int:pk>/cancel/", subscription_cancel_view, name="subscription_cancel"),
    path("subscriptions/<int:pk>/resume/", subscription_resume_view, name="subscription_resume"),
]

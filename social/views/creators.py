"""Creator pages: creator mode settings, the dashboard, tipping a post and a post's revenue split.

- ``/creator/`` (``social:creator_dashboard``): earnings chart, totals, supporters, recent tips;
- ``/creator/settings`` (``social:creator_settings``): creator mode on/off, tagline, savings sweep;
- ``/creator/settings/sweep`` (``social:creator_sweep``, POST): the share of each earning swept into savings;
- ``/posts/<id>/tip`` (``social:post_tip``) → confirm → ``/posts/<id>/tip/confirm``
  (``social:post_tip_confirm``, idempotent) → ``/posts/<id>/tip/<payment id>`` (``social:post_tip_done``);
- ``/posts/<id>/split`` (``social:post_split``): who shares the post's tips.

Views parse, call a service and render. A post the viewer may not see is a 404.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from compliance.services import sending_allowed_check
from core.errors import DomainError, ValidationFailed
from core.idempotency import idempotent, new_key, request_key
from core.money import format_money
from payments.forms_requests import TipForm, add_domain_error
from payments.models import PaymentKind
from payments.services.send import payment_for_user, payment_quote
from payments.views.wallet import html_idempotency_errors, send_precheck

from ..earnings import earnings_for
from ..models import Post, PostTip
from ..services.creators import (
    MAX_AUTHORS,
    SWEEP_CHOICES_BPS,
    TAGLINE_MAX_LENGTH,
    creator_mode_set,
    creator_profile_for,
    creator_sweep_set,
    post_authors_of,
    post_authors_set,
)
from ..services.posts import post_path
from ..services.tips import post_tip_check, post_tip_send, split_amounts
from ..visibility import visible_posts

CSS = "css/social-d.css"


def _post_or_404(request, pk: int) -> Post:
    post = visible_posts(request.user, Post.objects.select_related("author").filter(pk=pk)).first()
    if post is None:
        raise Http404("That post does not exist.")
    return post


def _key(request) -> str | None:
    try:
        return request_key(request)
    except ValidationFailed:
        return None


def _plain(value) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- Creator mode ---------------------------------------------------------------------------


class CreatorSettingsForm(forms.Form):
    enabled = forms.BooleanField(label="Creator mode", required=False)
    tagline = forms.CharField(
        label="Tagline (optional)",
        max_length=TAGLINE_MAX_LENGTH,
        required=False,
        help_text="One line on your profile: what supporters get.",
        widget=forms.TextInput(attrs={"placeholder": "Weekly sketches and behind-the-scenes notes"}),
    )


def _sweep_context(user, profile) -> dict:
    """The savings sweep control: the choices, the current share, and whether a savings account exists."""
    from savings.models import SavingsAccount

    current = profile.savings_sweep_bps if profile else 0
    values = sorted({*SWEEP_CHOICES_BPS, current})
    return {
        "sweep_choices": [
            {"bps": bps, "label": f"{_plain(Decimal(bps) / 100)}%" if bps else "Off", "selected": bps == current}
            for bps in values
        ],
        "sweep_current": current,
        "sweep_has_savings": SavingsAccount.objects.filter(user_id=user.pk, currency=user.home_currency).exists(),
        "sweep_currency": user.home_currency,
    }


@login_required
@require_POST
def creator_sweep(request):
    """Set the savings sweep (a share of each tip and subscription earning, into savings)."""
    back = "social:creator_dashboard" if request.POST.get("next") == "dashboard" else "social:creator_settings"
    try:
        bps = int(request.POST.get("savings_sweep_bps", ""))
    except (TypeError, ValueError):
        bps = -1
    try:
        profile = creator_sweep_set(request.user, bps=bps)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(back)
    if profile.savings_sweep_bps:
        messages.success(
            request,
            f"Savings sweep on: {_plain(Decimal(profile.savings_sweep_bps) / 100)}% of each tip and "
            "subscription you receive goes into your savings.",
        )
    else:
        messages.success(request, "Savings sweep off: earnings stay in your wallet.")
    return redirect(back)


@login_required
@require_http_methods(["GET", "POST"])
def creator_settings(request):
    """Turn creator mode on or off (and the tagline); the savings sweep has its own form (``creator_sweep``)."""
    profile = creator_profile_for(request.user)
    if request.method == "POST":
        form = CreatorSettingsForm(request.POST)
        if form.is_valid():
            try:
                profile = creator_mode_set(
                    request.user, enabled=form.cleaned_data["enabled"], tagline=form.cleaned_data["tagline"]
                )
            except DomainError as error:
                add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    "Creator mode is on: people can tip your posts and profile."
                    if profile.is_enabled
                    else "Creator mode is off: Tip buttons are hidden and new tips are refused.",
                )
                return redirect("social:creator_settings")
        status = 400
    else:
        initial = {"enabled": profile.is_enabled if profile else False, "tagline": profile.tagline if profile else ""}
        form = CreatorSettingsForm(initial=initial)
        status = 200
    context = {"form": form, "profile": profile, "css": CSS, **_sweep_context(request.user, profile)}
    return render(request, "social/creators/settings.html", context, status=status)


@login_required
@require_GET
def creator_dashboard(request):
    """Earnings per day (SVG chart + table), totals, top supporters, recent tips, wallet balance."""
    try:
        days = int(request.GET.get("days", 30))
    except (TypeError, ValueError):
        days = 30
    days = days if days in (7, 30, 90) else 30
    earnings = earnings_for(request.user, days=days)
    context = {
        "earnings": earnings,
        "chart": earnings.chart,
        "profile": earnings.profile,
        "css": CSS,
        "days": days,
        **_sweep_context(request.user, earnings.profile),
    }
    return render(request, "social/creators/dashboard.html", context)


# --- Tipping a post -------------------------------------------------------------------------


def _quote_context(quote) -> dict:
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


def _split_preview(post: Post, amount: int, currency: str) -> list[dict]:
    """Who gets what of ``amount`` (the creator's currency) under the post's split ([] without one)."""
    rows = post_authors_of(post)
    if len(rows) < 2:
        return []
    parts = split_amounts(amount, [row.share_bps for row in rows])
    return [
        {"user": row.user, "percent": _plain(Decimal(row.share_bps) / 100), "amount": format_money(part, currency)}
        for row, part in zip(rows, parts, strict=True)
    ]


def _tip_render(request, post, form, *, quote=None, key=None, status=200, blocked=""):
    template = "social/creators/tip_confirm.html" if quote is not None else "social/creators/tip.html"
    context = {
        "post": post,
        "creator": post.author,
        "form": form,
        "key": key or _key(request) or new_key(),
        "blocked": blocked,
        "css": CSS,
        "split": _split_preview(post, quote.receive.amount, quote.receive.currency) if quote is not None else [],
        **_quote_context(quote),
    }
    return render(request, template, context, status=status)


def _tippable_or_error(request, post: Post):
    """(post to tip, None) or (post, the page to show instead)."""
    try:
        return post_tip_check(request.user, post=post), None
    except DomainError as error:
        if error.status == 404:
            raise Http404(error.message) from None
        return post, render(
            request,
            "social/creators/tip_refused.html",
            {"post": post, "message": error.message, "css": CSS, "post_url": post_path(post.pk)},
            status=error.status,
        )


@login_required
@require_http_methods(["GET", "POST"])
def post_tip(request, pk: int):
    """Preset and custom amounts and a note; a POST shows the confirm step (nothing moves yet)."""
    post, refused = _tippable_or_error(request, _post_or_404(request, pk))
    if refused is not None:
        return refused
    currency = request.user.home_currency
    if request.method == "GET":
        blocked = ""
        try:
            sending_allowed_check(request.user)  # frozen or unverified: say so now, not after the form
        except DomainError as error:
            blocked = error.message
        return _tip_render(request, post, TipForm(currency=currency), blocked=blocked)
    form = TipForm(request.POST, currency=currency)
    if not form.is_valid():
        return _tip_render(request, post, form, status=400)
    try:
        sending_allowed_check(request.user)
        quote = payment_quote(request.user, to=post.author, amount=form.cleaned_data["money"])
        send_precheck(request.user, quote.send)
    except DomainError as error:
        add_domain_error(form, error, field_map={"to": "amount"})
        return _tip_render(request, post, form, status=error.status)
    return _tip_render(request, post, form, quote=quote, key=_key(request))


def _confirm_idempotency_error(request, code, message, status, pk):
    messages.error(request, message or "That tip could not be sent; check your wallet before trying again.")
    return redirect("social:post_tip", pk=pk)


@login_required
@require_POST
@html_idempotency_errors(_confirm_idempotency_error)
@idempotent
def post_tip_confirm(request, pk: int):
    """The confirm step's submit: tips once per key, then shows the success page."""
    post, refused = _tippable_or_error(request, _post_or_404(request, pk))
    if refused is not None:
        return refused
    form = TipForm(request.POST, currency=(request.POST.get("currency") or request.user.home_currency)[:3])
    if not form.is_valid():
        return _tip_render(request, post, form, status=400)
    try:
        tip = post_tip_send(
            request.user,
            post=post,
            amount=form.cleaned_data["money"],
            note=form.cleaned_data["note"],
            idempotency_key=_key(request),
        )
    except DomainError as error:
        add_domain_error(form, error, field_map={"to": "amount"})
        return _tip_render(request, post, form, status=error.status)
    return redirect("social:post_tip_done", pk=tip.post_id, payment_id=tip.payment_id)


@login_required
@require_GET
def post_tip_done(request, pk: int, payment_id: int):
    if not 0 < pk < 2**63:
        raise Http404
    try:
        payment = payment_for_user(request.user, payment_id)
    except DomainError:
        raise Http404 from None
    if payment.kind != PaymentKind.TIP or payment.sender_id != request.user.pk:
        raise Http404
    tip = PostTip.objects.filter(payment=payment, post_id=pk).select_related("post").first()
    if tip is None:
        raise Http404
    context = {
        "payment": payment,
        "creator": payment.recipient,
        "post": tip.post,
        "post_url": post_path(pk),
        "css": CSS,
    }
    return render(request, "social/creators/tip_done.html", context)


# --- Revenue split --------------------------------------------------------------------------


def _percent_to_bps(text: str) -> int:
    try:
        value = Decimal(text.strip().rstrip("%").strip())
    except (InvalidOperation, AttributeError):
        raise ValidationFailed("Enter each share as a percentage, like 25 or 12.5.", code="invalid_split") from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")) or value <= 0 or value > 100:
        raise ValidationFailed(
            "Each share is a percentage above 0 and at most 100, with at most two decimals.", code="invalid_split"
        )
    return int(value * 100)


def _split_rows(post, request) -> list[dict]:
    """The form's rows: posted values, or the saved split (the author first), plus empty rows."""
    if request.method == "POST":
        handles = request.POST.getlist("handle")[:MAX_AUTHORS]
        percents = request.POST.getlist("percent")[:MAX_AUTHORS]
        rows = [{"handle": h[:64], "percent": p[:16]} for h, p in zip(handles, percents, strict=False)]
        rows[0:1] = [{"handle": post.author.handle, "percent": rows[0]["percent"] if rows else "100"}]
    else:
        saved = post_authors_of(post)
        rows = [{"handle": row.user.handle, "percent": _plain(Decimal(row.share_bps) / 100)} for row in saved]
        if not rows:
            rows = [{"handle": post.author.handle, "percent": "100"}]
    blanks = max(0, min(2, MAX_AUTHORS - len(rows)))
    return rows + [{"handle": "", "percent": ""} for _ in range(blanks)]


@login_required
@require_http_methods(["GET", "POST"])
def post_split(request, pk: int):
    """The post's author shares its future tips: the author first, then co-authors by @handle and %."""
    post = _post_or_404(request, pk)
    if post.author_id != request.user.pk:
        return render(
            request,
            "social/creators/tip_refused.html",
            {
                "post": post,
                "message": "Only the post's author can share its tips.",
                "css": CSS,
                "post_url": post_path(post.pk),
            },
            status=403,
        )
    error = None
    if request.method == "POST":
        try:
            shares = []
            for index, (handle, percent) in enumerate(
                zip(request.POST.getlist("handle")[: MAX_AUTHORS + 1], request.POST.getlist("percent"), strict=False)
            ):
                handle, percent = handle.strip(), percent.strip()
                if index == 0:
                    handle = request.user.handle
                if not handle and not percent:
                    continue
                shares.append((request.user if index == 0 else handle, _percent_to_bps(percent or "0")))
            post_authors_set(request.user, post=post, shares=shares)
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, "Saved: future tips on this post are shared as shown.")
            return redirect("social:post_split", pk=post.pk)
    context = {
        "post": post,
        "rows": _split_rows(post, request),
        "error": error,
        "max_authors": MAX_AUTHORS,
        "post_url": post_path(post.pk),
        "css": CSS,
    }
    return render(request, "social/creators/split.html", context, status=400 if error else 200)


urlpatterns = [
    path("creator/", creator_dashboard, name="creator_dashboard"),
    path("creator/settings", creator_settings, name="creator_settings"),
    path("creator/settings/sweep", creator_sweep, name="creator_sweep"),
    path("posts/<int:pk>/tip", post_tip, name="post_tip"),
    path("posts/<int:pk>/tip/confirm", post_tip_confirm, name="post_tip_confirm"),
    path("posts/<int:pk>/tip/<int:payment_id>", post_tip_done, name="post_tip_done"),
    path("posts/<int:pk>/split", post_split, name="post_split"),
]

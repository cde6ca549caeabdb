"""HTML: money inside a thread (mounted under /messages/, namespace ``messaging``).

Four flows, each form → confirm → submit, started from the conversation header:

- ``<id>/pay/``     Pay (1:1: the other person; group: a chosen member)
- ``<id>/request/`` Request (1:1: the other person; group: chosen members)
- ``<id>/escrow/``  Pay with protection (1:1 only)
- ``<id>/split/``   Split a bill among the group's members (groups only)

The confirm step shows the recipient (avatar, name, handle, account age), the amount,
the fee, the FX rate and what arrives, with a scam warning on the first payment to
someone (DESIGN §8). Nothing moves until the confirm form is submitted; submits are
idempotent (``@idempotent`` + the form's hidden key, which is also passed to the payments
service), so a double click or a resend moves money once. Success redirects to the
new card in the thread (``/messages/<id>/#m-<message id>``).

Cards (rendered by ``templates/messaging/money/_card.html`` from ``messaging.money.card_view``):

- ``cards/<message id>/``                                  the card alone (thread_money.js re-fetches it)
- ``cards/<message id>/<return|cancel|release|refund>/``  one-click actions (POST)
- ``cards/<message id>/dispute/``                          open a dispute (a reason first)
- ``cards/<message id>/requests/<request id>/pay/``        pay a request: the confirm step, then pay
- ``cards/<message id>/requests/<request id>/<decline|cancel>/``

Card POSTs sent with ``X-Requested-With: fetch`` answer the re-rendered card (or a JSON
error ``{"error": {...}}``); without JavaScript they redirect back to the thread. Anyone
who is not an active member of the conversation gets 404 for all of it.
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from compliance import services as compliance
from core.errors import DomainError, NotFound, NotPermitted
from core.idempotency import FORM_FIELD, idempotent, new_key
from core.money import CURRENCY_CHOICES, Money, format_money
from ledger.services import InsufficientFunds
from payments.models import Escrow, EscrowStatus, PaymentStatus, SafetyDelay, SplitMethod
from payments.selectors import wallet_available
from payments.services.escrow import AUTO_RELEASE_AFTER, DESCRIPTION_MAX_LENGTH
from payments.services.requests import account_not_frozen_check, effective_status
from payments.services.send import NOTE_MAX_LENGTH, has_paid_before, payment_quote

from . import money, services
from .models import ConversationKind, Membership, MessageKind

CARD_TEMPLATE = "messaging/money/_card.html"
SPLIT_SHARE_PREFIX = "share_"


# --- Helpers ----------------------------------------------------------------------------------------


def _is_fetch(request) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _membership_or_404(user, pk) -> Membership:
    try:
        return services.membership_for(user, pk)
    except NotFound:
        raise Http404("No such conversation.") from None


def _members(membership: Membership, user) -> list:
    """The other active members, in join order (one query)."""
    return [
        m.user
        for m in Membership.objects.filter(conversation_id=membership.conversation_id, is_active=True)
        .exclude(user_id=user.pk)
        .select_related("user")
        .order_by("id")
    ]


def _thread(membership: Membership, user) -> dict:
    """What every page of these flows shows about the conversation (title, back link)."""
    conversation = membership.conversation
    is_group = conversation.kind == ConversationKind.GROUP
    other = None if is_group else services.other_member(conversation, user)
    return {
        "conversation": conversation,
        "is_group": is_group,
        "other": other,
        "thread_title": conversation.name if is_group else (other.name if other else "Conversation"),
        "thread_url": reverse("messaging:conversation", args=[conversation.pk]),
    }


def _card_url(message) -> str:
    return f"{reverse('messaging:conversation', args=[message.conversation_id])}#m-{message.pk}"


def _plain(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value.quantize(Decimal('0.000001')).normalize():f}"


def _delay_label(delay) -> str:
    """ "10 minutes", "1 hour", "24 hours" for a safety delay (a timedelta), else ""."""
    if not delay:
        return ""
    try:
        return SafetyDelay(int(delay.total_seconds())).label.lower()
    except ValueError:
        return ""


def _add_error(form: forms.Form, error: DomainError) -> None:
    """A service's refusal on the form: the message on top, field hints beside known fields."""
    form.add_error(None, error.message)
    for name, hints in (error.fields or {}).items():
        target = {"total": "total", "description": "description", "payers": "payers"}.get(name, name)
        if target in form.fields and target not in form.errors:
            for hint in hints if isinstance(hints, list) else [hints]:
                form.add_error(target, str(hint))


def _insufficient(user, amount: Money) -> DomainError | None:
    available = wallet_available(user, amount.currency)
    if amount.amount <= available:
        return None
    return InsufficientFunds(
        f"You have {format_money(available, amount.currency)} available in {amount.currency}; "
        f"{amount} is more than that. Add money first.",
        fields={"amount": ["Not enough money."]},
    )


def _html_idempotency_errors(view):
    """The idempotency layer answers JSON (key reused, still in progress): show a page instead."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if (
            isinstance(response, JsonResponse)
            and response.status_code >= 400
            and not _is_fetch(request)
            and response.get("Content-Type", "").startswith("application/json")
        ):
            try:
                error = json.loads(response.content)["error"]
            except (ValueError, KeyError, TypeError):
                return response
            if error.get("code") == "request_in_progress":
                text = "That is still being processed: check the conversation in a moment."
            elif error.get("code") == "idempotency_key_reused":
                text = "This form was already used for something else, so nothing was done. Start again."
            else:
                text = error.get("message") or "That did not work."
            pk = kwargs.get("pk")
            back = reverse("messaging:conversation", args=[pk]) if pk else reverse("messaging:inbox")
            return render(
                request,
                "messaging/money/error.html",
                {"error": text, "thread_url": back},
                status=response.status_code,
            )
        return response

    return wrapper


# --- Forms --------------------------------------------------------------------------------------------


class _MoneyForm(forms.Form):
    """An amount and a currency → ``cleaned_data["money"]``; carries the idempotency key."""

    amount_field = "amount"
    currency = forms.ChoiceField(label="Currency", choices=CURRENCY_CHOICES)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=200, required=False)

    def clean(self):
        cleaned = super().clean()
        text, currency = cleaned.get(self.amount_field), cleaned.get("currency")
        if text and currency:
            try:
                cleaned["money"] = Money.parse(text, currency)
            except DomainError as error:
                self.add_error(self.amount_field, error.message)
        return cleaned

    def hidden_values(self) -> list[tuple[str, str]]:
        """(name, value) pairs the confirm step carries to the submit (lists repeat the name)."""
        pairs = []
        for name in self.fields:
            value = self.cleaned_data.get(name)
            if name == "idempotency_key":
                pairs.append((FORM_FIELD, value or ""))
            elif isinstance(value, (list, tuple)):
                pairs.extend((name, str(v)) for v in value)
            elif isinstance(value, bool):
                if value:
                    pairs.append((name, "on"))
            elif value is not None:
                pairs.append((name, str(value)))
        return pairs


def _amount_field(label: str = "Amount") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0.00", "autocomplete": "off"}),
        error_messages={"required": "Enter an amount."},
    )


class PayForm(_MoneyForm):
    to = forms.ChoiceField(label="Pay", required=False)
    amount = _amount_field()
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": "What is it for? (optional)", "maxlength": NOTE_MAX_LENGTH}),
    )
    field_order = ["to", "amount", "currency", "note"]

    def __init__(self, *args, members: list, is_group: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if is_group:
            self.fields["to"].required = True
            self.fields["to"].choices = [("", "Choose a member")] + [
                (f"@{u.handle}", f"{u.name} (@{u.handle})") for u in members
            ]
            self.fields["to"].error_messages["required"] = "Choose who to pay."
        else:
            del self.fields["to"]


class RequestForm(_MoneyForm):
    payers = forms.MultipleChoiceField(label="Who should pay?", required=False, widget=forms.CheckboxSelectMultiple)
    amount = _amount_field("Amount each")
    note = forms.CharField(
        label="What is it for?",
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": "Dinner on Friday 🍝", "maxlength": NOTE_MAX_LENGTH}),
    )
    field_order = ["payers", "amount", "currency", "note"]

    def __init__(self, *args, members: list, is_group: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if is_group:
            self.fields["payers"].required = True
            self.fields["payers"].choices = [(f"@{u.handle}", f"{u.name} (@{u.handle})") for u in members]
            self.fields["payers"].error_messages["required"] = "Choose who should pay."
        else:
            del self.fields["payers"]


class EscrowForm(_MoneyForm):
    amount = _amount_field()
    description = forms.CharField(
        label="What are you paying for?",
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": "Concert tickets, 2× row F", "maxlength": DESCRIPTION_MAX_LENGTH}),
        help_text="The seller sees this. Be specific: it helps our team if you ever need to open a dispute.",
        error_messages={"required": "Say what you are paying for."},
    )
    field_order = ["amount", "currency", "description"]

    def __init__(self, *args, members: list, is_group: bool, **kwargs):
        super().__init__(*args, **kwargs)


class SplitForm(_MoneyForm):
    amount_field = "total"
    title = forms.CharField(
        label="What are you splitting?",
        max_length=280,
        widget=forms.TextInput(attrs={"placeholder": "Dinner at Luigi's"}),
        error_messages={"required": "Say what the bill is for."},
    )
    total = _amount_field("Total")
    method = forms.ChoiceField(
        label="Shares", choices=SplitMethod.choices, initial=SplitMethod.EQUAL, widget=forms.RadioSelect
    )
    include_me = forms.BooleanField(
        label="Include me", required=False, initial=True, help_text="Count yourself as one of the people sharing."
    )
    field_order = ["title", "total", "currency", "method", "include_me"]

    def __init__(self, *args, members: list, is_group: bool, **kwargs):
        super().__init__(*args, **kwargs)


def _shares_from_post(data) -> dict[str, str]:
    """The ``share_<handle>`` inputs of the custom-shares confirm step, as {"@handle": "12.50"}."""
    return {
        f"@{name[len(SPLIT_SHARE_PREFIX) :]}": (data.get(name) or "").strip()
        for name in data
        if name.startswith(SPLIT_SHARE_PREFIX) and len(name) > len(SPLIT_SHARE_PREFIX)
    }


# --- The four flows -------------------------------------------------------------------------------------


class Flow:
    """One money flow in a thread: its form, confirm and submit. Subclasses fill in the blanks."""

    name = ""
    form_class: type[_MoneyForm] = _MoneyForm
    title = ""
    intro = ""
    review_label = "Review"
    only = None  # ConversationKind the flow is limited to, if any

    def allowed(self, membership) -> str:
        """ "" when this conversation may use the flow, else why not."""
        if self.only and membership.conversation.kind != self.only:
            return (
                f"{self.title} works in a group conversation."
                if self.only == ConversationKind.GROUP
                else f"{self.title} works in a 1:1 conversation."
            )
        return ""

    def initial(self, request, membership) -> dict:
        return {"currency": request.user.home_currency, "idempotency_key": new_key()}

    def form(self, request, membership, data=None, initial=None):
        thread = _thread(membership, request.user)
        return self.form_class(
            data, initial=initial, members=_members(membership, request.user), is_group=thread["is_group"]
        )

    def confirm_context(self, request, membership, form) -> dict:  # raises DomainError
        raise NotImplementedError

    def submit(self, request, membership, form, key):  # -> card message(s); raises DomainError
        raise NotImplementedError

    def done_message(self, result) -> str:
        return "Done."


def _render_form(request, flow: Flow, membership, form, *, status=200, page_error=""):
    context = {
        **_thread(membership, request.user),
        "flow": flow,
        "form": form,
        "page_error": page_error,
        "action": reverse(f"messaging:{flow.name}_confirm", args=[membership.conversation_id]),
    }
    return render(request, "messaging/money/form.html", context, status=status)


class PayFlow(Flow):
    name = "pay"
    form_class = PayForm
    title = "Pay"
    intro = "You will see who you are paying, and exactly what arrives, before anything is sent."

    def _recipient(self, request, membership, form):
        return money.counterparty(request.user, membership, form.cleaned_data.get("to") or None, doing="pay")

    def confirm_context(self, request, membership, form) -> dict:
        data = form.cleaned_data
        recipient = self._recipient(request, membership, form)
        compliance.sending_allowed_check(request.user)
        quote = payment_quote(request.user, to=recipient, amount=data["money"])
        problem = _insufficient(request.user, data["money"])
        if problem:
            raise problem
        delay = quote.arrives_after
        return {
            "recipient": recipient,
            "quote": quote,
            "new_account": money.is_new_account(recipient),
            "first_payment": quote.first_to_recipient,
            "rate": _plain(quote.fx.rate),
            "mid_rate": _plain(quote.fx.mid_rate),
            "spread_percent": _plain(quote.fx.spread * 100),
            "delay": delay,
            "delay_label": _delay_label(delay),
            "note": data.get("note", ""),
        }

    def submit(self, request, membership, form, key):
        data = form.cleaned_data
        return money.thread_pay(
            request.user,
            conversation=membership.conversation_id,
            to=data.get("to") or None,
            amount=data["money"],
            note=data.get("note", ""),
            idempotency_key=key,
        )

    def done_message(self, card) -> str:
        payment = card.payment
        amount = format_money(payment.amount, payment.currency)
        if payment.status == PaymentStatus.ARRIVING:
            return f"{amount} to @{payment.recipient.handle} is on its way; you can cancel it until it arrives."
        if payment.status == PaymentStatus.IN_REVIEW:
            return f"{amount} to @{payment.recipient.handle} is held for a quick review before it is sent."
        return f"You paid @{payment.recipient.handle} {amount}."


class RequestFlow(Flow):
    name = "request"
    form_class = RequestForm
    title = "Request"
    intro = "They get a request card in this conversation and can pay it with one tap."

    def confirm_context(self, request, membership, form) -> dict:
        data = form.cleaned_data
        people = money.request_payers(request.user, membership, data.get("payers") or None)
        account_not_frozen_check(request.user)
        return {"people": people, "amount": data["money"], "note": data.get("note", "")}

    def submit(self, request, membership, form, key):
        data = form.cleaned_data
        return money.thread_request(
            request.user,
            conversation=membership.conversation_id,
            amount=data["money"],
            note=data.get("note", ""),
            payers=data.get("payers") or None,
        )

    def done_message(self, cards) -> str:
        request_row = cards[0].payment_request
        amount = format_money(request_row.amount, request_row.currency)
        names = ", ".join(f"@{c.payment_request.payer.handle}" for c in cards)
        return f"You asked {names} for {amount}{' each' if len(cards) > 1 else ''}."


class EscrowFlow(Flow):
    name = "escrow"
    form_class = EscrowForm
    title = "Pay with protection"
    intro = (
        "Your money is held, not sent: the seller sees it coming, and gets it when you release it. "
        "If something is wrong, open a dispute and our team decides."
    )
    only = ConversationKind.DIRECT

    def confirm_context(self, request, membership, form) -> dict:
        data = form.cleaned_data
        seller = money.counterparty(request.user, membership, doing="pay")
        compliance.sending_allowed_check(request.user)
        problem = _insufficient(request.user, data["money"])
        if problem:
            raise problem
        return {
            "recipient": seller,
            "amount": data["money"],
            "fee": Money(0, data["money"].currency),
            "new_account": money.is_new_account(seller),
            "first_payment": not has_paid_before(request.user, seller),
            "auto_release_at": timezone.now() + AUTO_RELEASE_AFTER,
            "auto_release_days": AUTO_RELEASE_AFTER.days,
            "description": data["description"],
        }

    def submit(self, request, membership, form, key):
        data = form.cleaned_data
        return money.thread_escrow(
            request.user,
            conversation=membership.conversation_id,
            amount=data["money"],
            description=data["description"],
            idempotency_key=key,
        )

    def done_message(self, card) -> str:
        escrow = card.escrow
        return (
            f"{format_money(escrow.amount, escrow.currency)} is held for @{escrow.seller.handle}. "
            "Release it once you have what you paid for."
        )


class SplitFlow(Flow):
    name = "split"
    form_class = SplitForm
    title = "Split a bill"
    intro = "Everyone else in the group gets a request for their share; the group sees who has paid."
    review_label = "Preview shares"
    only = ConversationKind.GROUP

    def _plan(self, request, membership, form, *, shares):
        data = form.cleaned_data
        return money.thread_split_preview(
            request.user,
            conversation=membership.conversation_id,
            title=data["title"],
            total=data["money"],
            method=data["method"],
            shares=shares,
            include_me=data["include_me"],
        )

    def confirm_context(self, request, membership, form) -> dict:
        data = form.cleaned_data
        shares = _shares_from_post(request.POST) if data["method"] == SplitMethod.CUSTOM else None
        if data["method"] == SplitMethod.CUSTOM and not shares:
            # First look at custom shares: start from the equal ones, to be edited.
            equal = money.thread_split_preview(
                request.user,
                conversation=membership.conversation_id,
                title=data["title"],
                total=data["money"],
                method=SplitMethod.EQUAL,
                include_me=data["include_me"],
            )
            shares = {
                f"@{line.user.handle}": str(Money(line.amount, equal.total.currency).decimal) for line in equal.lines
            }
        plan = self._plan(request, membership, form, shares=shares)
        currency = plan.total.currency
        return {
            "plan": plan,
            "lines": [
                {
                    "user": line.user,
                    "amount": format_money(line.amount, currency),
                    "value": str(Money(line.amount, currency).decimal),
                    "is_creator": line.is_creator,
                }
                for line in plan.lines
            ],
            "custom": data["method"] == SplitMethod.CUSTOM,
        }

    def submit(self, request, membership, form, key):
        data = form.cleaned_data
        shares = _shares_from_post(request.POST) if data["method"] == SplitMethod.CUSTOM else None
        return money.thread_split(
            request.user,
            conversation=membership.conversation_id,
            title=data["title"],
            total=data["money"],
            method=data["method"],
            shares=shares,
            include_me=data["include_me"],
        )

    def done_message(self, card) -> str:
        split = card.split
        return f"Split created: we asked {split.requests.count()} people for their share of {format_money(split.total, split.currency)}."


FLOWS = {flow.name: flow for flow in (PayFlow(), RequestFlow(), EscrowFlow(), SplitFlow())}


def _flow_view(flow_name: str, step: str):
    flow = FLOWS[flow_name]

    def view(request, pk: int):
        membership = _membership_or_404(request.user, pk)
        refusal = flow.allowed(membership)
        if refusal:
            return render(
                request,
                "messaging/money/error.html",
                {**_thread(membership, request.user), "error": refusal},
                status=400,
            )
        if step == "form":
            return _form_step(request, flow, membership)
        if step == "confirm":
            return _confirm_step(request, flow, membership)
        return _submit_step(request, flow, membership)

    view.__name__ = f"{flow_name}_{step}"
    view.__doc__ = f"{flow.title}: the {step} step."
    return view


def _form_step(request, flow: Flow, membership):
    """GET: the empty form (prefilled from ``?amount=&note=``). POST: "Back" from the confirm step."""
    initial = flow.initial(request, membership)
    if request.method == "GET":
        for name in ("amount", "note", "description", "title", "total", "to", "currency"):
            value = request.GET.get(name)
            if value:
                initial[name] = value.strip()[:280]
        return _render_form(request, flow, membership, flow.form(request, membership, initial=initial))
    form = flow.form(request, membership, data=request.POST)
    form.is_valid()  # show what was typed, with the same key
    values = {
        name: request.POST.getlist(name) if name == "payers" else request.POST.get(name, "") for name in form.fields
    }
    values["idempotency_key"] = request.POST.get(FORM_FIELD, "")[:200] or new_key()
    return _render_form(request, flow, membership, flow.form(request, membership, initial={**initial, **values}))


def _confirm_step(request, flow: Flow, membership):
    if request.method == "GET":
        return redirect(f"messaging:{flow.name}", pk=membership.conversation_id)
    form = flow.form(request, membership, data=request.POST)
    if not form.is_valid():
        return _render_form(request, flow, membership, form, status=400)
    if not form.cleaned_data.get("idempotency_key"):
        form.cleaned_data["idempotency_key"] = new_key()
    try:
        details = flow.confirm_context(request, membership, form)
    except DomainError as error:
        _add_error(form, error)
        return _render_form(request, flow, membership, form, status=error.status)
    context = {
        **_thread(membership, request.user),
        "flow": flow,
        "hidden": form.hidden_values(),
        "submit_url": reverse(f"messaging:{flow.name}_submit", args=[membership.conversation_id]),
        "back_url": reverse(f"messaging:{flow.name}", args=[membership.conversation_id]),
        "confirm_url": reverse(f"messaging:{flow.name}_confirm", args=[membership.conversation_id]),
        **details,
    }
    return render(request, f"messaging/money/confirm_{flow.name}.html", context)


def _submit_step(request, flow: Flow, membership):
    form = flow.form(request, membership, data=request.POST)
    if not form.is_valid():
        return _render_form(request, flow, membership, form, status=400)
    key = form.cleaned_data.get("idempotency_key") or None
    try:
        result = flow.submit(request, membership, form, key)
    except DomainError as error:
        if isinstance(error, NotFound) and error.code == "conversation_not_found":
            raise Http404("No such conversation.") from None
        fresh = flow.form(request, membership, data=request.POST)
        fresh.is_valid()
        _add_error(fresh, error)
        return _render_form(request, flow, membership, fresh, status=error.status)
    messages.success(request, flow.done_message(result))
    card = result[0] if isinstance(result, list) else result
    return redirect(_card_url(card))


def _flow_urls(name: str) -> list:
    form_view = login_required(require_http_methods(["GET", "POST"])(_flow_view(name, "form")))
    confirm_view = login_required(require_http_methods(["GET", "POST"])(_flow_view(name, "confirm")))
    submit_view = login_required(require_POST(_html_idempotency_errors(idempotent(_flow_view(name, "submit")))))
    return [
        path(f"<int:pk>/{name}/", form_view, name=name),
        path(f"<int:pk>/{name}/confirm/", confirm_view, name=f"{name}_confirm"),
        path(f"<int:pk>/{name}/submit/", submit_view, name=f"{name}_submit"),
    ]


# --- Cards --------------------------------------------------------------------------------------------


def _card_or_404(user, message_id):
    try:
        return money.card_for(user, message_id)
    except NotFound:
        raise Http404("No such card.") from None


def _render_card(request, message, *, status=200):
    money.cards_decorate([message], request.user)
    return render(request, CARD_TEMPLATE, {"message": message, "standalone": True}, status=status)


@login_required
@require_GET
def card(request, message_id: int):
    """The card alone, as the viewer sees it now (thread_money.js swaps it in place on live events)."""
    return _render_card(request, _card_or_404(request.user, message_id))


def _who_may(card_message, action: str) -> str:
    """Why a member may not do ``action`` (the payments services answer 404 to non-parties)."""
    if action == "return":
        return "Only the person who received this payment can return it."
    if action == "cancel":
        return "Only the person who sent this payment can cancel it."
    if action in ("release",):
        return "Only the buyer can release this money."
    if action == "refund":
        return "Only the seller can give this money back."
    if action == "dispute":
        return "Only the buyer or the seller can open a dispute."
    if action == "request_pay" or action == "request_decline":
        return "Only the person who was asked can pay or decline this request."
    return "Only the person who asked can cancel this request."


def _card_result(request, card_message, action: str, *, request_id=None, reason="", done: str):
    """Run a card action; answer the fresh card (fetch) or redirect to it (plain form)."""
    try:
        result = money.card_action(
            request.user,
            message=card_message.pk,
            action=action,
            request_id=request_id,
            reason=reason,
            idempotency_key=request.POST.get(FORM_FIELD) or None,
        )
    except DomainError as error:
        if isinstance(error, money.CardNotFound):
            raise Http404("No such card.") from None
        message, status = error.message, error.status
        if isinstance(error, (NotFound, NotPermitted)) and error.code not in ("conversation_not_found",):
            message, status = _who_may(card_message, action), 403
        if _is_fetch(request):
            return JsonResponse(
                {"error": {"code": error.code, "message": message, "fields": error.fields}}, status=status
            )
        return render(
            request,
            "messaging/money/error.html",
            {"error": message, "thread_url": _card_url(card_message)},
            status=status,
        )
    if _is_fetch(request):
        return _render_card(request, money.card_for(request.user, card_message.pk))
    if isinstance(result, Escrow) and action == "release" and result.status == EscrowStatus.REFUNDED:
        done = "The hold had lapsed before you released it, so the money went back to you."
    messages.success(request, done)
    return redirect(_card_url(card_message))


ACTION_DONE = {
    "return": "You sent the money back.",
    "cancel": "Cancelled: the money stays in your wallet.",
    "release": "Released: the seller has the money.",
    "refund": "Refunded: the buyer has the money back.",
}


@login_required
@require_POST
@_html_idempotency_errors
@idempotent
def card_action_view(request, message_id: int, action: str):
    """Return / cancel a payment, release / refund an escrow: one click, once."""
    if action not in ACTION_DONE:
        raise Http404("No such action.")
    card_message = _card_or_404(request.user, message_id)
    return _card_result(request, card_message, action, done=ACTION_DONE[action])


class DisputeForm(forms.Form):
    reason = forms.CharField(
        label="What went wrong?",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": 1000}),
        help_text="Our team reads this and may ask both of you for details. At most 1,000 characters.",
        error_messages={"required": "Say what went wrong."},
    )


@login_required
@require_http_methods(["GET", "POST"])
@_html_idempotency_errors
@idempotent
def card_dispute(request, message_id: int):
    """Open a dispute on a payment with protection: a reason first; the auto-release stops."""
    card_message = _card_or_404(request.user, message_id)
    if card_message.kind != MessageKind.ESCROW:
        raise Http404("No such card.")
    escrow = card_message.escrow
    if request.user.pk not in (escrow.buyer_id, escrow.seller_id):
        return render(
            request,
            "messaging/money/error.html",
            {"error": _who_may(card_message, "dispute"), "thread_url": _card_url(card_message)},
            status=403,
        )
    form = DisputeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                money.card_action(
                    request.user, message=card_message.pk, action="dispute", reason=form.cleaned_data["reason"]
                )
            except DomainError as error:
                if isinstance(error, money.CardNotFound):
                    raise Http404("No such card.") from None
                form.add_error(None, error.message)
                status = error.status
            else:
                messages.success(request, "Dispute opened: the money stays held until our team decides.")
                return redirect(_card_url(card_message))
        else:
            status = 400
    membership = _membership_or_404(request.user, card_message.conversation_id)
    context = {
        **_thread(membership, request.user),
        "form": form,
        "escrow": escrow,
        "amount": format_money(escrow.amount, escrow.currency),
        "card_url": _card_url(card_message),
        "is_buyer": escrow.buyer_id == request.user.pk,
    }
    return render(request, "messaging/money/dispute.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@_html_idempotency_errors
@idempotent
def card_request_pay(request, message_id: int, request_id: int):
    """GET: the confirm step of paying a request (who, amount, fee, FX, scam hint). POST: pay, once per key."""
    card_message = _card_or_404(request.user, message_id)
    try:
        row = money.card_request(card_message, request_id)
    except NotFound:
        raise Http404("No such request.") from None
    user = request.user
    if row.payer_id != user.pk:
        return render(
            request,
            "messaging/money/error.html",
            {"error": _who_may(card_message, "request_pay"), "thread_url": _card_url(card_message)},
            status=403,
        )
    error, status = None, 200
    if request.method == "POST":
        try:
            payment = money.card_action(
                user,
                message=card_message.pk,
                action="request_pay",
                request_id=row.pk,
                idempotency_key=request.POST.get(FORM_FIELD) or None,
            )
        except DomainError as exc:
            if isinstance(exc, money.CardNotFound):
                raise Http404("No such request.") from None
            error, status = exc.message, exc.status
            row.refresh_from_db()
        else:
            messages.success(
                request, f"You paid @{row.requester.handle} {format_money(payment.amount, payment.currency)}."
            )
            return redirect(_card_url(card_message))
    display_status = effective_status(row)
    quote = None
    if display_status == "open":
        try:
            compliance.sending_allowed_check(user)
            quote = payment_quote(user, to=row.requester, amount=Money(row.amount, row.currency))
            problem = _insufficient(user, quote.send)
            if problem and error is None:
                error, status = problem.message, problem.status
        except DomainError as exc:
            error = error or exc.message
            status = status if status != 200 else exc.status
    membership = _membership_or_404(user, card_message.conversation_id)
    context = {
        **_thread(membership, user),
        "row": row,
        "display_status": display_status,
        "quote": quote,
        "recipient": row.requester,
        "new_account": money.is_new_account(row.requester),
        "first_payment": bool(quote and quote.first_to_recipient),
        "rate": _plain(quote.fx.rate) if quote else "",
        "mid_rate": _plain(quote.fx.mid_rate) if quote else "",
        "spread_percent": _plain(quote.fx.spread * 100) if quote else "",
        "delay": quote.arrives_after if quote else None,
        "error": error,
        "card_url": _card_url(card_message),
        "pay_url": reverse("messaging:card_request_pay", args=[card_message.pk, row.pk]),
    }
    return render(request, "messaging/money/request_pay.html", context, status=status)


REQUEST_ACTION_DONE = {"decline": "You declined the request.", "cancel": "You cancelled the request."}


@login_required
@require_POST
@_html_idempotency_errors
@idempotent
def card_request_action(request, message_id: int, request_id: int, action: str):
    """Decline (the payer) or cancel (the requester) a request shown on a card."""
    if action not in REQUEST_ACTION_DONE:
        raise Http404("No such action.")
    card_message = _card_or_404(request.user, message_id)
    return _card_result(
        request, card_message, f"request_{action}", request_id=request_id, done=REQUEST_ACTION_DONE[action]
    )


urlpatterns = [
    *_flow_urls("pay"),
    *_flow_urls("request"),
    *_flow_urls("escrow"),
    *_flow_urls("split"),
    path("cards/<int:message_id>/", card, name="card"),
    path("cards/<int:message_id>/dispute/", card_dispute, name="card_dispute"),
    path("cards/<int:message_id>/requests/<int:request_id>/pay/", card_request_pay, name="card_request_pay"),
    path(
        "cards/<int:message_id>/requests/<int:request_id>/<str:action>/",
        card_request_action,
        name="card_request_action",
    ),
    path("cards/<int:message_id>/<str:action>/", card_action_view, name="card_action"),
]

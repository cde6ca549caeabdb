"""Money requests and bill splits.

A ``PaymentRequest`` asks one payer for an amount; it is *open* until the payer
pays or declines it, the requester cancels it, or 30 days pass (expired). Paying
one is an ordinary ``payment_send`` of kind "request" that points back at it, and
the request is marked paid in the same transaction. If that payment is later
cancelled (safety delay) or rejected (review), ``payments.services.send`` reopens it.

A ``Split`` shares a bill: one request per participant other than the creator,
created together in one transaction, whose amounts add up exactly to the total
together with the creator's own share.

Who may do what: only the payer pays or declines; only the requester cancels or
reminds (at most once per 24 hours). Other people's requests and splits are
NotFound, never revealed. Anything on a request that is no longer open is a
``RequestNotOpen`` (409) with a message saying what happened to it.

Lock order (no deadlocks): the request row (``select_for_update``) first, then
whatever ``payment_send`` locks (compliance row, payment row, ledger accounts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts.selectors import blocked_ids
from accounts.social import BlockedError
from compliance.errors import STATUS_URL, AccountFrozen
from compliance.selectors import active_freeze
from core.db import retry_on_conflict
from core.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from core.money import Money, check_amount_minor, format_money
from notifications.models import register_kind
from notifications.services import event_publish, notify

from ..models import Payment, PaymentKind, PaymentRequest, PaymentStatus, RequestStatus, Split, SplitMethod
from .common import check_text
from .send import NOTE_MAX_LENGTH, payment_send

REQUEST_LIFETIME = timedelta(days=30)
REMIND_EVERY = timedelta(hours=24)
MAX_PAYERS = 20
TITLE_MAX_LENGTH = 280

register_kind("request.paid", "{payer} paid your request for {amount}")
register_kind("request.declined", "{payer} declined your request for {amount}")
register_kind("request.reminder", "Reminder: {sender} requested {amount}")


# --- Errors -----------------------------------------------------------------------------


class PayerInvalid(ValidationFailed):
    code = "invalid_payer"
    default_message = "Choose who to ask."


class RequestNotOpen(Conflict):
    code = "request_not_open"
    default_message = "This request is no longer open."


class RemindTooSoon(Conflict):
    code = "remind_too_soon"
    default_message = "You already sent a reminder today."


class SplitInvalid(ValidationFailed):
    code = "invalid_split"
    default_message = "The split is not valid."


# --- Helpers --------------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    """A moment in the active (the user's) time zone, e.g. "Mar 5, 2025, 14:30 CET"."""
    local = timezone.localtime(moment)
    return f"{date_format(local, 'M j, Y, H:i')} {local.tzname()}"


def _check_money(amount: object, *, field: str = "amount") -> Money:
    if not isinstance(amount, Money):
        raise ValidationFailed("Enter an amount.", fields={field: ["Required."]})
    try:
        check_amount_minor(amount.amount)  # positive and bounded (Money itself allows zero)
    except ValidationFailed as error:
        raise ValidationFailed(error.message, code=error.code, fields={field: [error.message]}) from None
    return amount


def account_not_frozen_check(user, *, doing: str = "ask for money") -> None:
    """Refuse a frozen account (AccountFrozen, saying why and how to appeal).

    Requests and splits are open to anyone else, even an account that may not send yet (tier 0).
    """
    freeze = active_freeze(user)
    if freeze is not None:
        reason = (freeze.reason or "").strip().rstrip(".")
        raise AccountFrozen(
            f"Your account is frozen, so you cannot {doing}."
            + (f" Reason: {reason}." if reason else "")
            + f" To appeal, tell us why on your account status page: {STATUS_URL}",
            fields={"appeal_url": [STATUS_URL]},
        )


def people_resolve(actor, people: object, *, field: str, myself_message: str) -> list:
    """Users from a list of users, ids or "@handles" (also one comma/space separated string).

    Refuses: an empty list, more than ``MAX_PAYERS``, the same person twice,
    unknown or inactive people (the message names every unknown handle) and
    ``actor`` themself. Keeps the given order. One query for all handles.
    """
    User = get_user_model()
    if isinstance(people, str):
        people = [part for part in people.replace(",", " ").split() if part]
    if not isinstance(people, (list, tuple)):
        raise PayerInvalid("Give a list of people.", fields={field: ["Must be a list."]})
    if not people:
        raise PayerInvalid("Add at least one person.", fields={field: ["Required."]})
    if len(people) > MAX_PAYERS:
        raise PayerInvalid(
            f"You can ask at most {MAX_PAYERS} people at once; you gave {len(people)}.",
            fields={field: [f"At most {MAX_PAYERS} people."]},
        )
    handles: list[str] = []
    ids: list[int] = []
    for item in people:
        if isinstance(item, User):
            continue
        if isinstance(item, str):
            handle = item.strip().removeprefix("@").strip().lower()
            if not handle:
                raise PayerInvalid("One of the handles is empty.", fields={field: ["Empty handle."]})
            handles.append(handle)
        elif isinstance(item, int) and not isinstance(item, bool) and 0 < item < 2**63:
            ids.append(item)
        else:
            raise PayerInvalid("Each person is an @handle.", fields={field: ["Must be @handles."]})
    found = {}
    if handles or ids:
        for user in User.objects.filter(Q(handle__in=handles) | Q(pk__in=ids)):
            found[user.handle] = found[user.pk] = user
    resolved = []
    unknown = []
    for item in people:
        if isinstance(item, User):
            user = item
        elif isinstance(item, str):
            user = found.get(item.strip().removeprefix("@").strip().lower())
        else:
            user = found.get(item)
        if user is None or not user.is_active:
            unknown.append(f"@{item.strip().removeprefix('@').strip()[:30]}" if isinstance(item, str) else f"#{item}")
            continue
        resolved.append(user)
    if unknown:
        names = ", ".join(unknown)
        raise PayerInvalid(f"There is no one called {names}.", fields={field: [f"Unknown: {names}."]})
    seen = set()
    for user in resolved:
        if user.pk == actor.pk:
            raise PayerInvalid(myself_message, fields={field: ["That is you."]})
        if user.pk in seen:
            raise PayerInvalid(f"@{user.handle} is listed twice.", fields={field: [f"@{user.handle} twice."]})
        seen.add(user.pk)
    blocked = blocked_ids(actor).all & seen
    if blocked:
        # Never say who blocked whom: the same words either way.
        names = ", ".join(f"@{u.handle}" for u in resolved if u.pk in blocked)
        raise BlockedError(f"You can't ask {names} for money.")
    return resolved


def request_summary(request: PaymentRequest) -> dict:
    """The small JSON shape used in notifications and live events."""
    return {
        "request_id": request.pk,
        "status": request.status,
        "amount": format_money(request.amount, request.currency),
        "sender": f"@{request.requester.handle}",
        "payer": f"@{request.payer.handle}",
        "note": request.note,
        "split_id": request.split_id,
        "url": reverse("payments:request_detail", args=[request.pk]),
    }


def _announce_new(request: PaymentRequest, *, kind: str = "request.new") -> None:
    data = request_summary(request)
    notify(request.payer, kind=kind, data=data)
    event_publish(user_id=request.payer_id, type="request.new", id=request.pk, data=data)


def _announce_update(request: PaymentRequest) -> None:
    data = request_summary(request)
    event_publish(user_id=request.requester_id, type="request.updated", id=request.pk, data=data)
    event_publish(user_id=request.payer_id, type="request.updated", id=request.pk, data=data)


def is_expired(request: PaymentRequest, now: datetime | None = None) -> bool:
    """Open, but past its expiry (the hourly task may not have marked it yet)."""
    return request.status == RequestStatus.EXPIRED or (
        request.status == RequestStatus.OPEN and request.expires_at <= (now or timezone.now())
    )


def effective_status(request: PaymentRequest, now: datetime | None = None) -> str:
    """The status to show: an open request past its expiry is shown as expired."""
    return RequestStatus.EXPIRED if is_expired(request, now) else request.status


def _check_open(request: PaymentRequest, now: datetime) -> None:
    if request.status == RequestStatus.OPEN and request.expires_at > now:
        return
    if is_expired(request, now):
        raise RequestNotOpen(f"This request expired on {_when(request.expires_at)}.")
    messages = {
        RequestStatus.PAID: "This request was already paid.",
        RequestStatus.DECLINED: "This request was declined.",
        RequestStatus.CANCELLED: "This request was cancelled.",
    }
    raise RequestNotOpen(messages.get(request.status, RequestNotOpen.default_message))


def _pk(value: object) -> int:
    pk = value.pk if isinstance(value, PaymentRequest) else value
    if isinstance(pk, str) and pk.isdigit():
        pk = int(pk)
    if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2**63:
        raise NotFound("That request does not exist.", code="request_not_found")
    return pk


def _locked(request: PaymentRequest | int, user) -> PaymentRequest:
    """The request row locked for update, if ``user`` is its payer or requester; else NotFound."""
    # of=("self",): lock the request row only, not the joined user rows (PostgreSQL would lock
    # them FOR UPDATE too, blocking every insert that references either person).
    locked = (
        PaymentRequest.objects.select_for_update(of=("self",))
        .select_related("requester", "payer")
        .filter(pk=_pk(request))
        .first()
    )
    if locked is None or user.pk not in (locked.requester_id, locked.payer_id):
        raise NotFound("That request does not exist.", code="request_not_found")
    return locked


def request_for_user(user, request_id: object) -> PaymentRequest:
    """A request the user made or was asked to pay, else NotFound (never reveals others')."""
    pk = _pk(request_id)
    request = PaymentRequest.objects.select_related("requester", "payer", "split").filter(pk=pk).first()
    if request is None or user.pk not in (request.requester_id, request.payer_id):
        raise NotFound("That request does not exist.", code="request_not_found")
    return request


def requests_for_user(user, *, role: str | None = None):
    """The user's requests, newest first: ``incoming`` (to pay), ``outgoing`` (asked) or both."""
    rows = PaymentRequest.objects.select_related("requester", "payer", "split")
    if role == "incoming":
        return rows.filter(payer=user)
    if role == "outgoing":
        return rows.filter(requester=user)
    return rows.filter(Q(payer=user) | Q(requester=user))


def remind_available_at(request: PaymentRequest) -> datetime | None:
    """When the requester may remind again (None: now)."""
    if request.last_reminded_at is None:
        return None
    return request.last_reminded_at + REMIND_EVERY


# --- Requests -------------------------------------------------------------------------------


def request_create(requester, *, payers: list, amount: Money, note: str = "") -> list[PaymentRequest]:
    """Ask each of ``payers`` (users or "@handles", at most 20, no duplicates, not yourself) for ``amount``.

    Guarantees: atomic (all the requests or none); each expires after 30 days;
    each payer gets a ``request.new`` notification and live event on commit.
    Refuses a frozen requester (AccountFrozen). Not idempotent by itself: the
    HTML form and the API make it so with the HTTP idempotency key.
    """
    amount = _check_money(amount)
    note = check_text(note, field="note", label="note", max_length=NOTE_MAX_LENGTH)
    people = people_resolve(requester, payers, field="from", myself_message="You cannot request money from yourself.")
    account_not_frozen_check(requester)
    expires = timezone.now() + REQUEST_LIFETIME
    with transaction.atomic():
        made = []
        for payer in people:
            request = PaymentRequest.objects.create(
                requester=requester,
                payer=payer,
                amount=amount.amount,
                currency=amount.currency,
                note=note,
                expires_at=expires,
            )
            _announce_new(request)
            made.append(request)
    return made


@retry_on_conflict
def request_pay(payer, *, request: PaymentRequest | int, idempotency_key: str | None = None) -> Payment:
    """The payer pays an open, unexpired request: a ``payment_send`` of kind "request".

    Guarantees: atomic — the payment and the request's "paid" status commit
    together; the request row is locked first, so two tabs (or two keys) can
    never pay it twice (the second gets RequestNotOpen). Idempotent by key: the
    same key again returns the first payment and moves nothing. Only the payer
    may pay (the requester gets NotPermitted, anyone else NotFound). Raises
    whatever ``payment_send`` raises (InsufficientFunds, limits, freezes...).
    The requester is notified (``request.paid``) once the money has arrived.
    """
    with transaction.atomic():
        locked = _locked(request, payer)
        if locked.payer_id != payer.pk:
            raise NotPermitted(f"Only @{locked.payer.handle} can pay this request.", code="not_the_payer")
        if idempotency_key is not None:
            earlier = Payment.objects.filter(sender=payer, idempotency_key=idempotency_key).first()
            if earlier is not None:
                # Same key: the same request replays the first payment, another one is refused.
                return _send_for(payer, locked, idempotency_key)
        _check_open(locked, timezone.now())
        payment = _send_for(payer, locked, idempotency_key)
        locked.status = RequestStatus.PAID
        locked.resolved_at = timezone.now()
        locked.save(update_fields=["status", "resolved_at"])
        if payment.status == PaymentStatus.COMPLETED:
            data = request_summary(locked) | {"payer": f"@{payer.handle}", "payment_id": payment.pk}
            notify(locked.requester, kind="request.paid", data=data)
        _announce_update(locked)
        return payment


def _send_for(payer, request: PaymentRequest, idempotency_key: str | None) -> Payment:
    return payment_send(
        payer,
        to=request.requester,
        amount=Money(request.amount, request.currency),
        note=request.note,
        kind=PaymentKind.REQUEST,
        request=request,
        idempotency_key=idempotency_key,
    )


@retry_on_conflict
def request_decline(payer, *, request: PaymentRequest | int) -> PaymentRequest:
    """The payer declines an open request; the requester is notified. Atomic."""
    with transaction.atomic():
        locked = _locked(request, payer)
        if locked.payer_id != payer.pk:
            raise NotPermitted("You made this request: cancel it instead.", code="not_the_payer")
        _check_open(locked, timezone.now())
        locked.status = RequestStatus.DECLINED
        locked.resolved_at = timezone.now()
        locked.save(update_fields=["status", "resolved_at"])
        notify(locked.requester, kind="request.declined", data=request_summary(locked))
        _announce_update(locked)
        return locked


@retry_on_conflict
def request_cancel(requester, *, request: PaymentRequest | int) -> PaymentRequest:
    """The requester withdraws an open request; the payer's lists update live. Atomic."""
    with transaction.atomic():
        locked = _locked(request, requester)
        if locked.requester_id != requester.pk:
            raise NotPermitted(
                "Only the person who asked can cancel a request: decline it instead.", code="not_the_requester"
            )
        _check_open(locked, timezone.now())
        locked.status = RequestStatus.CANCELLED
        locked.resolved_at = timezone.now()
        locked.save(update_fields=["status", "resolved_at"])
        _announce_update(locked)
        return locked


@retry_on_conflict
def request_remind(requester, *, request: PaymentRequest | int, now: datetime | None = None) -> PaymentRequest:
    """Notify the payer again about an open request, at most once per 24 hours per request.

    Too soon: RemindTooSoon (409) saying when the next reminder is possible. Atomic.
    """
    moment = now or timezone.now()
    with transaction.atomic():
        locked = _locked(request, requester)
        if locked.requester_id != requester.pk:
            raise NotPermitted("Only the person who asked can send a reminder.", code="not_the_requester")
        _check_open(locked, moment)
        again = remind_available_at(locked)
        if again is not None and again > moment:
            raise RemindTooSoon(f"You can remind again after {_when(again)}.")
        locked.last_reminded_at = moment
        locked.save(update_fields=["last_reminded_at"])
        _announce_new(locked, kind="request.reminder")
        return locked


def requests_expire_due(now: datetime | None = None) -> int:
    """Mark every open request past its expiry as expired (the hourly beat task). Returns how many."""
    moment = now or timezone.now()
    return PaymentRequest.objects.filter(status=RequestStatus.OPEN, expires_at__lte=moment).update(
        status=RequestStatus.EXPIRED, resolved_at=moment
    )


# --- Splits -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitLine:
    user: object
    amount: int  # minor units
    is_creator: bool = False


@dataclass(frozen=True)
class SplitPlan:
    """Who owes what, before anything is created (the split page's preview)."""

    creator: object
    title: str
    total: Money
    method: str
    lines: tuple[SplitLine, ...]

    @property
    def creator_share(self) -> int:
        return sum(line.amount for line in self.lines if line.is_creator)

    @property
    def others(self) -> tuple[SplitLine, ...]:
        return tuple(line for line in self.lines if not line.is_creator)


def equal_shares(total_minor: int, count: int) -> list[int]:
    """``total_minor`` in ``count`` shares that differ by at most one minor unit and sum exactly.

    Each share is ``total // count``; the leftover ``total % count`` minor units
    go one each to the first shares in order. Splits order participants as
    given with the creator LAST, so the creator takes an extra unit only when
    every other participant already has one. 100.00 / 3 -> 33.34, 33.33, 33.33.
    """
    base, leftover = divmod(total_minor, count)
    return [base + 1 if index < leftover else base for index in range(count)]


def _share_money(value: object, currency: str, label: str) -> int:
    if isinstance(value, Money):
        if value.currency != currency:
            raise SplitInvalid(
                f"The share of {label} is in {value.currency}; the split is in {currency}.",
                fields={"shares": [f"{label}: wrong currency."]},
            )
        try:
            return check_amount_minor(value.amount)
        except ValidationFailed as error:
            raise SplitInvalid(
                f"The share of {label}: {error.message}", fields={"shares": [f"{label}: {error.message}"]}
            ) from None
    if isinstance(value, bool) or not isinstance(value, str):
        raise SplitInvalid(
            f'The share of {label} must be an amount like "12.50".', fields={"shares": [f"{label}: not an amount."]}
        )
    try:
        return Money.parse(value, currency).amount
    except ValidationFailed as error:
        raise SplitInvalid(
            f"The share of {label}: {error.message}", fields={"shares": [f"{label}: {error.message}"]}
        ) from None


def split_preview(
    creator,
    *,
    title: str,
    total: Money,
    participants: list,
    method: str = SplitMethod.EQUAL,
    shares: dict | None = None,
    include_me: bool = True,
) -> SplitPlan:
    """Compute each person's share without creating anything (same rules and errors as ``split_create``).

    - equal: the total in minor units divided among the participants (plus the
      creator when ``include_me``); the leftover minor units (total mod n) go
      one each to the participants in the order given, the creator LAST.
      100.00 among bob, carol and me: bob 33.34, carol 33.33, me 33.33.
    - custom: ``shares`` maps each participant's "@handle" (and the creator's,
      when ``include_me``) to a positive amount ("12.50" or Money); together
      they must add up exactly to the total, else the error states the difference.
    """
    title = check_text(title, field="title", label="title", max_length=TITLE_MAX_LENGTH, required=True)
    total = _check_money(total, field="total")
    if method not in SplitMethod.values:
        raise SplitInvalid("Choose equal or custom shares.", fields={"method": ["Not a choice."]})
    if not isinstance(include_me, bool):
        raise SplitInvalid("include_me must be true or false.", fields={"include_me": ["Must be a boolean."]})
    people = people_resolve(
        creator,
        participants,
        field="participants",
        myself_message="You are in the split already: leave yourself out of the list.",
    )
    if method == SplitMethod.EQUAL:
        count = len(people) + (1 if include_me else 0)
        if total.amount < count:
            raise SplitInvalid(
                f"{total} cannot be split among {count} people: each share must be at least "
                f"{format_money(1, total.currency)}.",
                fields={"total": ["Too small to split."]},
            )
        amounts = equal_shares(total.amount, count)
        lines = [SplitLine(user, amount) for user, amount in zip(people, amounts, strict=False)]
        if include_me:
            lines.append(SplitLine(creator, amounts[-1], is_creator=True))
    else:
        if shares is None or not isinstance(shares, dict):
            raise SplitInvalid("Give each person's amount.", fields={"shares": ["Required for custom shares."]})
        by_handle = {}
        for key, value in shares.items():
            if not isinstance(key, str):
                raise SplitInvalid("Shares are keyed by @handle.", fields={"shares": ["Keys must be @handles."]})
            by_handle[key.strip().removeprefix("@").strip().lower()] = value
        expected = [user.handle for user in people] + ([creator.handle] if include_me else [])
        extra = sorted(set(by_handle) - set(expected))
        if extra:
            names = ", ".join(f"@{handle[:30]}" for handle in extra)
            raise SplitInvalid(f"{names} is not in the split.", fields={"shares": [f"Not in the split: {names}."]})
        missing = [handle for handle in expected if handle not in by_handle]
        if missing:
            names = ", ".join(f"@{handle}" for handle in missing)
            raise SplitInvalid(f"Give an amount for {names}.", fields={"shares": [f"Missing: {names}."]})
        lines = [
            SplitLine(user, _share_money(by_handle[user.handle], total.currency, f"@{user.handle}")) for user in people
        ]
        if include_me:
            lines.append(
                SplitLine(creator, _share_money(by_handle[creator.handle], total.currency, "yours"), is_creator=True)
            )
        given = sum(line.amount for line in lines)
        if given != total.amount:
            difference = format_money(abs(given - total.amount), total.currency)
            relation = "more" if given > total.amount else "less"
            raise SplitInvalid(
                f"The shares add up to {format_money(given, total.currency)}, {difference} {relation} than "
                f"the total of {total}. Make them add up exactly.",
                fields={"shares": [f"{difference} {relation} than the total."]},
            )
    return SplitPlan(creator=creator, title=title, total=total, method=method, lines=tuple(lines))


def split_create(
    creator,
    *,
    title: str,
    total: Money,
    participants: list,
    method: str = SplitMethod.EQUAL,
    shares: dict | None = None,
    include_me: bool = True,
) -> Split:
    """Share a bill: one request per participant other than the creator, amounts per ``split_preview``.

    Guarantees: atomic (the split and all its requests, or nothing); the
    requests' amounts plus ``creator_share`` equal the total exactly; each
    participant gets a ``request.new`` notification on commit. Refuses a frozen
    creator. The requests' note is the split's title.
    """
    plan = split_preview(
        creator,
        title=title,
        total=total,
        participants=participants,
        method=method,
        shares=shares,
        include_me=include_me,
    )
    account_not_frozen_check(creator, doing="split a bill")
    expires = timezone.now() + REQUEST_LIFETIME
    with transaction.atomic():
        split = Split.objects.create(
            creator=creator,
            title=plan.title,
            total=plan.total.amount,
            currency=plan.total.currency,
            method=plan.method,
            creator_share=plan.creator_share,
        )
        for line in plan.others:
            request = PaymentRequest.objects.create(
                requester=creator,
                payer=line.user,
                amount=line.amount,
                currency=plan.total.currency,
                note=plan.title,
                split=split,
                expires_at=expires,
            )
            _announce_new(request)
    return split


def split_for_user(user, split_id: object) -> Split:
    """A split the user created or takes part in, else NotFound."""
    try:
        pk = int(split_id) if isinstance(split_id, str) else split_id
    except ValueError:
        pk = None
    if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2**63:
        raise NotFound("That split does not exist.", code="split_not_found")
    split = Split.objects.select_related("creator").filter(pk=pk).first()
    if split is None or (
        split.creator_id != user.pk and not PaymentRequest.objects.filter(split=split, payer=user).exists()
    ):
        raise NotFound("That split does not exist.", code="split_not_found")
    return split


def split_requests(split: Split) -> list[PaymentRequest]:
    """The split's requests, in the order they were created (the participants' order)."""
    return list(split.requests.select_related("payer", "requester").order_by("id"))


def splits_for_user(user):
    """Splits the user created or takes part in, newest first."""
    involved = PaymentRequest.objects.filter(payer=user, split__isnull=False).values("split_id")
    return Split.objects.select_related("creator").filter(Q(creator=user) | Q(pk__in=involved))

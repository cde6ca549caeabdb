"""Reads of the wallet: balances per currency, the activity feed, people to pay.

Nothing here writes. Every list is bounded and fetched with its related rows
(``select_related``), so a page costs a fixed number of queries whatever its length.

The activity feed merges four tables (payments, top-ups, cash-outs, checks) into one
list, newest first, ordered by the key ``(created_at, source, id)``; the cursor
of the "Older" link is that key of the last row shown, made opaque (base64 of
JSON). Each table is asked for at most one page past the cursor, the pages
are merged in Python, and the first ``page_size`` rows are shown: one query
per table per page, however deep.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import BigIntegerField, Case, CharField, F, IntegerField, Q, QuerySet, Value, When
from django.utils.dateparse import parse_datetime

from core.money import format_money
from ledger.models import Account, AccountKind

from .models import (
    CashOut,
    CashOutSpeed,
    Check,
    CheckStatus,
    MovementStatus,
    Payment,
    PaymentKind,
    PaymentRequest,
    PaymentStatus,
    RequestStatus,
    TopUp,
)

FEED_PAGE_SIZE = 25
PEOPLE_LIMIT = 8
SEARCH_MAX_LENGTH = 60

# A payment held for review, or rejected by it, was never sent as far as its
# recipient knows (payments.services.send tells only the sender): hide it from them.
HIDDEN_FROM_RECIPIENT = (PaymentStatus.IN_REVIEW, PaymentStatus.REJECTED)


# --- Balances -------------------------------------------------------------------------


@dataclass(frozen=True)
class WalletBalance:
    """One wallet currency, in minor units."""

    currency: str
    balance: int  # posted
    available: int  # posted less outgoing holds
    pending_in: int  # incoming holds (e.g. a payment arriving after its safety delay)
    pending_out: int  # outgoing holds (arriving or in review payments, standard cash-outs)


def wallet_balances(user) -> list[WalletBalance]:
    """The user's wallet accounts, home currency first (shown at zero if never opened), then by code. One query."""
    accounts = Account.objects.filter(owner=user, kind=AccountKind.WALLET).order_by("currency")
    rows = {
        a.currency: WalletBalance(
            currency=a.currency,
            balance=a.balance,
            available=a.available,
            pending_in=a.credits_pending,
            pending_out=a.debits_pending,
        )
        for a in accounts
    }
    home = user.home_currency
    if home not in rows:
        rows[home] = WalletBalance(currency=home, balance=0, available=0, pending_in=0, pending_out=0)
    return sorted(rows.values(), key=lambda b: (b.currency != home, b.currency))


def wallet_available(user, currency: str) -> int:
    """What the user can spend in ``currency`` now (0 without an account). One query, opens nothing."""
    account = Account.objects.filter(owner=user, kind=AccountKind.WALLET, currency=currency).first()
    return account.available if account else 0


# --- Payments a user may see ----------------------------------------------------------


def open_requests_to_pay_count(user, now: datetime) -> int:
    """How many requests ``user`` has been asked to pay that are still open at ``now``. One query."""
    return PaymentRequest.objects.filter(payer=user, status=RequestStatus.OPEN, expires_at__gt=now).count()


def payments_visible_to(user) -> QuerySet[Payment]:
    """Payments the user sent, or received (less those still secret to a recipient), with both parties."""
    return Payment.objects.filter(
        Q(sender=user) | (Q(recipient=user) & ~Q(status__in=HIDDEN_FROM_RECIPIENT))
    ).select_related("sender", "recipient")


def payment_visible_to(user, payment: Payment) -> bool:
    if payment.sender_id == user.pk:
        return True
    return payment.recipient_id == user.pk and payment.status not in HIDDEN_FROM_RECIPIENT


# --- The activity feed ----------------------------------------------------------------


class Filter:
    ALL = "all"
    SENT = "sent"
    RECEIVED = "received"
    TIPS = "tips"
    REQUESTS = "requests"
    ADDED = "added"
    CASHED_OUT = "cashed_out"
    CHECKS = "checks"

    CHOICES = [
        (ALL, "All"),
        (SENT, "Sent"),
        (RECEIVED, "Received"),
        (TIPS, "Tips"),
        (REQUESTS, "Requests"),
        (ADDED, "Added"),
        (CASHED_OUT, "Cashed out"),
        (CHECKS, "Checks"),
    ]
    VALUES = frozenset(value for value, _ in CHOICES)


# The tie-break between rows of different tables created in the same microsecond.
SOURCE_RANK = {"check": 4, "payment": 3, "cashout": 2, "topup": 1}


@dataclass(frozen=True)
class ActivitySource:
    """Rows an app above payments adds to the feed (cards: card purchases), registered at ready().

    ``rows(user, *, query, after, limit)`` returns at most ``limit`` ``ActivityItem`` with
    ``source == name``, newest first, restricted by the ``Q`` ``after`` (the cursor, applied to
    a model with ``created_at`` and ``id``) and matching the search ``query`` ("" for none), in
    a fixed number of queries. ``filter`` is the feed filter that shows only these rows.
    """

    name: str
    rank: int
    filter: str
    filter_label: str
    rows: Callable[..., list]


_extra_sources: dict[str, ActivitySource] = {}


def register_activity_source(source: ActivitySource) -> None:
    """Add ``source`` to the feed; registering the same name again replaces it."""
    taken = {rank for name, rank in SOURCE_RANK.items() if name != source.name}
    if source.rank in taken or source.filter in Filter.VALUES:
        raise ValueError(f"Activity source {source.name!r}: its rank or filter is already used.")
    _extra_sources[source.name] = source
    SOURCE_RANK[source.name] = source.rank


def feed_filters() -> list[tuple[str, str]]:
    """The feed's filter choices: the built-in ones and one per registered source."""
    return Filter.CHOICES + [(s.filter, s.filter_label) for s in _extra_sources.values()]


PAYMENT_KIND_LABELS = {
    PaymentKind.PAYMENT: "Payment",
    PaymentKind.TIP: "Tip",
    PaymentKind.REQUEST: "Request",
    PaymentKind.SUBSCRIPTION: "Subscription",
}
# Statuses after which nothing moved (or it all came back): the amount is shown struck through.
VOID_PAYMENT_STATUSES = {PaymentStatus.CANCELLED, PaymentStatus.REJECTED, PaymentStatus.RETURNED}
VOID_MOVEMENT_STATUSES = {MovementStatus.DECLINED, MovementStatus.FAILED}


@dataclass(frozen=True)
class ActivityItem:
    """One row of the feed, whatever table it came from."""

    source: str  # payment | topup | cashout | a registered ActivitySource's name
    id: int
    created_at: datetime
    kind: str  # payment | tip | request | added | cashout
    kind_label: str
    direction: str  # sent | received | in | out
    counterparty: object | None  # the other person (payments) or None
    title: str  # "@bob" or "Visa •••• 4242"
    note: str
    amount: int  # signed minor units: negative leaves the wallet
    currency: str
    status: str
    status_label: str
    is_void: bool
    url: str
    detail: str = ""  # a short extra line (fee, conversion)


@dataclass(frozen=True)
class ActivityPage:
    items: list[ActivityItem]
    next_cursor: str | None
    filter: str
    query: str


def _encode_cursor(item: ActivityItem) -> str:
    raw = json.dumps([item.created_at.astimezone(UTC).isoformat(), SOURCE_RANK[item.source], item.id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, int, int] | None:
    """The position a cursor names, or None for anything malformed (the caller shows the first page)."""
    if not cursor or not isinstance(cursor, str) or len(cursor) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, rank, pk = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(moment, str) or isinstance(rank, bool) or isinstance(pk, bool):
        return None
    if not isinstance(rank, int) or not isinstance(pk, int) or rank not in SOURCE_RANK.values():
        return None
    if not 0 < pk < 2**63:
        return None
    try:
        when = parse_datetime(moment)
    except ValueError:
        return None
    if when is None or when.tzinfo is None:
        return None
    return when, rank, pk


def _after(cursor: tuple[datetime, int, int] | None, source: str) -> Q:
    """Rows strictly after the cursor in the order (created_at, source rank, id), all descending."""
    if cursor is None:
        return Q()
    moment, rank, pk = cursor
    mine = SOURCE_RANK[source]
    if mine > rank:
        return Q(created_at__lt=moment)
    if mine < rank:
        return Q(created_at__lte=moment)
    return Q(created_at__lt=moment) | Q(created_at=moment, id__lt=pk)


def _clean_query(query: str | None) -> str:
    return (query or "").strip()[:SEARCH_MAX_LENGTH]


def _payment_rows(user, *, feed_filter: str, query: str, cursor, limit: int) -> list[ActivityItem]:
    rows = payments_visible_to(user)
    if feed_filter == Filter.SENT:
        rows = rows.filter(sender=user)
    elif feed_filter == Filter.RECEIVED:
        rows = rows.filter(recipient=user)
    elif feed_filter == Filter.TIPS:
        rows = rows.filter(kind=PaymentKind.TIP)
    elif feed_filter == Filter.REQUESTS:
        rows = rows.filter(kind=PaymentKind.REQUEST)
    if query:
        person = query.removeprefix("@")
        match = Q(note__icontains=query)
        if person:
            match |= Q(sender=user) & (
                Q(recipient__handle__icontains=person) | Q(recipient__display_name__icontains=person)
            )
            match |= Q(recipient=user) & (
                Q(sender__handle__icontains=person) | Q(sender__display_name__icontains=person)
            )
        rows = rows.filter(match)
    # Ids first, then the parties of those rows only: joined before the top-N sort, PostgreSQL
    # hashed the whole users table twice for every page (the sort needs all the user's payments).
    page_ids = rows.select_related(None).filter(_after(cursor, "payment")).order_by("-created_at", "-id")
    rows = (
        Payment.objects.filter(pk__in=page_ids.values("pk")[:limit])
        .select_related("sender", "recipient")
        .order_by("-created_at", "-id")
    )
    items = []
    for p in rows:
        sent = p.sender_id == user.pk
        other = p.recipient if sent else p.sender
        if sent:
            amount, currency = -p.amount, p.currency
            detail = f"Converted to {format_money(p.received_amount, p.received_currency)}" if p.is_fx else ""
        else:
            amount, currency = p.received_amount, p.received_currency
            detail = f"Converted from {format_money(p.amount, p.currency)}" if p.is_fx else ""
        items.append(
            ActivityItem(
                source="payment",
                id=p.pk,
                created_at=p.created_at,
                kind=p.kind,
                kind_label=PAYMENT_KIND_LABELS.get(p.kind, p.get_kind_display()),
                direction="sent" if sent else "received",
                counterparty=other,
                title=f"@{other.handle}",
                note=p.note,
                amount=amount,
                currency=currency,
                status=p.status,
                status_label=p.get_status_display(),
                is_void=p.status in VOID_PAYMENT_STATUSES,
                url=f"/wallet/payments/{p.pk}/",
                detail=detail,
            )
        )
    return items


def _card_matches(query: str) -> Q:
    return Q(card__brand__icontains=query) | Q(card__last4__icontains=query)


_MOVEMENT_COLUMNS = (
    "m_id",
    "m_created_at",
    "m_amount",
    "m_fee",
    "m_currency",
    "m_status",
    "m_speed",
    "m_brand",
    "m_last4",
    "m_source",
)
_MOVEMENT_STATUS_LABELS = {
    "topup": dict(TopUp._meta.get_field("status").flatchoices),
    "cashout": dict(CashOut._meta.get_field("status").flatchoices),
}


def _movement_values(model, user, *, query: str, cursor, limit: int, source: str):
    """A page of top-ups or cash-outs as rows of ``_MOVEMENT_COLUMNS`` (the same columns for
    both, so the two pages can be one ``UNION ALL``)."""
    rows = model.objects.filter(user=user)
    if query:
        rows = rows.filter(_card_matches(query))
    has_fee = model is CashOut
    return (
        rows.filter(_after(cursor, source))
        .annotate(
            m_id=F("id"),
            m_created_at=F("created_at"),
            m_amount=F("amount"),
            m_fee=F("fee") if has_fee else Value(0, output_field=BigIntegerField()),
            m_currency=F("currency"),
            m_status=F("status"),
            m_speed=F("speed") if has_fee else Value("", output_field=CharField()),
            m_brand=F("card__brand"),
            m_last4=F("card__last4"),
            m_source=Value(source, output_field=CharField()),
        )
        .values_list(*_MOVEMENT_COLUMNS)
        .order_by("-created_at", "-id")[:limit]
    )


def _movement_item(pk, created_at, amount, fee, currency, status, speed, brand, last4, source) -> ActivityItem:
    added = source == "topup"
    return ActivityItem(
        source=source,
        id=pk,
        created_at=created_at,
        kind="added" if added else "cashout",
        kind_label="Added money" if added else "Cash out",
        direction="in" if added else "out",
        counterparty=None,
        title=f"{brand} •••• {last4}",
        note="",
        amount=amount if added else -(amount + fee),  # a cash-out took its amount plus any instant fee
        currency=currency,
        status=status,
        status_label=_MOVEMENT_STATUS_LABELS[source].get(status, status),
        is_void=status in VOID_MOVEMENT_STATUSES,
        url="",
        detail=""
        if added
        else (
            f"Instant · {format_money(fee, currency)} fee"
            if speed == CashOutSpeed.INSTANT
            else "Standard · 1–3 business days"
        ),
    )


def _topup_rows(user, *, query: str, cursor, limit: int) -> list[ActivityItem]:
    rows = _movement_values(TopUp, user, query=query, cursor=cursor, limit=limit, source="topup")
    return [_movement_item(*row) for row in rows]


def _cashout_rows(user, *, query: str, cursor, limit: int) -> list[ActivityItem]:
    rows = _movement_values(CashOut, user, query=query, cursor=cursor, limit=limit, source="cashout")
    return [_movement_item(*row) for row in rows]


def _topup_and_cashout_rows(user, *, query: str, cursor, limit: int) -> list[ActivityItem]:
    """``_topup_rows`` + ``_cashout_rows`` in one query (``UNION ALL`` of the two pages).

    Databases that cannot order and limit each side of a ``UNION`` (SQLite) get the two queries.
    """
    if not connection.features.supports_slicing_ordering_in_compound:
        return _topup_rows(user, query=query, cursor=cursor, limit=limit) + _cashout_rows(
            user, query=query, cursor=cursor, limit=limit
        )
    topups = _movement_values(TopUp, user, query=query, cursor=cursor, limit=limit, source="topup")
    cashouts = _movement_values(CashOut, user, query=query, cursor=cursor, limit=limit, source="cashout")
    return [_movement_item(*row) for row in topups.union(cashouts, all=True)]


VOID_CHECK_STATUSES = {CheckStatus.VOIDED, CheckStatus.STALE}


def _check_rows(user, *, query: str, cursor, limit: int) -> list[ActivityItem]:
    """Checks in the feed: written ones as money out for the writer (struck through once voided or
    stale: the money came back), deposited ones as money in for the depositor. Both are placed at
    the time the check was written (the feed's one cursor key); the detail line says when it settled.
    """
    rows = Check.objects.filter(Q(writer=user) | Q(deposited_by=user)).select_related("writer")
    if query:
        rows = rows.filter(Q(payee_name__icontains=query) | Q(memo__icontains=query) | Q(number=query))
    rows = rows.filter(_after(cursor, "check")).order_by("-created_at", "-id")[:limit]
    items = []
    for c in rows:
        written = c.writer_id == user.pk
        if written:
            detail = {
                CheckStatus.OUTSTANDING: f"Check {c.number} · not deposited yet",
                CheckStatus.DEPOSITED: f"Check {c.number} · deposited",
                CheckStatus.VOIDED: f"Check {c.number} · voided, the money came back",
                CheckStatus.STALE: f"Check {c.number} · stale, the money came back",
            }[c.status]
        else:
            detail = f"Check {c.number} from @{c.writer.handle}"
        items.append(
            ActivityItem(
                source="check",
                id=c.pk,
                created_at=c.created_at,
                kind="check",
                kind_label="Check written" if written else "Check deposited",
                direction="out" if written else "in",
                counterparty=None if written else c.writer,
                title=c.payee_name if written else f"@{c.writer.handle}",
                note=c.memo,
                amount=-c.amount if written else c.amount,
                currency=c.currency,
                status=c.status,
                status_label=c.get_status_display(),
                is_void=written and c.status in VOID_CHECK_STATUSES,
                url=f"/wallet/checks/{c.pk}/" if written else "/wallet/checks/",
                detail=detail,
            )
        )
    return items


def activity_feed(
    user,
    *,
    feed_filter: str = Filter.ALL,
    query: str | None = None,
    cursor: str | None = None,
    page_size: int = FEED_PAGE_SIZE,
) -> ActivityPage:
    """One page of the user's activity, newest first. An unknown filter is "all"; a bad cursor the first page.

    At most one query per table the filter includes (payments, top-ups, cash-outs, checks and each
    registered ``ActivitySource``), with the counterparties and cards joined in.
    """
    extra_filters = {s.filter: s for s in _extra_sources.values()}
    if feed_filter not in Filter.VALUES and feed_filter not in extra_filters:
        feed_filter = Filter.ALL
    query = _clean_query(query)
    position = decode_cursor(cursor)
    limit = page_size + 1
    items: list[ActivityItem] = []
    if feed_filter in extra_filters:
        source = extra_filters[feed_filter]
        items += source.rows(user, query=query, after=_after(position, source.name), limit=limit)
    else:
        if feed_filter in (Filter.ALL, Filter.CHECKS):
            items += _check_rows(user, query=query, cursor=position, limit=limit)
        if feed_filter not in (Filter.ADDED, Filter.CASHED_OUT, Filter.CHECKS):
            items += _payment_rows(user, feed_filter=feed_filter, query=query, cursor=position, limit=limit)
        if feed_filter == Filter.ALL:
            items += _topup_and_cashout_rows(user, query=query, cursor=position, limit=limit)
        if feed_filter == Filter.ADDED:
            items += _topup_rows(user, query=query, cursor=position, limit=limit)
        if feed_filter == Filter.CASHED_OUT:
            items += _cashout_rows(user, query=query, cursor=position, limit=limit)
        if feed_filter == Filter.ALL:
            for source in _extra_sources.values():
                items += source.rows(user, query=query, after=_after(position, source.name), limit=limit)
    items.sort(key=lambda i: (i.created_at, SOURCE_RANK[i.source], i.id), reverse=True)
    page = items[:page_size]
    next_cursor = _encode_cursor(page[-1]) if len(items) > page_size else None
    return ActivityPage(items=page, next_cursor=next_cursor, filter=feed_filter, query=query)


# --- People to pay ----------------------------------------------------------------------


def people_search(user, query: str | None, *, limit: int = PEOPLE_LIMIT) -> list:
    """Active people other than ``user`` whose handle starts with, or whose name contains, ``query``.

    Exact handle first, then handle prefixes, then name matches; at most ``limit``. One query.
    """
    text = _clean_query(query).removeprefix("@").strip()
    if not text:
        return []
    User = get_user_model()
    handle = text.lower()
    return list(
        User.objects.filter(is_active=True)
        .exclude(pk=user.pk)
        .filter(Q(handle__istartswith=handle) | Q(display_name__icontains=text))
        .annotate(
            rank=Case(
                When(handle=handle, then=Value(0)),
                When(handle__istartswith=handle, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("rank", "handle")[:limit]
    )

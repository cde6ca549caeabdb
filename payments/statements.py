"""Statements: what moved through a user's wallet account in a period, read from the ledger.

A statement line is a *posted* ledger ``Transfer`` that debits or credits the
user's wallet account in one currency: money in (a credit) is positive, money
out (a debit) negative. The running balance starts at the opening balance and
adds each line in posting order (transfer id). Holds (``pending`` transfers)
that still reserve money are listed apart as pending lines and never enter the
running balance: they have not moved money yet, and the posting that resolves
them appears as an ordinary line on the day it posts.

Periods are whole days in the **user's own time zone** (``User.time_zone``, UTC
if unset or unknown): a period from ``start`` to ``end`` (inclusive) covers
``[start 00:00, end + 1 day 00:00)`` local time, so a payment at 23:30 in New
York on 31 October is in October's statement even though it is 1 November in
UTC. The opening balance is the sum of every posted movement before the start
instant; the closing balance is the opening plus the period's movements.

Reads only (no ledger writes), set-based: one aggregate query for the
summary, one for the page's transfers, and at most three more that fetch the
payments, top-ups and cash-outs behind all of the page's transfers at once.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Case, Count, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import ValidationFailed
from core.money import check_currency, format_money, to_decimal
from ledger.models import Account, AccountKind, Transfer, TransferState

from .models import CashOut, CashOutSpeed, Payment, PaymentKind, PaymentStatus, TopUp
from .services.funding import card_label

MAX_PERIOD_YEARS = 5
# Dates outside this window are refused outright (and keep every datetime sum far from overflow).
MIN_YEAR, MAX_YEAR = 1970, 2999

# Human names of transfer kinds that no payment, top-up or cash-out explains.
KIND_LABELS = {
    "demo_funding": "Money added",
    "test_funding": "Money added",
    "funding": "Money added",
    "top_up": "Added money",
    "topup": "Added money",
    "cash_out": "Cash out",
    "cashout": "Cash out",
    "fee": "Fee",
    "cash_out_fee": "Instant cash-out fee",
    "interest": "Interest",
    "reversal": "Reversal",
    "return": "Returned payment",
    "staff_reversal": "Reversed by staff",
    "fx_in": "Currency conversion",
    "fx_out": "Currency conversion",
}


class InvalidPeriod(ValidationFailed):
    code = "invalid_period"
    default_message = "Choose a valid date range."


# --- Periods ------------------------------------------------------------------------------


def user_time_zone(user) -> zoneinfo.ZoneInfo:
    """The user's own time zone (UTC when unset or unknown)."""
    try:
        return zoneinfo.ZoneInfo(getattr(user, "time_zone", "") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


@dataclass(frozen=True)
class Period:
    """Whole local days ``start``..``end`` (inclusive) in ``tz``."""

    start: date
    end: date
    tz: zoneinfo.ZoneInfo

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=self.tz)

    @property
    def end_at(self) -> datetime:
        """The first instant after the period (exclusive bound)."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=self.tz)

    @property
    def is_month(self) -> bool:
        return self.start.day == 1 and self.end == _month_end(self.start)

    @property
    def previous_month(self) -> date:
        return (self.start - timedelta(days=1)).replace(day=1)

    @property
    def next_month(self) -> date:
        return self.end + timedelta(days=1) if self.is_month else _month_end(self.start) + timedelta(days=1)


def _month_end(first: date) -> date:
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def _check_year(day: date, name: str) -> date:
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise InvalidPeriod(
            f"The {name} date must be between {MIN_YEAR} and {MAX_YEAR}.", fields={name: ["Out of range."]}
        )
    return day


def month_period(user, month: str | None = None) -> Period:
    """The calendar month ``YYYY-MM`` (default: this month) in the user's time zone."""
    tz = user_time_zone(user)
    if not month:
        first = timezone.localdate(timezone.now(), tz).replace(day=1)
    else:
        text = str(month).strip()[:20]
        try:
            year_text, month_text = text.split("-")
            if not (year_text.isdigit() and month_text.isdigit() and year_text.isascii() and month_text.isascii()):
                raise ValueError
            first = date(int(year_text), int(month_text), 1)
        except ValueError:
            raise InvalidPeriod(
                f"“{text}” is not a month: use YYYY-MM, like 2026-11.", fields={"month": ["Use YYYY-MM."]}
            ) from None
    _check_year(first, "month")
    return Period(first, _month_end(first), tz)


def _parse_date(text: object, name: str) -> date:
    raw = str(text or "").strip()
    if not raw:
        raise InvalidPeriod(f"Give a {name} date (YYYY-MM-DD).", fields={name: ["Required."]})
    try:
        if len(raw) != 10 or not raw.isascii():
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        raise InvalidPeriod(
            f"“{raw[:20]}” is not a date: use YYYY-MM-DD, like 2026-11-01.", fields={name: ["Use YYYY-MM-DD."]}
        ) from None
    return _check_year(day, name)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def period_parse(user, *, start: object, end: object) -> Period:
    """A date range typed by a user: both dates required, start ≤ end, at most five years.

    Raises InvalidPeriod (400) with a message naming what is wrong; never anything else.
    """
    start_day, end_day = _parse_date(start, "start"), _parse_date(end, "end")
    if start_day > end_day:
        raise InvalidPeriod("The start date is after the end date.", fields={"end": ["Before the start."]})
    if end_day >= _add_years(start_day, MAX_PERIOD_YEARS):
        raise InvalidPeriod(
            f"A statement covers at most {MAX_PERIOD_YEARS} years; choose a shorter range.",
            fields={"end": ["Too far from the start."]},
        )
    return Period(start_day, end_day, user_time_zone(user))


# --- Statement ------------------------------------------------------------------------------


@dataclass
class StatementLine:
    transfer_id: int
    at: datetime
    amount: int  # signed minor units: + money in, - money out
    currency: str
    kind: str
    pending: bool = False
    balance: int | None = None  # running balance after this line (None for pending lines)
    description: str = ""
    counterparty: object = None  # the other person (a User) when there is one
    counterparty_label: str = ""  # "@bob", "Visa •••• 4242" or ""
    reference: str = ""
    url: str = ""
    payment_status: str = ""  # the status of the payment behind the line, if any

    @property
    def is_credit(self) -> bool:
        return self.amount > 0

    @property
    def amount_decimal(self) -> Decimal:
        return to_decimal(self.amount, self.currency)

    @property
    def balance_decimal(self) -> Decimal | None:
        return None if self.balance is None else to_decimal(self.balance, self.currency)


@dataclass
class Statement:
    user: object
    currency: str
    period: Period
    account: Account | None
    opening: int = 0
    total_in: int = 0
    total_out: int = 0  # positive: what left
    line_count: int = 0
    pending: list[StatementLine] = field(default_factory=list)

    @property
    def closing(self) -> int:
        return self.opening + self.total_in - self.total_out

    @property
    def net(self) -> int:
        return self.total_in - self.total_out

    def transfers(self) -> QuerySet[Transfer]:
        """The period's posted transfers touching the account, in posting order."""
        if self.account is None:
            return Transfer.objects.none()
        return (
            _touching(self.account)
            .filter(state=TransferState.POSTED, created_at__gte=self.period.start_at, created_at__lt=self.period.end_at)
            .order_by("id")
        )


def _touching(account: Account) -> QuerySet[Transfer]:
    return Transfer.objects.filter(Q(debit_account_id=account.pk) | Q(credit_account_id=account.pk))


def _signed_amount(account: Account):
    return Case(When(credit_account_id=account.pk, then=F("amount")), default=-F("amount"))


def statement_currencies(user) -> list[str]:
    """Currencies the user holds a wallet account in, sorted (home currency first)."""
    held = set(Account.objects.filter(owner=user, kind=AccountKind.WALLET).values_list("currency", flat=True))
    home = getattr(user, "home_currency", "") or "USD"
    return sorted(held, key=lambda c: (c != home, c))


def statement_get(user, *, currency: str, period: Period, with_pending: bool = True) -> Statement:
    """Opening and closing balances, totals in and out, and open holds for ``period``.

    Only the user's own wallet account in ``currency`` is read. A currency the
    user has never held gives an empty statement (all zeros), never an error.
    """
    currency = check_currency(currency)
    account = Account.objects.filter(owner=user, kind=AccountKind.WALLET, currency=currency).first()
    statement = Statement(user=user, currency=currency, period=period, account=account)
    if account is None:
        return statement
    start_at, end_at = period.start_at, period.end_at
    before = Q(created_at__lt=start_at)
    during = Q(created_at__gte=start_at)
    credit = Q(credit_account_id=account.pk)
    debit = Q(debit_account_id=account.pk)
    totals = (
        _touching(account)
        .filter(state=TransferState.POSTED, created_at__lt=end_at)
        .aggregate(
            in_before=Coalesce(Sum("amount", filter=before & credit), 0),
            out_before=Coalesce(Sum("amount", filter=before & debit), 0),
            in_during=Coalesce(Sum("amount", filter=during & credit), 0),
            out_during=Coalesce(Sum("amount", filter=during & debit), 0),
            lines=Count("id", filter=during),
        )
    )
    statement.opening = totals["in_before"] - totals["out_before"]
    statement.total_in = totals["in_during"]
    statement.total_out = totals["out_during"]
    statement.line_count = totals["lines"]
    if with_pending:
        statement.pending = _pending_lines(statement)
    return statement


def _pending_lines(statement: Statement) -> list[StatementLine]:
    """Holds made in the period that still reserve money, in or out of the account."""
    account = statement.account
    resolved = (
        Transfer.objects.filter(pending=OuterRef("pk"))
        .order_by()
        .values("pending")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    holds = list(
        _touching(account)
        .filter(
            state=TransferState.PENDING,
            created_at__gte=statement.period.start_at,
            created_at__lt=statement.period.end_at,
        )
        .annotate(remaining=F("amount") - Coalesce(Subquery(resolved), Value(0)))
        .filter(remaining__gt=0)
        .order_by("id")
    )
    lines = []
    for hold in holds:
        sign = 1 if hold.credit_account_id == account.pk else -1
        lines.append(
            StatementLine(
                transfer_id=hold.pk,
                at=hold.created_at,
                amount=sign * hold.remaining,
                currency=hold.currency,
                kind=hold.kind,
                pending=True,
            )
        )
    _describe(lines, {h.pk: h for h in holds}, account)
    # A payment held for review is only the sender's business until staff decide.
    return [line for line in lines if not (line.amount > 0 and line.payment_status == PaymentStatus.IN_REVIEW)]


def statement_lines(statement: Statement, *, offset: int = 0, limit: int | None = None) -> list[StatementLine]:
    """The period's lines ``offset``..``offset + limit`` with their running balances.

    The balance before the first line is the opening balance plus every earlier
    line of the period (one aggregate query when ``offset`` > 0).
    """
    if statement.account is None:
        return []
    rows = statement.transfers()
    page = list(rows[offset : offset + limit] if limit is not None else rows[offset:])
    if not page:
        return []
    balance = statement.opening
    if offset:
        earlier = rows.filter(id__lt=page[0].pk).aggregate(total=Coalesce(Sum(_signed_amount(statement.account)), 0))
        balance += earlier["total"]
    return _lines_from(page, statement.account, balance)


def statement_lines_after(statement: Statement, *, after: int = 0, limit: int = 500) -> list[StatementLine]:
    """Keyset page: up to ``limit`` lines with a transfer id greater than ``after`` (for the API)."""
    if statement.account is None:
        return []
    rows = statement.transfers()
    page = list(rows.filter(id__gt=after)[:limit])
    if not page:
        return []
    balance = statement.opening
    if after:
        earlier = rows.filter(id__lte=after).aggregate(total=Coalesce(Sum(_signed_amount(statement.account)), 0))
        balance += earlier["total"]
    return _lines_from(page, statement.account, balance)


def statement_lines_iter(statement: Statement, *, chunk_size: int = 500) -> Iterator[StatementLine]:
    """Every line of the period in order, fetched ``chunk_size`` transfers at a time (for CSV export)."""
    if statement.account is None:
        return
    rows = statement.transfers()
    balance = statement.opening
    last_id = 0
    while True:
        chunk = list(rows.filter(id__gt=last_id)[:chunk_size])
        if not chunk:
            return
        lines = _lines_from(chunk, statement.account, balance)
        yield from lines
        balance = lines[-1].balance
        last_id = chunk[-1].pk


def _lines_from(transfers: Sequence[Transfer], account: Account, balance: int) -> list[StatementLine]:
    lines = []
    for transfer in transfers:
        signed = transfer.amount if transfer.credit_account_id == account.pk else -transfer.amount
        balance += signed
        lines.append(
            StatementLine(
                transfer_id=transfer.pk,
                at=transfer.created_at,
                amount=signed,
                currency=transfer.currency,
                kind=transfer.kind,
                balance=balance,
            )
        )
    _describe(lines, {t.pk: t for t in transfers}, account)
    return lines


# --- Describing lines (bulk) ---------------------------------------------------------------------


def _meta_id(metadata: object, *keys: str) -> int | None:
    if not isinstance(metadata, dict):
        return None
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
            return value
        if isinstance(value, str) and value.isdigit() and value.isascii() and len(value) < 19:
            return int(value)
    return None


def _card_label(card) -> str:
    return card_label(card) if card is not None else "your card"


def _describe(lines: list[StatementLine], transfers: dict[int, Transfer], account: Account) -> None:
    """Fill in description, counterparty and reference for ``lines`` with three queries at most."""
    if not lines:
        return
    related: set[int] = set()
    batch_ids: set[int] = set()
    payment_ids: set[int] = set()
    top_up_ids: set[int] = set()
    cash_out_ids: set[int] = set()
    for t in transfers.values():
        related.update(i for i in (t.pk, t.pending_id, t.reverses_id) if i)
        batch_ids.add(t.batch_id)
        for bucket, keys in (
            (payment_ids, ("payment", "payment_id")),
            (top_up_ids, ("top_up", "topup", "top_up_id")),
            (cash_out_ids, ("cash_out", "cashout", "cash_out_id")),
        ):
            found = _meta_id(t.metadata, *keys)
            if found:
                bucket.add(found)

    payments = list(
        Payment.objects.filter(
            Q(pk__in=payment_ids)
            | Q(debit_transfer_id__in=related)
            | Q(credit_transfer_id__in=related)
            | Q(hold_id__in=related)
        ).select_related("sender", "recipient")
    )
    by_payment_id = {p.pk: p for p in payments}
    payment_of: dict[int, Payment] = {}
    for p in payments:
        for tid in (p.debit_transfer_id, p.credit_transfer_id, p.hold_id):
            if tid:
                payment_of.setdefault(tid, p)

    top_ups = list(TopUp.objects.filter(Q(pk__in=top_up_ids) | Q(transfer_id__in=related)).select_related("card"))
    top_up_of = {tu.transfer_id: tu for tu in top_ups if tu.transfer_id}
    top_up_by_id = {tu.pk: tu for tu in top_ups}

    cash_outs = list(
        CashOut.objects.filter(
            Q(pk__in=cash_out_ids)
            | Q(transfer_id__in=related)
            | Q(hold_id__in=related)
            | Q(transfer__batch_id__in=batch_ids)
        ).select_related("card", "transfer")
    )
    cash_out_of: dict[int, CashOut] = {}
    cash_out_by_batch: dict[int, CashOut] = {}
    for co in cash_outs:
        for tid in (co.transfer_id, co.hold_id):
            if tid:
                cash_out_of.setdefault(tid, co)
        if co.transfer_id:
            cash_out_by_batch.setdefault(co.transfer.batch_id, co)
    cash_out_by_id = {co.pk: co for co in cash_outs}

    for line in lines:
        t = transfers[line.transfer_id]
        chain = [i for i in (t.pk, t.pending_id, t.reverses_id) if i]

        payment = by_payment_id.get(_meta_id(t.metadata, "payment", "payment_id") or 0)
        payment = payment or next((payment_of[i] for i in chain if i in payment_of), None)
        if payment is not None:
            _describe_payment(line, t, payment, account)
            continue

        top_up = top_up_by_id.get(_meta_id(t.metadata, "top_up", "topup", "top_up_id") or 0)
        top_up = top_up or next((top_up_of[i] for i in chain if i in top_up_of), None)
        if top_up is not None:
            card = _card_label(top_up.card)
            line.description = f"Added money from {card}" if not t.reverses_id else f"Top-up from {card} reversed"
            line.counterparty_label = card
            line.reference = f"topup-{top_up.pk}"
            continue

        cash_out = cash_out_by_id.get(_meta_id(t.metadata, "cash_out", "cashout", "cash_out_id") or 0)
        cash_out = cash_out or next((cash_out_of[i] for i in chain if i in cash_out_of), None)
        is_fee = cash_out is None and t.batch_id in cash_out_by_batch
        cash_out = cash_out or cash_out_by_batch.get(t.batch_id)
        if cash_out is not None:
            card = _card_label(cash_out.card)
            if is_fee or "fee" in t.kind:
                line.description = "Instant cash-out fee"
            elif t.reverses_id or line.amount > 0:
                line.description = f"Cash out to {card} returned"
            else:
                speed = " (instant)" if cash_out.speed == CashOutSpeed.INSTANT else ""
                line.description = f"Cash out to {card}{speed}"
            line.counterparty_label = card
            line.reference = f"cashout-{cash_out.pk}"
            continue

        note = t.metadata.get("note") if isinstance(t.metadata, dict) else None
        label = KIND_LABELS.get(t.kind) or t.kind.replace("_", " ").replace(".", " ").strip().capitalize()
        line.description = str(note)[:200] if isinstance(note, str) and note.strip() else label
        line.reference = f"transfer-{t.pk}"


def _describe_payment(line: StatementLine, t: Transfer, payment: Payment, account: Account) -> None:
    is_sender = account.owner_id == payment.sender_id
    other = payment.recipient if is_sender else payment.sender
    who = f"@{other.handle}"
    line.counterparty = other
    line.counterparty_label = who
    line.reference = f"payment-{payment.pk}"
    line.url = f"/wallet/payments/{payment.pk}/"
    line.payment_status = payment.status
    if t.reverses_id:
        if t.kind == "staff_reversal":
            base = f"Reversed by staff: payment {'to' if is_sender else 'from'} {who}"
        else:
            base = f"Returned by {who}" if is_sender else f"Returned to {who}"
    elif payment.kind == PaymentKind.TIP:
        base = f"Tip to {who}" if is_sender else f"Tip from {who}"
    elif payment.kind == PaymentKind.REQUEST:
        base = f"Paid {who}'s request" if is_sender else f"{who} paid your request"
    elif payment.kind == PaymentKind.SUBSCRIPTION:
        base = f"Subscription to {who}" if is_sender else f"Subscription from {who}"
    else:
        base = f"Payment to {who}" if is_sender else f"Payment from {who}"
    if line.pending:
        if payment.status == PaymentStatus.IN_REVIEW:
            base += " (in review)"
        elif payment.status == PaymentStatus.ARRIVING:
            base += " (arriving)"
    parts = [base]
    if payment.note:
        parts.append(payment.note)
    if payment.is_fx and not t.reverses_id:
        if is_sender:
            rate = f" at 1 {payment.currency} = {_rate_text(payment.fx_rate)} {payment.received_currency}"
            parts.append(
                f"converted: {format_money(payment.received_amount, payment.received_currency)} arrived"
                + (rate if payment.fx_rate else "")
            )
        else:
            parts.append(f"sent as {format_money(payment.amount, payment.currency)}")
    line.description = " · ".join(parts)


def _rate_text(rate: Decimal | None) -> str:
    if rate is None:
        return ""
    normal = Decimal(rate).normalize()
    if normal.as_tuple().exponent > 0:
        normal = normal.quantize(Decimal(1))
    return f"{normal:f}"

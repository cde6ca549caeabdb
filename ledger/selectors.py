"""Reads of the ledger: balances, holds due for expiry, and the invariant checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .models import Account, Transfer, TransferState


@dataclass(frozen=True)
class Balance:
    account_id: int
    kind: str
    currency: str
    balance: int  # posted, minor units
    available: int  # posted less outgoing holds
    pending_in: int
    pending_out: int


def balances_for_owner(*, owner) -> list[Balance]:
    """The owner's accounts with their balances, wallet first, then by currency. One query."""
    accounts = Account.objects.filter(owner=owner)
    rows = [
        Balance(
            account_id=a.pk,
            kind=a.kind,
            currency=a.currency,
            balance=a.balance,
            available=a.available,
            pending_in=a.credits_pending,
            pending_out=a.debits_pending,
        )
        for a in accounts
    ]
    return sorted(rows, key=lambda b: (b.kind != "wallet", b.kind, b.currency))


def _sum_of(filter_q: Q, outer: str) -> Coalesce:
    """Sum of transfer amounts matching ``filter_q`` for the outer account, as a subquery."""
    sums = (
        Transfer.objects.filter(filter_q, **{outer: OuterRef("pk")})
        .order_by()
        .values(outer)
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(Subquery(sums), Value(0))


def _resolved_amount() -> Coalesce:
    sums = (
        Transfer.objects.filter(pending=OuterRef("pk"))
        .order_by()
        .values("pending")
        .annotate(t=Sum("amount"))
        .values("t")
    )
    return Coalesce(Subquery(sums), Value(0))


def holds_due_for_expiry(*, now: datetime, limit: int = 1000) -> list[int]:
    """Ids of holds past their timeout that still reserve money."""
    return list(
        Transfer.objects.filter(state=TransferState.PENDING, timeout_at__lte=now)
        .annotate(resolved=_resolved_amount())
        .filter(resolved__lt=F("amount"))
        .order_by("timeout_at")
        .values_list("pk", flat=True)[:limit]
    )


def open_holds(*, account: Account):
    """Holds still reserving money out of ``account``, with ``remaining`` annotated."""
    return (
        Transfer.objects.filter(debit_account=account, state=TransferState.PENDING)
        .annotate(remaining=F("amount") - _resolved_amount())
        .filter(remaining__gt=0)
        .order_by("-pk")
    )


@dataclass(frozen=True)
class LedgerReport:
    accounts: int
    transfers: int
    currencies: list[str]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_verify() -> LedgerReport:
    """Check the invariants of DESIGN §3 with a few set-based queries.

    1. For each currency, the sum of all debits equals the sum of all credits
       (posted and pending alike).
    2. Every account's four counters equal the sums of its transfers.
    3. No must-not-go-negative account is below zero.
    4. Every transfer's currency is the currency of both of its accounts, and
       no hold is resolved for more than its amount.
    """
    problems: list[str] = []

    totals = (
        Account.objects.order_by()
        .values("currency")
        .annotate(
            dp=Sum("debits_posted"), cp=Sum("credits_posted"), dpe=Sum("debits_pending"), cpe=Sum("credits_pending")
        )
    )
    currencies = []
    for row in totals:
        currencies.append(row["currency"])
        if row["dp"] != row["cp"] or row["dpe"] != row["cpe"]:
            problems.append(
                f"currency {row['currency']}: debits {row['dp']} != credits {row['cp']} posted, "
                f"or {row['dpe']} != {row['cpe']} pending"
            )

    resolved = Q(pending__isnull=False)
    mismatched = (
        Account.objects.annotate(
            x_dp=_sum_of(Q(state=TransferState.POSTED), "debit_account"),
            x_cp=_sum_of(Q(state=TransferState.POSTED), "credit_account"),
            x_dpe=_sum_of(Q(state=TransferState.PENDING), "debit_account") - _sum_of(resolved, "debit_account"),
            x_cpe=_sum_of(Q(state=TransferState.PENDING), "credit_account") - _sum_of(resolved, "credit_account"),
        )
        .exclude(
            debits_posted=F("x_dp"), credits_posted=F("x_cp"), debits_pending=F("x_dpe"), credits_pending=F("x_cpe")
        )
        .order_by("pk")
    )
    for a in mismatched[:50]:
        problems.append(
            f"account #{a.pk} ({a.kind} {a.currency}): counters "
            f"dp={a.debits_posted} cp={a.credits_posted} dpe={a.debits_pending} cpe={a.credits_pending} "
            f"but transfers say dp={a.x_dp} cp={a.x_cp} dpe={a.x_dpe} cpe={a.x_cpe}"
        )

    negative = Account.objects.filter(
        must_not_go_negative=True, credits_posted__lt=F("debits_posted") + F("debits_pending")
    ).order_by("pk")
    for a in negative[:50]:
        problems.append(f"account #{a.pk} ({a.kind} {a.currency}) is below zero: available {a.available}")

    wrong_currency = Transfer.objects.filter(
        ~Q(currency=F("debit_account__currency")) | ~Q(currency=F("credit_account__currency"))
    ).values_list("pk", flat=True)[:50]
    for pk in wrong_currency:
        problems.append(f"transfer #{pk}: currency differs from one of its accounts")

    over_resolved = (
        Transfer.objects.filter(state=TransferState.PENDING)
        .annotate(resolved=_resolved_amount())
        .filter(resolved__gt=F("amount"))
        .values_list("pk", flat=True)[:50]
    )
    for pk in over_resolved:
        problems.append(f"hold #{pk}: resolved for more than its amount")

    return LedgerReport(
        accounts=Account.objects.count(),
        transfers=Transfer.objects.count(),
        currencies=sorted(currencies),
        problems=problems,
    )

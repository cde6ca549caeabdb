"""Schedule maths: the annuity payment, the instalment table and interest to a day.

Everything is in integer minor units with Decimal rates; the roundings are:

- The monthly rate is r = APR / 12 (exact Decimal, 28+ significant digits).
- The payment is P·r / (1 − (1 + r)^−n) (P / n when r = 0), rounded to minor units
  **ROUND_HALF_UP**.
- Each month's interest is (balance × r) rounded to minor units ROUND_HALF_UP; the principal
  part is payment − interest. The **last instalment absorbs the rounding**: its principal part is
  the whole remaining balance, so the principal parts sum to P exactly and the schedule sums
  exactly to principal + finance charge (the finance charge being the sum of the interest parts).
- Interest to a day (early repayment, payoff, the first period after one): simple interest,
  actual/365 — balance × APR × days / 365, rounded ROUND_HALF_UP, days counted from the date
  interest is settled to (exclusive) up to the day of payment (inclusive), i.e. ``(day − from).days``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

DAYS_IN_YEAR = Decimal(365)


@dataclass(frozen=True)
class Row:
    number: int
    due_date: date
    amount: int
    principal: int
    interest: int
    balance_after: int


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def monthly_rate(apr: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 34
        return Decimal(apr) / 12


def annuity_payment(principal: int, apr: Decimal, months: int) -> int:
    """P·r / (1 − (1 + r)^−n) with r = APR/12, in minor units rounded ROUND_HALF_UP."""
    if months < 1:
        raise ValueError("A schedule has at least one month.")
    with localcontext() as ctx:
        ctx.prec = 34
        r = monthly_rate(apr)
        if r == 0:
            return _round(Decimal(principal) / months)
        return _round(Decimal(principal) * r / (1 - (1 + r) ** -months))


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (Jan 31 + 1 month = Feb 28/29)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def interest_for_days(balance: int, apr: Decimal, days: int) -> int:
    """Simple interest, actual/365, ROUND_HALF_UP; 0 for no days."""
    if days <= 0 or balance <= 0:
        return 0
    with localcontext() as ctx:
        ctx.prec = 34
        return _round(Decimal(balance) * Decimal(apr) * days / DAYS_IN_YEAR)


def amortise(
    principal: int,
    apr: Decimal,
    months: int,
    *,
    first_due: date,
    first_period_days: int | None = None,
    number_from: int = 1,
) -> list[Row]:
    """The instalment table of ``principal`` over ``months`` monthly instalments from ``first_due``.

    ``first_period_days``: when the first period is not a whole month (after an early repayment),
    its interest is ``interest_for_days`` of that many days instead of balance × r.
    Guarantees: sum(principal parts) == principal; every part ≥ 0; amount == principal + interest.
    """
    payment = annuity_payment(principal, apr, months)
    r = monthly_rate(apr)
    rows: list[Row] = []
    balance = principal
    for index in range(months):
        if index == 0 and first_period_days is not None:
            interest = interest_for_days(balance, apr, first_period_days)
        else:
            with localcontext() as ctx:
                ctx.prec = 34
                interest = _round(Decimal(balance) * r)
        # The last instalment absorbs every rounding: its principal part is the whole remaining balance.
        part = balance if index == months - 1 else min(max(payment - interest, 0), balance)
        balance -= part
        rows.append(
            Row(
                number=number_from + index,
                due_date=add_months(first_due, index),
                amount=part + interest,
                principal=part,
                interest=interest,
                balance_after=balance,
            )
        )
    return rows


@dataclass(frozen=True)
class Disclosure:
    """What the borrower sees before accepting (Truth-in-Lending style)."""

    principal: int
    currency: str
    apr: Decimal
    term_months: int
    monthly_payment: int
    finance_charge: int
    total_of_payments: int
    late_fee: int
    rows: list[Row]

    @property
    def apr_percent(self) -> str:
        return f"{(self.apr * 100).quantize(Decimal('0.01'))}%"


def disclosure_build(
    *, principal: int, currency: str, apr: Decimal, term_months: int, late_fee: int, first_due: date
) -> Disclosure:
    rows = amortise(principal, apr, term_months, first_due=first_due)
    finance_charge = sum(row.interest for row in rows)
    return Disclosure(
        principal=principal,
        currency=currency,
        apr=Decimal(apr),
        term_months=term_months,
        monthly_payment=rows[0].amount if len(rows) == 1 else annuity_payment(principal, apr, term_months),
        finance_charge=finance_charge,
        total_of_payments=principal + finance_charge,
        late_fee=late_fee,
        rows=rows,
    )

"""Reads of lending: the eligibility score and offer, a borrower's loans, the loan book.

The eligibility score (0–100) is transparent — the offer page shows every line of it:

- **KYC tier ≥ 1** is required (compliance.selectors); without it there is no offer.
- **Account age** (0–30 points): 30 days → 10, 180 days → 20, 365 days → 30.
- **Inflows** (0–50 points): money that arrived in the wallet in the loan's currency over the last
  180 days from anyone but the borrower's own accounts (so not savings moves nor a loan):
  50.00 → 10, 250.00 → 20, 1,000.00 → 35, 5,000.00 → 50 (thresholds in minor units of the currency).
- **Repayment record** (0 or 20): 20 unless a late fee was charged in the last 365 days. A loan with
  a late instalment still open, or a written-off loan, means no offer at all.
- One active loan per currency at a time: with one, there is no new offer.

Offer limit = product max amount × score / 100, floored to whole major units; eligible only when
the score is at least 30 and the limit reaches the product's minimum amount.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Sum
from django.utils import timezone

from compliance.selectors import kyc_profile_for, tier_of
from core.money import minor_units
from ledger.models import AccountKind, Transfer, TransferState

from .models import Instalment, InstalmentStatus, Loan, LoanProduct, LoanStatus

MIN_SCORE = 30
INFLOW_WINDOW = timedelta(days=180)
AGE_POINTS = [(365, 30), (180, 20), (30, 10)]
INFLOW_POINTS = [(5_000_00, 50), (1_000_00, 35), (250_00, 20), (50_00, 10)]
CLEAN_RECORD_POINTS = 20


@dataclass
class ScoreLine:
    label: str
    points: int
    max_points: int
    detail: str


@dataclass
class Eligibility:
    currency: str
    product: LoanProduct | None
    score: int = 0
    lines: list[ScoreLine] = field(default_factory=list)
    eligible: bool = False
    reasons: list[str] = field(default_factory=list)
    limit: int = 0


def product_for(currency: str) -> LoanProduct | None:
    return LoanProduct.objects.filter(currency=currency, is_active=True).first()


def _points(value: int, table: list[tuple[int, int]]) -> int:
    return next((points for threshold, points in table if value >= threshold), 0)


def wallet_inflows(user, currency: str, *, now=None) -> int:
    """Posted money into the user's wallet in ``currency`` over INFLOW_WINDOW, not from their own accounts."""
    moment = now or timezone.now()
    total = (
        Transfer.objects.filter(
            credit_account__owner=user,
            credit_account__kind=AccountKind.WALLET,
            currency=currency,
            state=TransferState.POSTED,
            created_at__gte=moment - INFLOW_WINDOW,
        )
        .exclude(debit_account__owner=user)
        .aggregate(total=Sum("amount"))["total"]
    )
    return total or 0


def eligibility(user, *, currency: str, now=None) -> Eligibility:
    """The score, each of its lines, the reasons for no offer, and the offer limit."""
    moment = now or timezone.now()
    product = product_for(currency)
    result = Eligibility(currency=currency, product=product)
    if product is None:
        result.reasons.append(f"Loans in {currency} are not offered yet.")
        return result
    tier = tier_of(kyc_profile_for(user))
    if tier < 1:
        result.reasons.append("Verify your details (KYC tier 1) to get a loan offer.")
    age_days = (moment - user.date_joined).days
    age = _points(age_days, AGE_POINTS)
    result.lines.append(ScoreLine("Account age", age, 30, f"{age_days} days"))
    inflows = wallet_inflows(user, currency, now=moment)
    inflow_points = _points(inflows, INFLOW_POINTS)
    digits = minor_units(currency)
    result.lines.append(
        ScoreLine(
            "Money received (last 180 days)",
            inflow_points,
            50,
            f"{inflows / 10**digits:,.{digits}f} {currency}",
        )
    )
    loans = Loan.objects.filter(user=user)
    written_off = loans.filter(status=LoanStatus.WRITTEN_OFF).exists()
    if written_off:
        result.reasons.append("A previous loan was written off.")
    if loans.filter(instalments__status=InstalmentStatus.LATE).exists():
        result.reasons.append("An instalment is overdue: pay it first.")
    recent_fee = loans.filter(
        instalments__late_fee_charged__gt=0, instalments__due_date__gte=moment.date() - timedelta(days=365)
    ).exists()
    clean = 0 if recent_fee or written_off else CLEAN_RECORD_POINTS
    record = "a loan written off" if written_off else "late fee in the last year" if recent_fee else "no late payments"
    result.lines.append(ScoreLine("Repayment record", clean, 20, record))
    if loans.filter(status=LoanStatus.ACTIVE, currency=currency).exists():
        result.reasons.append(f"You already have an active {currency} loan.")
    result.score = age + inflow_points + clean
    if result.score < MIN_SCORE:
        result.reasons.append(f"Your score is {result.score}; offers start at {MIN_SCORE}.")
    unit = 10**digits
    limit = product.max_amount * result.score // 100 // unit * unit
    if limit < product.min_amount and result.score >= MIN_SCORE:
        result.reasons.append("The offer would be below the smallest loan.")
    result.eligible = not result.reasons
    result.limit = limit if result.eligible else 0
    return result


def loans_of(user):
    return Loan.objects.filter(user=user).select_related("product").order_by("-disbursed_at", "-id")


def loan_for_user(user, pk) -> Loan | None:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return Loan.objects.filter(user=user, pk=pk).select_related("product", "ledger_account").first()


def next_instalment(loan: Loan):
    return (
        loan.instalments.filter(status__in=[InstalmentStatus.SCHEDULED, InstalmentStatus.LATE])
        .order_by("due_date", "number")
        .first()
    )


def instalments_due(*, today: date):
    """Open instalments of active loans due on or before ``today`` (autopay's work list)."""
    return (
        Instalment.objects.filter(
            loan__status=LoanStatus.ACTIVE,
            status__in=[InstalmentStatus.SCHEDULED, InstalmentStatus.LATE],
            due_date__lte=today,
        )
        .order_by("due_date", "id")
        .values_list("id", flat=True)
    )

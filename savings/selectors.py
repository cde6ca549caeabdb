"""Savings reads: accounts with balances, the rate in force, interest this month / year, the chart and
the annual summary. Each is a fixed number of queries whatever the number of days or goals.

Interest figures are Decimals in minor units (sub-minor precision, as accrued). Shown to people they
are floored to minor units (what the payout would pay), never rounded up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, Decimal

from django.db.models import Avg, Count, Sum
from django.db.models.functions import TruncMonth

from core.money import check_currency

from .models import InterestAccrual, InterestPayout, SavingsAccount, SavingsGoal, SavingsProduct, SavingsRate
from .services import today_utc

ZERO = Decimal(0)
MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def floor_minor(value: Decimal | None) -> int:
    """Sub-minor interest as whole minor units, floored (the payout floors too)."""
    return int((value or ZERO).to_integral_value(rounding=ROUND_FLOOR))


def account_balance(account: SavingsAccount) -> int:
    """The posted balance in minor units (credits − debits of the ledger account)."""
    ledger = account.ledger_account
    return ledger.credits_posted - ledger.debits_posted


def savings_accounts_for(user) -> list[SavingsAccount]:
    """The user's savings accounts with their ledger accounts, by currency. One query."""
    return list(SavingsAccount.objects.select_related("ledger_account").filter(user=user).order_by("currency"))


def savings_account_for(user, currency: str) -> SavingsAccount | None:
    return (
        SavingsAccount.objects.select_related("ledger_account")
        .filter(user=user, currency=check_currency(currency))
        .first()
    )


def rate_in_force(product: SavingsProduct | int, day: date | None = None) -> SavingsRate | None:
    """The rate with the latest ``effective_from`` on or before ``day`` (default today, UTC)."""
    product_id = product.pk if isinstance(product, SavingsProduct) else product
    return (
        SavingsRate.objects.filter(product_id=product_id, effective_from__lte=day or today_utc())
        .order_by("-effective_from")
        .first()
    )


def current_apy(currency: str, day: date | None = None) -> Decimal | None:
    """The APY in force for ``currency`` today (a fraction, 0.045 = 4.5%), or None without a product."""
    rate = (
        SavingsRate.objects.filter(product__currency=check_currency(currency), effective_from__lte=day or today_utc())
        .order_by("-effective_from")
        .first()
    )
    return rate.apy if rate else None


def rates_for(currency: str) -> list[SavingsRate]:
    """The rate history of a currency's product, newest first (future rates included)."""
    return list(
        SavingsRate.objects.select_related("product")
        .filter(product__currency=check_currency(currency))
        .order_by("-effective_from")
    )


def upcoming_rate(currency: str, day: date | None = None) -> SavingsRate | None:
    """The next rate that starts after ``day`` (announced in advance), if any."""
    return (
        SavingsRate.objects.filter(product__currency=check_currency(currency), effective_from__gt=day or today_utc())
        .order_by("effective_from")
        .first()
    )


def apy_percent(apy: Decimal | None) -> str:
    """0.045 -> "4.50"; at least two decimals, up to four."""
    if apy is None:
        return ""
    value = (apy * 100).quantize(Decimal("0.0001")).normalize()
    text = f"{value:f}"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


@dataclass(frozen=True)
class MonthBar:
    month: date
    label: str
    earned: Decimal  # accrued in the month, minor units (sub-minor precision)
    x: int = 0
    y: int = 0
    height: int = 0
    width: int = 0

    @property
    def earned_minor(self) -> int:
        return floor_minor(self.earned)


@dataclass
class SavingsSummary:
    account: SavingsAccount
    balance: int
    apy: Decimal | None
    accrued_this_month: Decimal
    earned_this_year: Decimal
    paid_this_year: int
    accrued_through: date | None
    chart: list[MonthBar] = field(default_factory=list)
    chart_max: Decimal = ZERO

    @property
    def accrued_this_month_minor(self) -> int:
        return floor_minor(self.accrued_this_month)

    @property
    def earned_this_year_minor(self) -> int:
        return floor_minor(self.earned_this_year)


def _month_add(month: date, delta: int) -> date:
    index = month.year * 12 + month.month - 1 + delta
    return date(index // 12, index % 12 + 1, 1)


def _as_date(value) -> date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value


CHART_WIDTH, CHART_HEIGHT, CHART_GAP = 360, 120, 6


def interest_by_month(account: SavingsAccount, *, start: date, end: date) -> dict[date, dict]:
    """Accruals of the account grouped by month for days in [start, end): {month: {earned, avg_balance, days}}.

    One query (TruncMonth works on SQLite and PostgreSQL).
    """
    rows = (
        InterestAccrual.objects.filter(account=account, day__gte=start, day__lt=end)
        .annotate(month=TruncMonth("day"))
        .values("month")
        .annotate(earned=Sum("amount"), avg_balance=Avg("balance"), days=Count("id"))
        .order_by("month")
    )
    return {
        _as_date(row["month"]): {
            "earned": row["earned"] or ZERO,
            "avg_balance": row["avg_balance"],
            "days": row["days"],
        }
        for row in rows
    }


def savings_summary(account: SavingsAccount, *, today: date | None = None, chart_months: int = 12) -> SavingsSummary:
    """Balance, APY, interest accrued this month and this year, and the last ``chart_months`` months
    of interest earned (bars laid out for the server-side SVG). A fixed number of queries."""
    today = today or today_utc()
    this_month = today.replace(day=1)
    first = _month_add(this_month, -(chart_months - 1))
    year_start = date(today.year, 1, 1)
    start = min(first, year_start)
    by_month = interest_by_month(account, start=start, end=_month_add(this_month, 1))
    paid = InterestPayout.objects.filter(account=account, month__gte=year_start, month__lte=this_month).aggregate(
        total=Sum("amount")
    )["total"]
    earned_year = sum((v["earned"] for m, v in by_month.items() if m >= year_start), ZERO)
    months = [_month_add(first, i) for i in range(chart_months)]
    earned = [by_month.get(m, {}).get("earned", ZERO) for m in months]
    top = max(earned, default=ZERO)
    slot = CHART_WIDTH // chart_months
    bars = []
    for i, (month, value) in enumerate(zip(months, earned, strict=True)):
        height = int(value * (CHART_HEIGHT - 20) / top) if top > 0 else 0
        if value > 0 and height < 2:
            height = 2
        bars.append(
            MonthBar(
                month=month,
                label=MONTH_NAMES[month.month - 1],
                earned=value,
                x=i * slot + CHART_GAP // 2,
                y=CHART_HEIGHT - height,
                height=height,
                width=slot - CHART_GAP,
            )
        )
    return SavingsSummary(
        account=account,
        balance=account_balance(account),
        apy=current_apy(account.currency, today),
        accrued_this_month=by_month.get(this_month, {}).get("earned", ZERO),
        earned_this_year=earned_year,
        paid_this_year=paid or 0,
        accrued_through=account.accrued_through,
        chart=bars,
        chart_max=top,
    )


@dataclass(frozen=True)
class AnnualRow:
    month: date
    label: str
    paid: int | None  # the payout for the month, minor units (None: not paid yet)
    earned: Decimal
    average_balance: int | None  # mean end-of-day balance over the accrued days, floored
    days: int

    @property
    def earned_minor(self) -> int:
        return floor_minor(self.earned)


@dataclass(frozen=True)
class AnnualSummary:
    account: SavingsAccount
    year: int
    rows: list[AnnualRow]
    total_paid: int
    total_earned: Decimal

    @property
    def total_earned_minor(self) -> int:
        return floor_minor(self.total_earned)


def annual_summary(account: SavingsAccount, year: int) -> AnnualSummary:
    """Per month of ``year``: interest paid (the payout for that month), interest earned (accrued) and the
    average end-of-day balance over the days accrued; totals. Two queries."""
    start, end = date(year, 1, 1), date(year + 1, 1, 1)
    by_month = interest_by_month(account, start=start, end=end)
    payouts = {
        p.month: p.amount
        for p in InterestPayout.objects.filter(account=account, month__gte=start, month__lt=end).only("month", "amount")
    }
    rows = []
    for index in range(12):
        month = date(year, index + 1, 1)
        data = by_month.get(month, {})
        avg = data.get("avg_balance")
        rows.append(
            AnnualRow(
                month=month,
                label=month.strftime("%B"),
                paid=payouts.get(month),
                earned=data.get("earned", ZERO),
                average_balance=None if avg is None else int(Decimal(str(avg)).to_integral_value(ROUND_FLOOR)),
                days=data.get("days", 0),
            )
        )
    return AnnualSummary(
        account=account,
        year=year,
        rows=rows,
        total_paid=sum(payouts.values()),
        total_earned=sum((r.earned for r in rows), ZERO),
    )


def interest_years(account: SavingsAccount) -> list[int]:
    """Years with any accrual or payout, newest first (plus the current year)."""
    years = {d.year for d in InterestAccrual.objects.filter(account=account).dates("day", "year")}
    years |= {d.year for d in InterestPayout.objects.filter(account=account).dates("month", "year")}
    years.add(today_utc().year)
    return sorted(years, reverse=True)


@dataclass(frozen=True)
class GoalProgress:
    goal: SavingsGoal
    saved: int  # min(balance, target)
    percent: int  # 0..100, floored
    remaining: int


def goals_with_progress(account: SavingsAccount) -> list[GoalProgress]:
    """The account's goals with progress against its balance. One query."""
    balance = max(account_balance(account), 0)
    result = []
    for goal in SavingsGoal.objects.filter(account=account).order_by("target_date", "id"):
        saved = min(balance, goal.target)
        result.append(
            GoalProgress(goal=goal, saved=saved, percent=saved * 100 // goal.target, remaining=goal.target - saved)
        )
    return result


def accruals_for(account: SavingsAccount):
    """The account's accruals, newest day first (a queryset, for pagination)."""
    return InterestAccrual.objects.filter(account=account).order_by("-day")


def payouts_for(account: SavingsAccount):
    return InterestPayout.objects.filter(account=account).order_by("-month")

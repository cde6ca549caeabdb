"""The interest engine: daily accrual and the monthly payout, set-based (issue 6, points 3–4).

Accrual
    The interest for day D (a UTC calendar day) is::

        amount = end-of-day balance × daily rate
        daily rate = (1 + APY) ** (1/365) − 1        (every year, leap or not: 365)

    using the APY in force on D (the ``SavingsRate`` of the account's currency with the latest
    ``effective_from`` ≤ D). The daily rate is computed in ``Decimal`` with 50 significant digits
    and **rounded half-even to 20 decimal places** (the scale of ``InterestAccrual.daily_rate``);
    that stored rate is the one multiplied, so every row can be re-checked from its own columns.
    The product is exact and then **rounded half-up to 12 decimal places** (minor units with 12
    decimals: ``ACCRUAL_PLACES``). A negative balance (impossible for a savings account) earns 0.

    The end-of-day balance of every account comes from one SQL statement: the account's posted
    balance now (``credits_posted − debits_posted``) minus the net of the posted transfers created
    at or after the end of D (``ledger.Transfer.created_at`` ≥ D+1 00:00 UTC). A day is accrued
    only once it ended ``GRACE`` ago, so a transfer created just before midnight has committed.

    One day over every account is one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` plus one
    ``UPDATE`` of ``SavingsAccount.accrued_through`` (PostgreSQL), in one transaction under an
    advisory lock (concurrent runs queue, then find nothing left to do). On SQLite (development
    and the default test run) the same SELECT feeds a ``bulk_create(ignore_conflicts=True)`` and
    the product is computed in Python with the same roundings. Idempotent per (account, day) by
    the unique constraint; missed days are caught up day by day, oldest first.

Payout
    For month M, on or after the 1st of M+1, for every account accrued through M's last day::

        accrued = Σ M's accruals + the ``carried`` of the account's previous payout
        amount  = floor(accrued)              (minor units; the customer never gets a fraction)
        carried = accrued − amount            (0 ≤ carried < 1, carried into M+1's payout)

    Accounts are paid in chunks of at most 100 (a ledger batch's limit) per currency. Each chunk
    is one transaction: claim the chunk's ``InterestPayout`` rows (unique per (account, month);
    ``ON CONFLICT DO NOTHING`` so a concurrent run claims nothing twice), post ONE ledger batch
    ``interest_expense(currency) → each savings account`` through ``ledger.services.transfers_post``
    with the idempotency key ``savings-interest:<currency>:<YYYY-MM>:<first id>-<last id>``, and
    link each payout row to its transfer. A zero amount gets a row (it records the carry) and no
    transfer.
"""

from __future__ import annotations

import datetime as dt
import decimal
import zlib
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import Min, Q, Sum
from django.utils import timezone

from core.db import retry_on_conflict
from core.errors import Conflict, ValidationFailed
from ledger.models import AccountKind, TransferState
from ledger.services import TransferSpec, system_account, transfers_post

from .models import ACCRUAL_PLACES, InterestAccrual, InterestPayout, SavingsAccount, SavingsRate

UTC = dt.UTC
DAYS_PER_YEAR = 365
RATE_PLACES = 20  # InterestAccrual.daily_rate's decimal places
RATE_QUANTUM = Decimal(1).scaleb(-RATE_PLACES)
AMOUNT_QUANTUM = Decimal(1).scaleb(-ACCRUAL_PLACES)
# A day is accrued once it ended this long ago (lets transfers stamped just before midnight commit).
GRACE = dt.timedelta(minutes=10)
# At most this many days per run; the hourly task continues where the last run stopped.
MAX_DAYS_PER_RUN = 62
PAYOUT_CHUNK = 100  # ledger.services: a batch holds at most 100 transfers
TRANSFER_KIND = "savings_interest"
_LOCK_ACCRUAL = zlib.crc32(b"savings.accrual")
_CONTEXT = decimal.Context(prec=50)


class MonthNotOver(Conflict):
    code = "savings_month_not_over"
    default_message = "That month is not over (or its last day not accrued yet): its interest cannot be paid."


@dataclass
class AccrualRun:
    days: list[dt.date] = field(default_factory=list)
    rows: int = 0  # accrual rows inserted


@dataclass
class PayoutRun:
    month: dt.date
    payouts: int = 0  # payout rows created (including zero amounts)
    transfers: int = 0
    paid: dict[str, int] = field(default_factory=dict)  # currency → minor units paid for the month (all runs)


# --- Rates -----------------------------------------------------------------------------


def daily_rate(apy: Decimal) -> Decimal:
    """(1 + APY)^(1/365) − 1, computed with 50 digits, rounded half-even to 20 decimal places."""
    apy = Decimal(apy)
    if apy == 0:
        return Decimal(0).quantize(RATE_QUANTUM)
    one = Decimal(1)
    with decimal.localcontext(_CONTEXT):
        rate = (one + apy) ** (one / DAYS_PER_YEAR) - one
        return rate.quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN)


def accrual_amount(balance: int, rate: Decimal) -> Decimal:
    """balance × rate (exact), rounded half-up to 12 decimal places; a negative balance earns 0."""
    with decimal.localcontext(_CONTEXT):
        return (Decimal(max(balance, 0)) * rate).quantize(AMOUNT_QUANTUM, rounding=ROUND_HALF_UP)


def daily_rates_on(day: dt.date) -> dict[str, Decimal]:
    """currency → the daily rate in force on ``day`` (currencies with no rate yet are absent)."""
    rates: dict[str, Decimal] = {}
    rows = (
        SavingsRate.objects.filter(effective_from__lte=day)
        .order_by("product__currency", "-effective_from")
        .values_list("product__currency", "apy")
    )
    for currency, apy in rows:
        rates.setdefault(currency, daily_rate(apy))
    return rates


# --- Days ------------------------------------------------------------------------------


def day_end(day: dt.date) -> dt.datetime:
    """The first instant after ``day`` (UTC)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=UTC)


def last_complete_day(now: dt.datetime | None = None) -> dt.date:
    """The latest UTC day that ended at least ``GRACE`` before ``now``."""
    now = now or timezone.now()
    return (now.astimezone(UTC) - GRACE).date() - dt.timedelta(days=1)


def _first_day_due() -> dt.date | None:
    """The oldest day some account still needs accruing, or None when there are no accounts."""
    agg = SavingsAccount.objects.aggregate(
        through=Min("accrued_through"), opened=Min("opened_at", filter=Q(accrued_through__isnull=True))
    )
    candidates = []
    if agg["through"] is not None:
        candidates.append(agg["through"] + dt.timedelta(days=1))
    if agg["opened"] is not None:
        candidates.append(agg["opened"].astimezone(UTC).date())
    return min(candidates) if candidates else None


# --- Accrual ---------------------------------------------------------------------------

# The end-of-day balance of every account still to accrue for the day. Parameters:
# end (x3), day. Portable SQL (PostgreSQL and SQLite).
_EOD_SQL = """
SELECT sa.id, sa.currency,
       (la.credits_posted - la.debits_posted) - COALESCE(later.net, 0) AS balance
FROM savings_savingsaccount sa
JOIN ledger_account la ON la.id = sa.ledger_account_id
LEFT JOIN (
    SELECT moves.account_id, SUM(moves.delta) AS net
    FROM (
        SELECT credit_account_id AS account_id, amount AS delta
        FROM ledger_transfer WHERE state = %s AND created_at >= %s
        UNION ALL
        SELECT debit_account_id AS account_id, -amount AS delta
        FROM ledger_transfer WHERE state = %s AND created_at >= %s
    ) moves
    GROUP BY moves.account_id
) later ON later.account_id = sa.ledger_account_id
WHERE sa.opened_at < %s AND (sa.accrued_through IS NULL OR sa.accrued_through < %s)
"""

_MARK_SQL = """
UPDATE savings_savingsaccount SET accrued_through = %s
WHERE opened_at < %s AND (accrued_through IS NULL OR accrued_through < %s)
"""


def _eod_params(day: dt.date) -> list:
    ops = connection.ops
    end = ops.adapt_datetimefield_value(day_end(day))
    d = ops.adapt_datefield_value(day)
    posted = TransferState.POSTED.value
    return [posted, end, posted, end, end, d]


@retry_on_conflict
def accrual_run_day(day: dt.date) -> int:
    """Accrue interest for ``day`` on every account open by its end that has not accrued it yet.

    Set-based (a handful of statements whatever the number of accounts), atomic, idempotent per
    (account, day): a second run, concurrent or later, inserts nothing. Marks the accounts
    ``accrued_through = day``. Call it for days in ascending order (``accruals_catch_up`` does).
    Returns the number of accrual rows inserted.
    """
    rates = daily_rates_on(day)
    ops = connection.ops
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL lock_timeout = '60s'")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ACCRUAL])
            inserted = 0
            if rates:
                values = ", ".join(["(%s, %s::numeric)"] * len(rates))
                rate_params = [p for currency, rate in sorted(rates.items()) for p in (currency, rate)]
                cursor.execute(
                    f"""
                    INSERT INTO savings_interestaccrual (account_id, day, balance, daily_rate, amount, created_at)
                    SELECT eod.id, %s::date, eod.balance, r.daily_rate,
                           ROUND(GREATEST(eod.balance, 0) * r.daily_rate, {ACCRUAL_PLACES}), %s
                    FROM ({_EOD_SQL}) eod
                    JOIN (VALUES {values}) AS r(currency, daily_rate) ON r.currency = eod.currency
                    ON CONFLICT (account_id, day) DO NOTHING
                    """,  # noqa: S608 - only our constants are interpolated; values are parameters
                    [day, timezone.now(), *_eod_params(day), *rate_params],
                )
                inserted = cursor.rowcount
        else:
            cursor.execute(_EOD_SQL, _eod_params(day))
            rows = [
                InterestAccrual(
                    account_id=account_id,
                    day=day,
                    balance=balance,
                    daily_rate=rates[currency],
                    amount=accrual_amount(balance, rates[currency]),
                )
                for account_id, currency, balance in cursor.fetchall()
                if currency in rates
            ]
            before = InterestAccrual.objects.filter(day=day).count()
            InterestAccrual.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
            inserted = InterestAccrual.objects.filter(day=day).count() - before
        end = ops.adapt_datetimefield_value(day_end(day))
        d = ops.adapt_datefield_value(day)
        cursor.execute(_MARK_SQL, [d, end, d])
    return inserted


def accruals_catch_up(*, now: dt.datetime | None = None, max_days: int = MAX_DAYS_PER_RUN) -> AccrualRun:
    """Accrue every complete day not yet accrued, oldest first (at most ``max_days`` per call).

    What the hourly beat task runs. Idempotent and safe to run concurrently: each (account, day)
    is accrued once. Days with no rate in force for a currency accrue nothing for it.
    """
    run = AccrualRun()
    last = last_complete_day(now)
    day = _first_day_due()
    while day is not None and day <= last and len(run.days) < max_days:
        run.rows += accrual_run_day(day)
        run.days.append(day)
        day += dt.timedelta(days=1)
    return run


# --- Payout ----------------------------------------------------------------------------


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def previous_month(month: dt.date) -> dt.date:
    return (month.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def floor_minor(accrued: Decimal) -> tuple[int, Decimal]:
    """(amount, carried): accrued floored to whole minor units and the fraction left over."""
    amount = int(accrued.to_integral_value(rounding=ROUND_FLOOR))
    return amount, (accrued - amount).quantize(AMOUNT_QUANTUM)


_CLAIM_PG_SQL = """
INSERT INTO savings_interestpayout (account_id, month, accrued, amount, carried, created_at)
SELECT t.id, %s::date, t.accrued, FLOOR(t.accrued)::bigint, t.accrued - FLOOR(t.accrued), %s
FROM (
    SELECT sa.id,
        COALESCE((SELECT SUM(a.amount) FROM savings_interestaccrual a
                  WHERE a.account_id = sa.id AND a.day >= %s AND a.day < %s), 0)
      + COALESCE((SELECT p.carried FROM savings_interestpayout p
                  WHERE p.account_id = sa.id AND p.month < %s ORDER BY p.month DESC LIMIT 1), 0)
        AS accrued
    FROM savings_savingsaccount sa WHERE sa.id = ANY(%s)
) t
ORDER BY t.id
ON CONFLICT (account_id, month) DO NOTHING
RETURNING id, account_id, amount, accrued
"""


def _claim_python(ids: list[int], month: dt.date, end: dt.date) -> list[tuple[int, int, int, Decimal]]:
    """SQLite: the claim computed in Python (SQLite sums decimals as floats). No concurrency there."""
    sums: dict[int, Decimal] = dict.fromkeys(ids, Decimal(0))
    for account_id, amount in InterestAccrual.objects.filter(
        account_id__in=ids, day__gte=month, day__lt=end
    ).values_list("account_id", "amount"):
        sums[account_id] += amount
    seen: set[int] = set()
    for account_id, carried in (
        InterestPayout.objects.filter(account_id__in=ids, month__lt=month)
        .order_by("account_id", "-month")
        .values_list("account_id", "carried")
    ):
        if account_id not in seen:
            seen.add(account_id)
            sums[account_id] += carried
    taken = set(InterestPayout.objects.filter(account_id__in=ids, month=month).values_list("account_id", flat=True))
    rows = []
    for account_id in sorted(set(ids) - taken):
        amount, carried = floor_minor(sums[account_id])
        rows.append(
            InterestPayout(account_id=account_id, month=month, accrued=sums[account_id], amount=amount, carried=carried)
        )
    InterestPayout.objects.bulk_create(rows)
    return [(p.pk, p.account_id, p.amount, p.accrued) for p in rows]


@retry_on_conflict
def _pay_chunk(*, currency: str, month: dt.date, accounts: list[tuple[int, int]], expense_id: int) -> tuple[int, int]:
    """Claim, post and link one chunk (≤ 100 accounts of one currency). Returns (payouts, transfers)."""
    ids = [account_id for account_id, _ in accounts]
    ledger_of = dict(accounts)
    end = next_month(month)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '5s'")
                cursor.execute(_CLAIM_PG_SQL, [month, timezone.now(), month, end, month, ids])
                claimed = sorted(cursor.fetchall(), key=lambda row: row[1])
        else:
            claimed = _claim_python(ids, month, end)
        paying = [(payout_id, account_id, amount) for payout_id, account_id, amount, _ in claimed if amount > 0]
        if not paying:
            return len(claimed), 0
        specs = [
            TransferSpec(
                debit=expense_id,
                credit=ledger_of[account_id],
                amount=amount,
                currency=currency,
                kind=TRANSFER_KIND,
                metadata={"savings_account": account_id, "month": f"{month:%Y-%m}"},
            )
            for _, account_id, amount in paying
        ]
        transfers = transfers_post(
            initiator=None,
            transfers=specs,
            idempotency_key=f"savings-interest:{currency}:{month:%Y-%m}:{paying[0][1]}-{paying[-1][1]}",
            operation="savings_interest",
        )
        InterestPayout.objects.bulk_update(
            [
                InterestPayout(pk=payout_id, transfer_id=transfer.pk)
                for (payout_id, _, _), transfer in zip(paying, transfers, strict=True)
            ],
            ["transfer"],
        )
        return len(claimed), len(transfers)


def payouts_post_month(month: dt.date, *, now: dt.datetime | None = None, chunk_size: int = PAYOUT_CHUNK) -> PayoutRun:
    """Pay month ``month``'s interest to every account accrued through its last day and not yet paid.

    Idempotent per (account, month) by the unique constraint, safe to run concurrently (a
    concurrent run claims nothing twice), atomic per chunk of ≤ 100 accounts (one ledger batch
    from the interest-expense account of the currency). Accounts not yet accrued through the
    month's last day are left for a later run. Raises MonthNotOver for a month not yet over.
    """
    month = month_start(month)
    end = next_month(month)
    last_day = end - dt.timedelta(days=1)
    if last_day > last_complete_day(now):
        raise MonthNotOver(f"{month:%Y-%m} is not over yet.")
    if not 1 <= chunk_size <= PAYOUT_CHUNK:
        raise ValidationFailed(f"chunk_size is 1–{PAYOUT_CHUNK}.", code="invalid_chunk_size")
    run = PayoutRun(month=month)
    end_instant = day_end(last_day)
    currencies = SavingsAccount.objects.filter(opened_at__lt=end_instant).values_list("currency", flat=True).distinct()
    for currency in sorted(set(currencies)):
        expense_id = system_account(AccountKind.INTEREST_EXPENSE, currency).pk
        after = 0
        while True:
            accounts = list(
                SavingsAccount.objects.filter(
                    currency=currency, pk__gt=after, opened_at__lt=end_instant, accrued_through__gte=last_day
                )
                .exclude(payouts__month=month)
                .order_by("pk")
                .values_list("pk", "ledger_account_id")[:chunk_size]
            )
            if not accounts:
                break
            after = accounts[-1][0]
            payouts, transfers = _pay_chunk(currency=currency, month=month, accounts=accounts, expense_id=expense_id)
            run.payouts += payouts
            run.transfers += transfers
    for currency, total in (
        InterestPayout.objects.filter(month=month, transfer__isnull=False)
        .values_list("account__currency")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        run.paid[currency] = total
    return run


def payouts_post_due(*, now: dt.datetime | None = None) -> PayoutRun:
    """Pay the previous month's interest (what the beat task runs on the first days of a month).

    Catches accruals up first, so the month's last day is accrued before anything is paid.
    """
    now = now or timezone.now()
    accruals_catch_up(now=now)
    month = previous_month(month_start(now.astimezone(UTC).date()))
    if next_month(month) - dt.timedelta(days=1) > last_complete_day(now):
        return PayoutRun(month=month)  # the first minutes of a month: its last day is not accrued yet
    return payouts_post_month(month, now=now)

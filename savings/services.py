"""Savings actions: products and rates, opening an account, moving money wallet ↔ savings, goals.

Every function owns its transaction. Money moves only through ``ledger.services`` (one posted
transfer between two accounts of the same person per move, idempotent by key). Interest accrual
and payout are in ``savings.accrual`` (set-based); nothing here touches accruals.

Products are seeded on first use (``product_get``): the USD product at 4.50% APY effective
2026-01-01 is created the first time anything asks for the USD product (no data migration, so tests
and other apps may create their own products freely). Other currencies have no product until staff
add one in the admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from core.money import MAX_AMOUNT_MINOR, check_amount_minor, check_currency, minor_units
from ledger.models import AccountKind
from ledger.services import account_open, transfer_post
from payments.services.wallet import wallet_account

from .models import SavingsAccount, SavingsGoal, SavingsProduct, SavingsRate

# --- Constants ---------------------------------------------------------------------------------

#: Products created on first use: currency -> (APY, effective from, name).
SEED_PRODUCTS: dict[str, tuple[Decimal, date, str]] = {
    "USD": (Decimal("0.045"), date(2026, 1, 1), "Everything Savings"),
}
APY_PLACES = 6  # SavingsRate.apy has 6 decimal places: 0.045000 = 4.5%
MAX_GOALS = 20
MAX_PROJECTION_MONTHS = 600
MOVE_IN, MOVE_OUT = "in", "out"
DIRECTIONS = (MOVE_IN, MOVE_OUT)

# --- Errors ------------------------------------------------------------------------------------


class SavingsProductUnavailable(Unprocessable):
    code = "savings_product_unavailable"
    default_message = "Savings are not available in that currency yet."


class SavingsAccountNotFound(NotFound):
    code = "savings_account_not_found"
    default_message = "You have no savings account in that currency. Open one first."


class InvalidRate(ValidationFailed):
    code = "invalid_rate"
    default_message = "Enter an APY from 0% to under 100%, with at most 4 decimals of a percent."


class RateInPast(ValidationFailed):
    code = "rate_in_past"
    default_message = "A new rate can start today or later; past days are never rewritten."


class RateExists(Conflict):
    code = "rate_exists"
    default_message = "A rate already starts on that day; rates are never edited. Choose another day."


class GoalNotFound(NotFound):
    code = "goal_not_found"
    default_message = "That goal does not exist."


class InvalidGoal(ValidationFailed):
    code = "invalid_goal"


class InvalidDirection(ValidationFailed):
    code = "invalid_direction"
    default_message = 'The direction is "in" (wallet to savings) or "out" (savings to wallet).'


def today_utc() -> date:
    """Savings days are UTC days (accrual runs per UTC day)."""
    return timezone.now().astimezone(UTC).date()


# --- Products and rates ------------------------------------------------------------------------


def product_get(currency: str) -> SavingsProduct | None:
    """The savings product of ``currency``, or None. Creates a seeded product (SEED_PRODUCTS) on first use.

    Race-safe: the product's currency is unique, so two first uses create one product and one rate.
    """
    currency = check_currency(currency)
    product = SavingsProduct.objects.filter(currency=currency).first()
    if product is not None or currency not in SEED_PRODUCTS:
        return product
    apy, effective_from, name = SEED_PRODUCTS[currency]
    try:
        with transaction.atomic():
            product = SavingsProduct.objects.create(currency=currency, name=name)
            SavingsRate.objects.create(product=product, apy=apy, effective_from=effective_from)
    except IntegrityError:
        product = SavingsProduct.objects.get(currency=currency)
    return product


def rate_check(*, apy: object, effective_from: object, today: date | None = None) -> tuple[Decimal, date]:
    """Validate a new rate: 0 ≤ APY < 1 with at most 6 decimals (a decimal fraction: 0.045 = 4.5%), starting
    today (UTC) or later. Raises InvalidRate / RateInPast; returns the cleaned values."""
    if isinstance(apy, bool) or not isinstance(apy, (Decimal, str, int)):
        raise InvalidRate(fields={"apy": ["Not a decimal number."]})
    try:
        value = Decimal(str(apy).strip())
    except InvalidOperation:
        raise InvalidRate(fields={"apy": ["Not a decimal number."]}) from None
    if not value.is_finite() or value < 0 or value >= 1 or value != value.quantize(Decimal(1).scaleb(-APY_PLACES)):
        raise InvalidRate(fields={"apy": ["From 0 to under 1 (0.045 = 4.5%), at most 6 decimals."]})
    if not isinstance(effective_from, date):
        raise ValidationFailed(
            "Give the day the rate starts.", code="invalid_date", fields={"effective_from": ["A date."]}
        )
    if effective_from < (today or today_utc()):
        raise RateInPast(fields={"effective_from": ["Today or later."]})
    return value.quantize(Decimal(1).scaleb(-APY_PLACES)), effective_from


def savings_rate_add(product: SavingsProduct, *, apy: Decimal | str, effective_from: date, actor=None) -> SavingsRate:
    """Add an APY in force from ``effective_from`` (today, UTC, or later) until the next rate.

    Never edits or deletes a rate and never touches a past day, so accruals already made stay true.
    One rate per product and day (RateExists otherwise). Atomic.
    """
    value, day = rate_check(apy=apy, effective_from=effective_from)
    try:
        with transaction.atomic():
            return SavingsRate.objects.create(
                product=product, apy=value, effective_from=day, created_by=actor if getattr(actor, "pk", None) else None
            )
    except IntegrityError:
        raise RateExists() from None


def savings_product_create(
    *, currency: str, apy: Decimal | str, effective_from: date, name: str = "Everything Savings", actor=None
) -> SavingsProduct:
    """Create the product of a currency with its first rate, together. Conflict if it exists."""
    currency = check_currency(currency)
    value, day = rate_check(apy=apy, effective_from=effective_from)
    try:
        with transaction.atomic():
            product = SavingsProduct.objects.create(currency=currency, name=name or "Everything Savings")
            SavingsRate.objects.create(
                product=product, apy=value, effective_from=day, created_by=actor if getattr(actor, "pk", None) else None
            )
    except IntegrityError:
        raise Conflict(f"There is already a {currency} savings product.", code="product_exists") from None
    return product


# --- Accounts ----------------------------------------------------------------------------------


def savings_account_get(user, *, currency: str) -> SavingsAccount:
    """The user's savings account in ``currency`` (with its ledger account), or SavingsAccountNotFound."""
    account = (
        SavingsAccount.objects.select_related("ledger_account")
        .filter(user=user, currency=check_currency(currency))
        .first()
    )
    if account is None:
        raise SavingsAccountNotFound()
    return account


def savings_account_open(user, *, currency: str) -> tuple[SavingsAccount, bool]:
    """Open the user's savings account in ``currency`` (idempotent: returns ``(account, created)``).

    Needs an active product with a rate. The money lives in a user-owned ledger account of kind
    "savings" that may never go below zero. Interest accrues from the opening day (UTC):
    ``accrued_through`` starts as the day before. Race-safe (one account per user and currency).
    """
    currency = check_currency(currency)
    existing = SavingsAccount.objects.select_related("ledger_account").filter(user=user, currency=currency).first()
    if existing is not None:
        return existing, False
    product = product_get(currency)
    if product is None or not product.is_active or not product.rates.exists():
        raise SavingsProductUnavailable(f"Savings are not available in {currency} yet.")
    try:
        with transaction.atomic():
            ledger_account = account_open(
                owner=user, kind=AccountKind.SAVINGS, currency=currency, must_not_go_negative=True, name="Savings"
            )
            account = SavingsAccount.objects.create(
                user=user,
                currency=currency,
                ledger_account=ledger_account,
                accrued_through=date.fromordinal(today_utc().toordinal() - 1),
            )
    except IntegrityError:
        return savings_account_get(user, currency=currency), False
    return account, True


def savings_ledger_key(*, idempotency_key: str | None = None, internal_key: str | None = None) -> str | None:
    """The ledger idempotency key of a move: people's keys and the system's never share a namespace."""
    if internal_key:
        return f"savings-internal:{internal_key}"
    return f"savings-move:{idempotency_key}" if idempotency_key else None


def savings_move(
    user,
    *,
    currency: str,
    amount: int,
    direction: str,
    idempotency_key: str | None = None,
    internal_key: str | None = None,
) -> SavingsAccount:
    """Move ``amount`` minor units wallet → savings (``direction="in"``) or savings → wallet (``"out"``).

    One posted ledger transfer between the user's own accounts, atomic and instant. Idempotent by
    ``idempotency_key`` (the same key and request move once; another request with it: 422). Moves
    made by the system for the user (a creator's sweep) pass ``internal_key`` instead: its ledger key
    lives in its own namespace (``savings-internal:``), so no key a person chooses can collide. Raises
    InsufficientFunds (422) when the source lacks the money; nothing moves then. Marks goals reached.
    """
    if direction not in DIRECTIONS:
        raise InvalidDirection(fields={"direction": ['"in" or "out".']})
    check_amount_minor(amount)
    account = savings_account_get(user, currency=currency)
    wallet = wallet_account(user, account.currency)
    savings = account.ledger_account
    debit, credit = (wallet, savings) if direction == MOVE_IN else (savings, wallet)
    transfer_post(
        initiator=user,
        debit=debit,
        credit=credit,
        amount=amount,
        currency=account.currency,
        kind=f"savings_{direction}",
        metadata={"savings_account": account.pk},
        idempotency_key=savings_ledger_key(idempotency_key=idempotency_key, internal_key=internal_key),
    )
    account.ledger_account.refresh_from_db()
    goals_mark_reached(account)
    return account


def savings_roundups_set(user, *, currency: str, enabled: bool) -> SavingsAccount:
    """Turn round-ups on or off for the user's savings account in ``currency`` (the flag only)."""
    if not isinstance(enabled, bool):
        raise ValidationFailed("enabled is true or false.", fields={"roundups_enabled": ["true or false."]})
    account = savings_account_get(user, currency=currency)
    SavingsAccount.objects.filter(pk=account.pk).update(roundups_enabled=enabled)
    account.roundups_enabled = enabled
    return account


# --- Goals -------------------------------------------------------------------------------------


def _goal_clean(*, name: object, target: object, target_date: object) -> tuple[str, int, date | None]:
    if not isinstance(name, str) or not name.strip():
        raise InvalidGoal("Give the goal a name.", fields={"name": ["Required."]})
    name = " ".join(name.split())
    if len(name) > 60:
        raise InvalidGoal("A goal's name is at most 60 characters.", fields={"name": ["At most 60 characters."]})
    try:
        check_amount_minor(target)
    except ValidationFailed as exc:
        raise InvalidGoal(f"Target: {exc.message}", fields={"target": [exc.message]}) from None
    if target_date is not None:
        if not isinstance(target_date, date):
            raise InvalidGoal("The target date is a date.", fields={"target_date": ["A date."]})
        if target_date < today_utc():
            raise InvalidGoal("The target date is today or later.", fields={"target_date": ["Today or later."]})
    return name, target, target_date


def savings_goal_create(user, *, currency: str, name: str, target: int, target_date: date | None = None) -> SavingsGoal:
    """Add a goal (name, target in minor units, optional date) on the user's savings in ``currency``.

    All goals of an account measure the same balance (goals are targets, not separate pots).
    At most MAX_GOALS per account.
    """
    account = savings_account_get(user, currency=currency)
    name, target, target_date = _goal_clean(name=name, target=target, target_date=target_date)
    with transaction.atomic():
        SavingsAccount.objects.select_for_update().filter(pk=account.pk).first()  # serialise the count check
        if SavingsGoal.objects.filter(account=account).count() >= MAX_GOALS:
            raise Unprocessable(f"At most {MAX_GOALS} goals per account.", code="too_many_goals")
        goal = SavingsGoal.objects.create(user=user, account=account, name=name, target=target, target_date=target_date)
    goals_mark_reached(account)
    goal.refresh_from_db()
    return goal


def savings_goal_get(user, goal_id: object) -> SavingsGoal:
    if isinstance(goal_id, bool) or not isinstance(goal_id, int):
        raise GoalNotFound()
    goal = SavingsGoal.objects.select_related("account__ledger_account").filter(pk=goal_id, user=user).first()
    if goal is None:
        raise GoalNotFound()
    return goal


UNCHANGED = object()


def savings_goal_update(
    user, goal_id: int, *, name: str | None = None, target: int | None = None, target_date=UNCHANGED
) -> SavingsGoal:
    """Change a goal's name, target or date (``target_date=None`` clears it). Only the owner's goals."""
    goal = savings_goal_get(user, goal_id)
    new_date = goal.target_date if target_date is UNCHANGED else target_date
    if new_date == goal.target_date and new_date is not None and new_date < today_utc():
        new_date_check = None  # an unchanged past date stays as it was
    else:
        new_date_check = new_date
    name, target, _ = _goal_clean(
        name=goal.name if name is None else name,
        target=goal.target if target is None else target,
        target_date=new_date_check,
    )
    goal.name, goal.target, goal.target_date = name, target, new_date
    goal.save(update_fields=["name", "target", "target_date"])
    goals_mark_reached(goal.account)
    goal.refresh_from_db()
    return goal


def savings_goal_delete(user, goal_id: int) -> None:
    """Remove one of the user's goals (no money moves)."""
    savings_goal_get(user, goal_id).delete()


def goals_mark_reached(account: SavingsAccount) -> int:
    """Stamp ``achieved_at`` on goals whose target the balance now reaches (once; never unset)."""
    balance = account.ledger_account.credits_posted - account.ledger_account.debits_posted
    return SavingsGoal.objects.filter(account=account, achieved_at__isnull=True, target__lte=balance).update(
        achieved_at=timezone.now()
    )


# --- Projection --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    currency: str
    amount: int
    monthly_deposit: int
    months: int
    apy: Decimal
    balance: int  # projected, minor units, floored
    deposits: int  # amount + monthly_deposit × months
    interest: int  # balance − deposits


def projection_compute(*, amount: int, monthly_deposit: int, months: int, apy: Decimal, currency: str) -> Projection:
    """Project a balance: start with ``amount``, add ``monthly_deposit`` at the end of each month, compound daily.

    Daily compounding at daily rate (1 + APY)^(1/365) − 1 over a month of 365/12 days is a monthly
    factor of exactly (1 + APY)^(1/12); computed in Decimal with 34 digits. Each month:
    balance = balance × factor + deposit. The result is rounded half-up to 12 decimals, then floored to minor units (interest is paid
    floored). Pure: no database. static/js/savings.js mirrors it for the live preview.
    """
    check_amount_minor(amount, allow_zero=True)
    check_amount_minor(monthly_deposit, allow_zero=True)
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= MAX_PROJECTION_MONTHS:
        raise ValidationFailed(
            f"Months is a whole number from 1 to {MAX_PROJECTION_MONTHS}.",
            code="invalid_months",
            fields={"months": [f"1 to {MAX_PROJECTION_MONTHS}."]},
        )
    minor_units(currency)
    with localcontext() as ctx:
        ctx.prec = 34
        factor = (Decimal(1) + Decimal(apy)) ** (Decimal(1) / Decimal(12))
        value = Decimal(amount)
        for _ in range(months):
            value = value * factor + monthly_deposit
        # Round to 12 decimals first (as accruals are kept), so a 34-digit power's last-digit error
        # (1.045^(1/12))^12 = 1.04499…9 cannot lose a whole minor unit; then floor.
        value = value.quantize(Decimal(1).scaleb(-12), rounding=ROUND_HALF_UP)
        balance = int(value.to_integral_value(rounding=ROUND_FLOOR))
    balance = min(balance, MAX_AMOUNT_MINOR * 1000)
    deposits = amount + monthly_deposit * months
    return Projection(currency, amount, monthly_deposit, months, Decimal(apy), balance, deposits, balance - deposits)

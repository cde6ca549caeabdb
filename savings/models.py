"""Savings accounts with daily interest accrual and a monthly payout.

The money is in the ledger: each ``SavingsAccount`` is a user-owned ledger ``Account`` of kind
"savings" (never negative). Interest accrues daily with sub-minor-unit precision in
``InterestAccrual`` rows (one per account and day, by a unique constraint) and is paid once a
month from the interest-expense system account, floored to minor units; the fraction carries on.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.money import CURRENCY_CHOICES

# Accrued interest is kept in minor units with 12 decimal places (a millionth of a millionth of a cent).
ACCRUAL_DIGITS = 30
ACCRUAL_PLACES = 12


class SavingsProduct(models.Model):
    """The savings product of one currency; its APY history is ``SavingsRate`` rows."""

    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, unique=True)
    name = models.CharField(max_length=80, default="Everything Savings")
    is_active = models.BooleanField(default=True, help_text="Open to new accounts")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"


class SavingsRate(models.Model):
    """An APY in force from ``effective_from`` (a date, UTC) until the next rate's date. Never edited."""

    product = models.ForeignKey(SavingsProduct, on_delete=models.PROTECT, related_name="rates")
    apy = models.DecimalField(max_digits=8, decimal_places=6, help_text="Annual percentage yield, 0.045 = 4.5%")
    effective_from = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["product", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["product", "effective_from"], name="savings_rate_one_per_day"),
            models.CheckConstraint(condition=Q(apy__gte=0) & Q(apy__lt=1), name="savings_rate_apy_range"),
        ]

    def __str__(self) -> str:
        return f"{self.apy * 100:.2f}% from {self.effective_from}"


class SavingsAccount(models.Model):
    """A person's savings in one currency (the money is ``ledger_account``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="savings_accounts")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    ledger_account = models.OneToOneField("ledger.Account", on_delete=models.PROTECT, related_name="savings")
    # Round-ups: each outgoing payment in this currency rounds up to the next whole unit into here.
    roundups_enabled = models.BooleanField(default=False)
    opened_at = models.DateTimeField(auto_now_add=True)
    # The last day whose interest has been accrued (set-based runs start after it).
    accrued_through = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "currency"], name="savings_account_one_per_currency")]

    def __str__(self) -> str:
        return f"Savings {self.currency} of {self.user_id}"


class InterestAccrual(models.Model):
    """Interest earned on ``day``: end-of-day balance × daily rate, in minor units with 12 decimals."""

    account = models.ForeignKey(SavingsAccount, on_delete=models.PROTECT, related_name="accruals")
    day = models.DateField()
    balance = models.BigIntegerField(help_text="End-of-day balance, minor units")
    daily_rate = models.DecimalField(max_digits=24, decimal_places=20)
    amount = models.DecimalField(max_digits=ACCRUAL_DIGITS, decimal_places=ACCRUAL_PLACES)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "day"], name="savings_accrual_once_per_day"),
            models.CheckConstraint(condition=Q(amount__gte=Decimal(0)), name="savings_accrual_not_negative"),
        ]
        indexes = [models.Index(fields=["day"], name="savings_accrual_day_idx")]

    def __str__(self) -> str:
        return f"Accrual {self.day} of {self.account_id}"


class InterestPayout(models.Model):
    """The interest paid for one month: the month's accruals plus the carried fraction, floored."""

    account = models.ForeignKey(SavingsAccount, on_delete=models.PROTECT, related_name="payouts")
    month = models.DateField(help_text="The first day of the month the interest was earned in")
    accrued = models.DecimalField(
        max_digits=ACCRUAL_DIGITS, decimal_places=ACCRUAL_PLACES, help_text="This month's accruals + carry in"
    )
    amount = models.BigIntegerField(help_text="Paid, minor units (accrued floored)")
    carried = models.DecimalField(
        max_digits=ACCRUAL_DIGITS, decimal_places=ACCRUAL_PLACES, help_text="The fraction carried to next month"
    )
    transfer = models.ForeignKey("ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "month"], name="savings_payout_once_per_month"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="savings_payout_not_negative"),
        ]

    def __str__(self) -> str:
        return f"Payout {self.month:%Y-%m} of {self.account_id}"


class SavingsGoal(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="savings_goals")
    account = models.ForeignKey(SavingsAccount, on_delete=models.CASCADE, related_name="goals")
    name = models.CharField(max_length=60)
    target = models.BigIntegerField(help_text="Minor units, in the account's currency")
    target_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    achieved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["target_date", "id"]
        constraints = [models.CheckConstraint(condition=Q(target__gt=0), name="savings_goal_target_positive")]

    def __str__(self) -> str:
        return self.name

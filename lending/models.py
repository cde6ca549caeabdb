"""Loans: products, loans, their instalment schedule, autopay charges and payments.

The money is in the ledger (see lending/services.py for the exact double entry). A loan's
outstanding principal and unpaid fees are the negative balance of the borrower's ledger account
of kind "loan" (one per user and currency, reused by successive loans: one active loan per
user and currency at a time). ``Loan.principal_outstanding`` and ``Loan.fees_outstanding``
mirror that balance (updated in the same transaction as the ledger transfer):
``-ledger_account.balance == principal_outstanding + fees_outstanding`` while a single loan
uses the account.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.money import CURRENCY_CHOICES, format_money

DEFAULT_APR = Decimal("0.089")
DEFAULT_TERMS = [3, 6, 12, 24]


def default_terms() -> list[int]:
    return list(DEFAULT_TERMS)


class LoanProduct(models.Model):
    """The loan product of one currency, managed in the admin."""

    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, unique=True)
    name = models.CharField(max_length=80, default="Everything Personal Loan")
    apr = models.DecimalField(
        max_digits=7, decimal_places=5, default=DEFAULT_APR, help_text="Annual percentage rate, 0.089 = 8.9%"
    )
    late_fee = models.BigIntegerField(default=500, help_text="Minor units (500 = 5.00)")
    min_amount = models.BigIntegerField(default=100_00, help_text="Minor units")
    max_amount = models.BigIntegerField(default=5_000_00, help_text="Minor units: the limit of a perfect score")
    terms = models.JSONField(default=default_terms, help_text="Terms offered, in months, e.g. [3, 6, 12, 24]")
    is_active = models.BooleanField(default=True, help_text="Open to new loans")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(apr__gte=0) & Q(apr__lt=1), name="lending_product_apr_range"),
            models.CheckConstraint(condition=Q(late_fee__gte=0), name="lending_product_late_fee_not_negative"),
            models.CheckConstraint(
                condition=Q(min_amount__gt=0) & Q(max_amount__gte=models.F("min_amount")),
                name="lending_product_amount_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency}, {self.apr * 100:.2f}% APR)"

    @property
    def apr_percent(self) -> str:
        """The APR for people, e.g. "8.90%" (two decimals, ROUND_HALF_UP)."""
        from decimal import ROUND_HALF_UP

        return f"{(self.apr * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


class LoanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAID_OFF = "paid_off", "Paid off"
    WRITTEN_OFF = "written_off", "Written off"


class Loan(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="loans")
    product = models.ForeignKey(LoanProduct, on_delete=models.PROTECT, related_name="loans")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    ledger_account = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="loans")
    principal = models.BigIntegerField()
    apr = models.DecimalField(max_digits=7, decimal_places=5)
    term_months = models.PositiveSmallIntegerField()
    monthly_payment = models.BigIntegerField()
    finance_charge = models.BigIntegerField(help_text="Total interest of the schedule as disclosed")
    late_fee = models.BigIntegerField(help_text="Snapshot of the product's late fee at acceptance")
    status = models.CharField(max_length=16, choices=LoanStatus.choices, default=LoanStatus.ACTIVE)
    principal_outstanding = models.BigIntegerField()
    fees_outstanding = models.BigIntegerField(default=0)
    # Interest is settled up to this date (disbursement, the last paid due date, or an early payment's day).
    interest_paid_through = models.DateField()
    application_key = models.CharField(max_length=200)
    disbursed_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    disbursement = models.ForeignKey(
        "ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "application_key"], name="lending_loan_key_unique_per_user"),
            models.UniqueConstraint(
                fields=["user", "currency"],
                condition=Q(status="active"),
                name="lending_loan_one_active_per_currency",
            ),
            models.CheckConstraint(condition=Q(principal__gt=0), name="lending_loan_principal_positive"),
            models.CheckConstraint(
                condition=Q(principal_outstanding__gte=0) & Q(fees_outstanding__gte=0),
                name="lending_loan_outstanding_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["status", "currency"])]

    def __str__(self) -> str:
        return f"Loan #{self.pk}: {format_money(self.principal, self.currency)} ({self.get_status_display().lower()})"

    @property
    def apr_percent(self) -> str:
        """The APR for people, e.g. "8.90%" (two decimals, ROUND_HALF_UP)."""
        from decimal import ROUND_HALF_UP

        return f"{(self.apr * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"

    @property
    def owed_now(self) -> int:
        return self.principal_outstanding + self.fees_outstanding


class InstalmentStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    LATE = "late", "Late"
    PAID = "paid", "Paid"
    CANCELLED = "cancelled", "Cancelled"  # paid off early, written off, or replaced by a restructure


OPEN_INSTALMENT_STATUSES = (InstalmentStatus.SCHEDULED, InstalmentStatus.LATE)


class Instalment(models.Model):
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="instalments")
    number = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    amount = models.BigIntegerField()
    principal = models.BigIntegerField()
    interest = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=InstalmentStatus.choices, default=InstalmentStatus.SCHEDULED)
    late_fee_charged = models.BigIntegerField(default=0)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["loan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "number"], name="lending_instalment_number_unique"),
            models.CheckConstraint(
                condition=Q(amount=models.F("principal") + models.F("interest"))
                & Q(principal__gte=0)
                & Q(interest__gte=0),
                name="lending_instalment_parts_sum",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_date"])]

    def __str__(self) -> str:
        return f"Instalment {self.number} of loan #{self.loan_id} due {self.due_date}"


class ChargeOutcome(models.TextChoices):
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"


class InstalmentCharge(models.Model):
    """One autopay attempt: at most one per instalment and day, and one successful per instalment."""

    instalment = models.ForeignKey(Instalment, on_delete=models.PROTECT, related_name="charges")
    attempted_on = models.DateField()
    outcome = models.CharField(max_length=8, choices=ChargeOutcome.choices)
    amount = models.BigIntegerField()
    message = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instalment", "attempted_on"], name="lending_charge_once_a_day"),
            models.UniqueConstraint(
                fields=["instalment"], condition=Q(outcome="paid"), name="lending_charge_paid_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} {self.amount} on {self.attempted_on}"


class PaymentKind(models.TextChoices):
    INSTALMENT = "instalment", "Instalment"
    EARLY = "early", "Early repayment"
    PAYOFF = "payoff", "Payoff"


class LoanPayment(models.Model):
    """Money the borrower paid: how it split into fees, interest and principal."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(max_length=16, choices=PaymentKind.choices)
    instalment = models.ForeignKey(Instalment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    fees = models.BigIntegerField(default=0)
    interest = models.BigIntegerField(default=0)
    principal = models.BigIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200)
    batch = models.ForeignKey("ledger.Batch", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "idempotency_key"], name="lending_payment_key_unique"),
            models.CheckConstraint(
                condition=Q(amount=models.F("fees") + models.F("interest") + models.F("principal")),
                name="lending_payment_parts_sum",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} on loan #{self.loan_id}"


class AdjustmentKind(models.TextChoices):
    RESTRUCTURE = "restructure", "Restructure"
    WRITE_OFF = "write_off", "Write-off"


class LoanAdjustment(models.Model):
    """A staff action on a loan, with its reason (also in the compliance audit trail)."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="adjustments")
    kind = models.CharField(max_length=16, choices=AdjustmentKind.choices)
    reason = models.TextField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    data = models.JSONField(default=dict, blank=True)
    batch = models.ForeignKey("ledger.Batch", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} of loan #{self.loan_id}"

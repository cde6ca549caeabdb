"""The double-entry ledger (DESIGN §3). Only ledger.services writes these tables.

An account's balance lives in four counters, TigerBeetle-style:

    debits_posted / credits_posted     money that has moved
    debits_pending / credits_pending   money held by two-phase transfers

For a customer account (a liability of ours) the balance is
``credits_posted - debits_posted`` and what can be spent is that minus
``debits_pending``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.money import CURRENCY_CHOICES


class ImmutableError(Exception):
    """Ledger rows are never edited or deleted: correct with a new transfer."""


class AccountKind(models.TextChoices):
    WALLET = "wallet", "Wallet"
    SAVINGS = "savings", "Savings"
    LOAN = "loan", "Loan"
    # System accounts: no owner, one per (kind, currency), opened on demand.
    FUNDING = "funding", "Funding (money entering from outside)"
    FEES = "fees", "Fees and revenue"
    INTEREST_EXPENSE = "interest_expense", "Interest expense"
    ESCROW = "escrow", "Escrow"
    FX_POOL = "fx_pool", "FX pool"
    CHECKS_OUTSTANDING = "checks_outstanding", "Checks outstanding"
    LENDING = "lending", "Lending"
    CARD_SETTLEMENT = "card_settlement", "Card network settlement"


SYSTEM_KINDS = frozenset(
    {
        AccountKind.FUNDING,
        AccountKind.FEES,
        AccountKind.INTEREST_EXPENSE,
        AccountKind.ESCROW,
        AccountKind.FX_POOL,
        AccountKind.CHECKS_OUTSTANDING,
        AccountKind.LENDING,
        AccountKind.CARD_SETTLEMENT,
    }
)


class Account(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    name = models.CharField(max_length=100, blank=True)
    debits_posted = models.BigIntegerField(default=0)
    credits_posted = models.BigIntegerField(default=0)
    debits_pending = models.BigIntegerField(default=0)
    credits_pending = models.BigIntegerField(default=0)
    # debits (posted + pending) may never exceed posted credits: the balance cannot go below zero.
    must_not_go_negative = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(debits_posted__gte=0)
                & Q(credits_posted__gte=0)
                & Q(debits_pending__gte=0)
                & Q(credits_pending__gte=0),
                name="ledger_account_counters_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(must_not_go_negative=False)
                | Q(credits_posted__gte=F("debits_posted") + F("debits_pending")),
                name="ledger_account_balance_not_negative",
            ),
            models.UniqueConstraint(
                fields=["owner", "kind", "currency"],
                condition=Q(owner__isnull=False),
                name="ledger_account_one_per_owner_kind_currency",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"],
                condition=Q(owner__isnull=True),
                name="ledger_account_one_system_account_per_kind_currency",
            ),
        ]

    def __str__(self) -> str:
        who = str(self.owner) if self.owner_id else "system"
        return f"{self.kind} {self.currency} #{self.pk} ({who})"

    @property
    def balance(self) -> int:
        """Posted balance of a credit-normal (customer) account, in minor units."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """What can be spent now: the balance less outgoing holds."""
        return self.credits_posted - self.debits_posted - self.debits_pending


class Batch(models.Model):
    """One all-or-none ledger operation: the unit of idempotency.

    A batch holds the transfers one service call made together (a payment and
    its fee, the two legs of an FX conversion). ``(initiator, idempotency_key)``
    is unique, so a retried call finds the first batch and returns it.
    """

    initiator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL = no key, outside the unique constraint
    request_hash = models.CharField(max_length=64)
    operation = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "batches"
        constraints = [
            models.UniqueConstraint(
                fields=["initiator", "idempotency_key"],
                condition=Q(initiator__isnull=False, idempotency_key__isnull=False),
                name="ledger_batch_key_unique_per_initiator",
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(initiator__isnull=True, idempotency_key__isnull=False),
                name="ledger_batch_key_unique_for_system",
            ),
        ]

    def __str__(self) -> str:
        return f"batch #{self.pk} {self.operation}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError("Ledger batches cannot be edited.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("Ledger batches cannot be deleted.")


class TransferState(models.TextChoices):
    PENDING = "pending", "Pending"
    POSTED = "posted", "Posted"
    VOIDED = "voided", "Voided"
    EXPIRED = "expired", "Expired"


class Transfer(models.Model):
    """An immutable movement of ``amount`` from ``debit_account`` to ``credit_account``.

    - posted: money moved.
    - pending: a hold; it reserves the amount until resolved.
    - A hold is resolved by transfers that reference it through ``pending``:
      posted ones move (part of) it, a voided or expired one releases the rest.
      What is still held = hold amount - the sum of its resolving transfers.
    - ``reverses`` marks a compensating transfer; a transfer is reversed once at most.
    """

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="transfers")
    debit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="debits")
    credit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="credits")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    kind = models.CharField(max_length=32)
    state = models.CharField(max_length=8, choices=TransferState.choices)
    pending = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="resolutions")
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversal")
    timeout_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    initiator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_transfer_amount_positive"),
            models.CheckConstraint(
                condition=~Q(debit_account=F("credit_account")), name="ledger_transfer_two_different_accounts"
            ),
            models.CheckConstraint(condition=Q(state__in=TransferState.values), name="ledger_transfer_state_valid"),
            # A hold references nothing; a void or expiry always resolves a hold.
            models.CheckConstraint(
                condition=~Q(state=TransferState.PENDING) | Q(pending__isnull=True, reverses__isnull=True),
                name="ledger_transfer_pending_is_a_root",
            ),
            models.CheckConstraint(
                condition=Q(state__in=[TransferState.PENDING, TransferState.POSTED]) | Q(pending__isnull=False),
                name="ledger_transfer_void_or_expiry_resolves_a_hold",
            ),
        ]
        indexes = [
            models.Index(fields=["debit_account", "-id"], name="ledger_xfer_debit_idx"),
            models.Index(fields=["credit_account", "-id"], name="ledger_xfer_credit_idx"),
            # Savings' end-of-day balances read only the transfers created after a day ended.
            models.Index(fields=["created_at"], name="ledger_xfer_created_idx"),
            models.Index(
                fields=["timeout_at"],
                condition=Q(state=TransferState.PENDING),
                name="ledger_hold_timeout_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"transfer #{self.pk} {self.state} {self.amount} {self.currency}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError("Ledger transfers cannot be edited; post a correcting transfer.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("Ledger transfers cannot be deleted; post a correcting transfer.")

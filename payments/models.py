"""The wallet's records. Balances live in the ledger; these rows say what a movement *was*.

A ``Payment`` is one person paying another (a send, a tip, a paid request). Its
money moves only through ``ledger.services``; its status changes only in
``payments.services``, and every change is appended to ``PaymentEvent`` so the
detail page can show the whole history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.money import CURRENCY_CHOICES, format_money
from ledger.models import Account, AccountKind


class PaymentKind(models.TextChoices):
    PAYMENT = "payment", "Payment"
    TIP = "tip", "Tip"
    REQUEST = "request", "Paid request"
    SUBSCRIPTION = "subscription", "Subscription"


class PaymentStatus(models.TextChoices):
    ARRIVING = "arriving", "Arriving"  # safety delay: a ledger hold until release_at
    IN_REVIEW = "in_review", "In review"  # risk hold: a ledger hold until staff decide
    COMPLETED = "completed", "Completed"
    RETURNED = "returned", "Returned"
    CANCELLED = "cancelled", "Cancelled"  # by the sender, during the safety delay
    REJECTED = "rejected", "Rejected"  # by staff review, or the review deadline passed


OPEN_STATUSES = (PaymentStatus.ARRIVING, PaymentStatus.IN_REVIEW)


class Payment(models.Model):
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments_sent")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments_received")
    kind = models.CharField(max_length=16, choices=PaymentKind.choices, default=PaymentKind.PAYMENT)
    status = models.CharField(max_length=16, choices=PaymentStatus.choices)
    # What leaves the sender, and what arrives (differs only when currencies differ).
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    received_amount = models.BigIntegerField()
    received_currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    fx_rate = models.DecimalField(
        max_digits=24, decimal_places=12, null=True, blank=True, help_text="Applied rate incl. spread"
    )
    usd_equivalent = models.BigIntegerField(help_text="Amount in US cents at the mid rate, for limits")
    note = models.CharField(max_length=280, blank=True)
    # What a tip was for ("post:12"), free text owned by the caller.
    tip_target = models.CharField(max_length=64, blank=True)
    request = models.ForeignKey(
        "payments.PaymentRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )

    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL: no key (unique only when set)
    request_hash = models.CharField(max_length=64, blank=True)

    # Ledger links. Same currency: one transfer sender -> recipient. Different
    # currencies: two legs through the FX pools (sender -> pool[S], pool[R] -> recipient).
    hold = models.ForeignKey("ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    debit_transfer = models.ForeignKey(
        "ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    credit_transfer = models.ForeignKey(
        "ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    release_at = models.DateTimeField(null=True, blank=True, help_text="Safety delay: when the hold posts")
    review_reason = models.CharField(max_length=32, blank=True)
    review_deadline = models.DateTimeField(null=True, blank=True)
    first_to_recipient = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="payments_payment_idempotency_unique",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0) & Q(received_amount__gt=0), name="payments_payment_amount_positive"
            ),
            models.CheckConstraint(condition=~Q(sender=F("recipient")), name="payments_payment_not_to_self"),
        ]
        indexes = [
            models.Index(fields=["sender", "-id"], name="payments_sender_id_idx"),
            models.Index(fields=["recipient", "-id"], name="payments_recipient_id_idx"),
            models.Index(fields=["sender", "created_at"], name="payments_sender_created_idx"),
            models.Index(fields=["recipient", "created_at"], name="payments_recipient_created_idx"),
            models.Index(fields=["release_at"], condition=Q(status="arriving"), name="payments_arriving_release_idx"),
        ]

    def __str__(self) -> str:
        return f"Payment #{self.pk} ({format_money(self.amount, self.currency)})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_fx(self) -> bool:
        return self.currency != self.received_currency


class PaymentEvent(models.Model):
    """One step in a payment's life, for the detail page's status history. Append-only."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=16, choices=PaymentStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.payment_id}: {self.status}"


class SafetyDelay(models.IntegerChoices):
    OFF = 0, "Off"
    TEN_MINUTES = 600, "10 minutes"
    ONE_HOUR = 3600, "1 hour"
    ONE_DAY = 86400, "24 hours"


class WalletSettings(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wallet_settings")
    safety_delay_seconds = models.PositiveIntegerField(choices=SafetyDelay.choices, default=SafetyDelay.OFF)

    class Meta:
        verbose_name = verbose_name_plural = "wallet settings"

    def __str__(self) -> str:
        return f"Wallet settings of {self.user_id}"


# --- Requests and splits --------------------------------------------------------------


class RequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class SplitMethod(models.TextChoices):
    EQUAL = "equal", "Equal shares"
    CUSTOM = "custom", "Custom amounts"


class Split(models.Model):
    """A bill shared among people: one PaymentRequest per participant other than the creator."""

    creator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="splits")
    title = models.CharField(max_length=280)
    total = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    method = models.CharField(max_length=8, choices=SplitMethod.choices, default=SplitMethod.EQUAL)
    creator_share = models.BigIntegerField(default=0, help_text="The creator's own part (not requested)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gt=0) & Q(creator_share__gte=0), name="payments_split_amounts"),
        ]
        indexes = [models.Index(fields=["creator", "-id"], name="payments_split_creator_idx")]

    def __str__(self) -> str:
        return f"Split #{self.pk} {self.title[:30]}"


class PaymentRequest(models.Model):
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payment_requests_made"
    )
    payer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payment_requests_received"
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    note = models.CharField(max_length=280, blank=True)
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.OPEN)
    split = models.ForeignKey(Split, null=True, blank=True, on_delete=models.PROTECT, related_name="requests")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_reminded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_request_amount_positive"),
            models.CheckConstraint(condition=~Q(requester=F("payer")), name="payments_request_not_to_self"),
        ]
        indexes = [
            models.Index(fields=["requester", "-id"], name="payments_request_requester_idx"),
            models.Index(fields=["payer", "-id"], name="payments_request_payer_idx"),
            models.Index(fields=["expires_at"], condition=Q(status="open"), name="payments_request_open_exp_idx"),
        ]

    def __str__(self) -> str:
        return f"Request #{self.pk} {format_money(self.amount, self.currency)}"


# --- Linked cards, top-ups, cash-outs ---------------------------------------------------


class FundingCard(models.Model):
    """A debit card linked as a funding source. The number is only ever stored encrypted (payments.vault)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="funding_cards")
    brand = models.CharField(max_length=16)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    fingerprint = models.CharField(max_length=64, help_text="Keyed HMAC of the number: recognises the same card")
    number_encrypted = models.TextField(help_text="Fernet token (VAULT_KEYS)")
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "fingerprint"],
                condition=Q(removed_at__isnull=True),
                name="payments_card_linked_once_per_user",
            ),
        ]
        indexes = [models.Index(fields=["user", "-id"], name="payments_card_user_idx")]

    def __str__(self) -> str:
        return f"{self.brand} •••• {self.last4}"


class MovementStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    COMPLETED = "completed", "Completed"
    DECLINED = "declined", "Declined"
    FAILED = "failed", "Failed"


class TopUp(models.Model):
    """Add money: a card charge through the (simulated) processor, credited at once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="top_ups")
    card = models.ForeignKey(FundingCard, on_delete=models.PROTECT, related_name="top_ups")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=16, choices=MovementStatus.choices, default=MovementStatus.PENDING)
    decline_code = models.CharField(max_length=32, blank=True)
    processor_reference = models.CharField(max_length=64, blank=True)
    transfer = models.ForeignKey("ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL: no key (unique only when set)
    request_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="payments_topup_idempotency_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_topup_amount_positive"),
        ]
        indexes = [models.Index(fields=["user", "-id"], name="payments_topup_user_idx")]

    def __str__(self) -> str:
        return f"Top-up #{self.pk} {format_money(self.amount, self.currency)}"


class CashOutSpeed(models.TextChoices):
    STANDARD = "standard", "Standard (1–3 business days, free)"
    INSTANT = "instant", "Instant (1.5% fee)"


class CashOut(models.Model):
    """Cash out to a linked card. Standard: a hold settled by a Celery task; instant: posted at once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cash_outs")
    card = models.ForeignKey(FundingCard, on_delete=models.PROTECT, related_name="cash_outs")
    amount = models.BigIntegerField(help_text="What arrives on the card")
    fee = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    speed = models.CharField(max_length=16, choices=CashOutSpeed.choices)
    status = models.CharField(max_length=16, choices=MovementStatus.choices, default=MovementStatus.PENDING)
    decline_code = models.CharField(max_length=32, blank=True)
    hold = models.ForeignKey("ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    transfer = models.ForeignKey("ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    settle_after = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL: no key (unique only when set)
    request_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="payments_cashout_idempotency_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0) & Q(fee__gte=0), name="payments_cashout_amounts"),
        ]
        indexes = [
            models.Index(fields=["user", "-id"], name="payments_cashout_user_idx"),
            models.Index(fields=["settle_after"], condition=Q(status="pending"), name="payments_cashout_due_idx"),
        ]

    def __str__(self) -> str:
        return f"Cash-out #{self.pk} {format_money(self.amount, self.currency)}"


# --- FX -----------------------------------------------------------------------------------


class FxRate(models.Model):
    """Mid-market rate: 1 ``base`` = ``rate`` ``quote``. The newest row per pair is the one in force."""

    base = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    quote = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    rate = models.DecimalField(max_digits=24, decimal_places=12)
    as_of = models.DateTimeField(help_text="When the source published this rate")
    source = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["base", "quote", "-as_of", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gt=0), name="payments_fxrate_positive"),
            models.CheckConstraint(condition=~Q(base=F("quote")), name="payments_fxrate_distinct_pair"),
        ]
        indexes = [models.Index(fields=["base", "quote", "-as_of", "-id"], name="payments_fxrate_pair_idx")]

    def __str__(self) -> str:
        return f"1 {self.base} = {self.rate} {self.quote} ({self.as_of:%Y-%m-%d %H:%M})"


class EscrowStatus(models.TextChoices):
    HELD = "held", "Held"
    DISPUTED = "disputed", "Disputed"
    RELEASED = "released", "Released to the seller"
    REFUNDED = "refunded", "Refunded to the buyer"


ESCROW_OPEN_STATUSES = (EscrowStatus.HELD, EscrowStatus.DISPUTED)


class Escrow(models.Model):
    """Pay with protection: the buyer's money is a ledger hold (buyer wallet -> seller wallet)
    until the buyer releases it, it auto-releases, or staff resolve a dispute (post or void)."""

    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="escrows_bought")
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="escrows_sold")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    description = models.CharField(max_length=280)
    status = models.CharField(max_length=16, choices=EscrowStatus.choices, default=EscrowStatus.HELD)
    # Where it was made ("conversation:12", "order:5"): owned by the caller, for links and admin.
    context = models.CharField(max_length=64, blank=True)
    hold = models.ForeignKey("ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    auto_release_at = models.DateTimeField()
    disputed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dispute_reason = models.CharField(max_length=1000, blank=True)
    disputed_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_note = models.CharField(max_length=500, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL: no key
    request_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["buyer", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="payments_escrow_idempotency_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_escrow_amount_positive"),
            models.CheckConstraint(condition=~Q(buyer=F("seller")), name="payments_escrow_not_to_self"),
        ]
        indexes = [
            models.Index(fields=["auto_release_at"], condition=Q(status="held"), name="payments_escrow_due_idx"),
            models.Index(fields=["status", "-id"], name="payments_escrow_status_idx"),
            models.Index(fields=["buyer", "-id"], name="payments_escrow_buyer_idx"),
            models.Index(fields=["seller", "-id"], name="payments_escrow_seller_idx"),
        ]

    def __str__(self) -> str:
        return f"Escrow #{self.pk} {format_money(self.amount, self.currency)} ({self.status})"


class WalletAccountManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(kind=AccountKind.WALLET)


class Wallet(Account):
    """Admin view of customer wallet accounts (a proxy: the rows are ledger accounts)."""

    objects = WalletAccountManager()

    class Meta:
        proxy = True
        verbose_name = "wallet"


class CheckStatus(models.TextChoices):
    OUTSTANDING = "outstanding", "Outstanding"
    DEPOSITED = "deposited", "Deposited"
    VOIDED = "voided", "Voided"
    STALE = "stale", "Stale (returned to the writer)"


class Check(models.Model):
    """A check written from a wallet. Writing it moves the money to the checks-outstanding
    account at once; a deposit moves it to the depositor's wallet, a void or staleness
    (after CHECK_STALE_DAYS) back to the writer. Exactly one of those ever happens."""

    writer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="checks_written")
    # Printed on the check; unique, so "number + deposit code" finds it.
    number = models.CharField(max_length=12, unique=True)
    payee_name = models.CharField(max_length=100)
    # Set when written to an @handle: then only that person may deposit it.
    payee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="checks_payable"
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    memo = models.CharField(max_length=140, blank=True)
    status = models.CharField(max_length=16, choices=CheckStatus.choices, default=CheckStatus.OUTSTANDING)
    # The secret printed on the check (and in its QR link), vault-encrypted like card numbers.
    deposit_code_encrypted = models.TextField()
    write_transfer = models.ForeignKey(
        "ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The deposit, or the return to the writer (void / stale).
    settle_transfer = models.ForeignKey(
        "ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deposited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="checks_deposited"
    )
    stale_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL: no key
    request_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["writer", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="payments_check_idempotency_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_check_amount_positive"),
            models.CheckConstraint(
                condition=Q(status="deposited", deposited_by__isnull=False)
                | (~Q(status="deposited") & Q(deposited_by__isnull=True)),
                name="payments_check_deposited_by_iff_deposited",
            ),
            models.CheckConstraint(
                condition=Q(status="outstanding", settled_at__isnull=True)
                | (~Q(status="outstanding") & Q(settled_at__isnull=False)),
                name="payments_check_settled_at_iff_settled",
            ),
        ]
        indexes = [
            models.Index(fields=["writer", "-id"], name="payments_check_writer_idx"),
            models.Index(fields=["deposited_by", "-id"], name="payments_check_depositor_idx"),
            models.Index(fields=["stale_at"], condition=Q(status="outstanding"), name="payments_check_due_idx"),
        ]

    def __str__(self) -> str:
        return f"Check {self.number} {format_money(self.amount, self.currency)} ({self.status})"

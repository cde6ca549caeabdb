"""The issued virtual debit card and the card network's view of it.

A ``Card`` spends from its holder's USD wallet. Its number and CVV live only in the vault
(Fernet, ``payments.vault``); in clear there are the last 4 digits, the expiry and a keyed
fingerprint (HMAC) used to find the card from a number a merchant sends.

The card network (``cards.network``) talks to us through ``Merchant`` API keys. Each call is a
``CardEvent`` keyed by (merchant, network transaction id): a replay returns the stored answer
and moves nothing. An approved authorisation is an ``Authorization`` holding a ledger hold
(wallet → card settlement); captures post parts of it, a reversal or the 7-day expiry releases
the rest, a refund credits the wallet back.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.money import CURRENCY_CHOICES, format_money


class CardStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    FROZEN = "frozen", "Frozen"
    CANCELLED = "cancelled", "Cancelled"


class IssueReason(models.TextChoices):
    THRESHOLD = "threshold", "Balance reached the threshold"
    REQUESTED = "requested", "Asked for by the holder"
    REPLACEMENT = "replacement", "Replacement"


class Card(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cards")
    # The USD wallet the card spends from (a ledger account of kind "wallet").
    account = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="+")
    number_encrypted = models.TextField()  # vault token of the 16 digits
    cvv_encrypted = models.TextField()  # vault token of the 3 digits
    fingerprint = models.CharField(max_length=64, unique=True)  # HMAC of the number: lookup without decrypting
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=CardStatus.choices, default=CardStatus.ACTIVE)
    # Limits in minor units of the card's currency (USD).
    per_purchase_limit = models.BigIntegerField()
    daily_limit = models.BigIntegerField()
    issue_reason = models.CharField(max_length=16, choices=IssueReason.choices)
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by")
    created_at = models.DateTimeField(auto_now_add=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Issued automatically or on request exactly once per person; later cards replace it.
            models.UniqueConstraint(fields=["user"], condition=Q(replaces__isnull=True), name="cards_one_first_card"),
            # At most one card that can still be used (active or frozen) per person.
            models.UniqueConstraint(fields=["user"], condition=~Q(status="cancelled"), name="cards_one_open_card"),
            models.CheckConstraint(condition=Q(exp_month__gte=1, exp_month__lte=12), name="cards_exp_month_valid"),
            models.CheckConstraint(condition=Q(per_purchase_limit__gt=0), name="cards_purchase_limit_positive"),
            models.CheckConstraint(condition=Q(daily_limit__gt=0), name="cards_daily_limit_positive"),
            models.CheckConstraint(
                condition=Q(status="cancelled", cancelled_at__isnull=False) | ~Q(status="cancelled"),
                name="cards_cancelled_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Card •••• {self.last4} ({self.status})"

    @property
    def masked(self) -> str:
        return f"•••• {self.last4}"

    @property
    def expiry(self) -> str:
        return f"{self.exp_month:02d}/{self.exp_year % 100:02d}"


class Merchant(models.Model):
    """A business allowed to call the card network API, with its API key (stored hashed)."""

    name = models.CharField(max_length=100)
    category_code = models.CharField(max_length=4, default="5999")  # ISO 18245 MCC used when a call gives none
    # sha256 of the key; the key itself is shown once, when made in the admin.
    api_key_hash = models.CharField(max_length=64, unique=True)
    api_key_prefix = models.CharField(max_length=12)  # the first characters, to recognise a key
    is_active = models.BooleanField(default=True)
    # The demo checkout page's own merchant (one, made on first use).
    is_demo = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_demo"], condition=Q(is_demo=True), name="cards_one_demo_merchant"),
            models.CheckConstraint(condition=Q(category_code__regex=r"^[0-9]{4}$"), name="cards_mcc_four_digits"),
        ]

    def __str__(self) -> str:
        return self.name


class AuthorizationStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # approved, money held, nothing captured yet
    PARTIALLY_CAPTURED = "partially_captured", "Partly captured"  # captured some, the rest still held
    CAPTURED = "captured", "Captured"  # done: captured (all or part) and nothing held any more
    REVERSED = "reversed", "Reversed"  # released with nothing captured
    EXPIRED = "expired", "Expired"  # not captured within 7 days; the rest came back
    DECLINED = "declined", "Declined"


class DeclineReason(models.TextChoices):
    CARD_NOT_FOUND = "card_not_found", "Unknown card"
    FROZEN = "card_frozen", "Card frozen"
    CANCELLED = "card_cancelled", "Card cancelled"
    EXPIRED = "card_expired", "Card expired"
    WRONG_EXPIRY = "wrong_expiry", "Wrong expiry date"
    WRONG_CVV = "wrong_cvv", "Wrong CVV"
    OVER_PURCHASE_LIMIT = "over_purchase_limit", "Over the per-purchase limit"
    OVER_DAILY_LIMIT = "over_daily_limit", "Over the daily limit"
    INSUFFICIENT_FUNDS = "insufficient_funds", "Insufficient funds"
    CURRENCY_NOT_SUPPORTED = "currency_not_supported", "Currency not supported"
    ACCOUNT_FROZEN = "account_frozen", "Account frozen by compliance"


class Authorization(models.Model):
    """One purchase as the card network sees it: approved (a ledger hold) or declined."""

    card = models.ForeignKey(Card, null=True, blank=True, on_delete=models.PROTECT, related_name="authorizations")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="authorizations")
    network_transaction_id = models.CharField(max_length=64)
    merchant_name = models.CharField(max_length=100)  # as the merchant sent it (shown in the wallet feed)
    category_code = models.CharField(max_length=4)
    # What the merchant asked for, and what is held on the card's account (USD minor units).
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=24, choices=AuthorizationStatus.choices)
    decline_reason = models.CharField(max_length=32, choices=DeclineReason.choices, blank=True)
    hold = models.OneToOneField(
        "ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="card_authorization"
    )
    captured_amount = models.BigIntegerField(default=0)
    refunded_amount = models.BigIntegerField(default=0)
    released_amount = models.BigIntegerField(default=0)  # reversed or expired
    expires_at = models.DateTimeField(null=True, blank=True)  # when an uncaptured hold is released
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "network_transaction_id"], name="cards_authorization_network_id_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="cards_authorization_amount_positive"),
            models.CheckConstraint(
                condition=Q(captured_amount__gte=0, refunded_amount__gte=0, released_amount__gte=0),
                name="cards_authorization_counters_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(captured_amount__lte=F("amount") - F("released_amount")),
                name="cards_authorization_capture_within_hold",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=F("captured_amount")), name="cards_authorization_refund_within_capture"
            ),
            models.CheckConstraint(
                condition=Q(status="declined", hold__isnull=True) | (~Q(status="declined") & Q(hold__isnull=False)),
                name="cards_authorization_hold_iff_approved",
            ),
        ]
        indexes = [
            models.Index(fields=["card", "-created_at"], name="cards_auth_card_recent_idx"),
            models.Index(
                fields=["expires_at"],
                condition=Q(status__in=["pending", "partially_captured"]),
                name="cards_auth_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_name} {format_money(self.amount, self.currency)} ({self.status})"

    @property
    def held_amount(self) -> int:
        """What is still reserved on the card's account for this purchase."""
        if self.status not in (AuthorizationStatus.PENDING, AuthorizationStatus.PARTIALLY_CAPTURED):
            return 0
        return self.amount - self.captured_amount - self.released_amount


class CardEventKind(models.TextChoices):
    AUTHORIZE = "authorize", "Authorise"
    CAPTURE = "capture", "Capture"
    REVERSE = "reverse", "Reverse"
    REFUND = "refund", "Refund"
    EXPIRE = "expire", "Expiry"


class CardEvent(models.Model):
    """One call from the network (or the expiry task), kept with its answer so a replay returns it."""

    merchant = models.ForeignKey(Merchant, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    network_transaction_id = models.CharField(max_length=64, blank=True)  # blank for the expiry task
    kind = models.CharField(max_length=16, choices=CardEventKind.choices)
    authorization = models.ForeignKey(
        Authorization, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    amount = models.BigIntegerField(default=0)
    approved = models.BooleanField()
    decline_reason = models.CharField(max_length=32, blank=True)
    transfer = models.ForeignKey("ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    request_hash = models.CharField(max_length=64, blank=True)
    response = models.JSONField(default=dict)  # the answer given, replayed verbatim
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "network_transaction_id"],
                condition=~Q(network_transaction_id=""),
                name="cards_event_network_id_unique",
            ),
        ]
        indexes = [models.Index(fields=["authorization", "id"], name="cards_event_auth_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.network_transaction_id or '#' + str(self.pk)}"

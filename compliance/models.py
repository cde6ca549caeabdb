"""Compliance records: KYC profiles, sending-limit usage, risk reviews, freezes and the audit trail.

The rules live in ``compliance.services``; the database backs the ones that must
never break with constraints (one active freeze per user, a tier only with the
details it needs, maker-checker on two-person approvals, the last 4 of a national
id being exactly four digits). ``AuditEntry`` rows are append-only.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length, Substr
from django.db.models.lookups import Exact, In
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django_countries.fields import CountryField

from core.money import format_money

DIGITS = list("0123456789")


# --- Private storage for identity documents ------------------------------------------------


def private_media_root() -> Path:
    """Where identity documents live: ``settings.PRIVATE_MEDIA_ROOT``, the env var, or BASE_DIR/private-media.

    Never under MEDIA_ROOT, never served by URL: staff see a document only through the
    access-checked view ``compliance:document``.
    """
    configured = getattr(settings, "PRIVATE_MEDIA_ROOT", None) or os.environ.get("PRIVATE_MEDIA_ROOT")
    return Path(configured) if configured else Path(settings.BASE_DIR) / "private-media"


@deconstructible(path="compliance.models.PrivateDocumentStorage")
class PrivateDocumentStorage(FileSystemStorage):
    """A file-system storage outside MEDIA_ROOT, resolved at use (so tests can point it elsewhere), with no URL."""

    def __init__(self):
        super().__init__(base_url=None)

    @property
    def base_location(self):
        return str(private_media_root())

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("Identity documents have no public URL; use the compliance:document view.")


private_document_storage = PrivateDocumentStorage()


def kyc_document_path(instance, filename: str) -> str:
    """A random name: the uploaded file name (which may carry a person's name) is not kept."""
    extension = Path(filename).suffix.lower().lstrip(".") or "bin"
    return f"kyc/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{extension}"


# --- KYC ------------------------------------------------------------------------------------


class Tier(models.IntegerChoices):
    EMAIL = 0, "Tier 0 — email verified"
    DETAILS = 1, "Tier 1 — identity details"
    DOCUMENT = 2, "Tier 2 — document verified"


class DocumentStatus(models.TextChoices):
    NONE = "none", "Not submitted"
    PENDING = "pending", "Waiting for review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class KycProfile(models.Model):
    """What we know about a person's identity, and the verification tier it earns them."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="kyc")
    legal_name = models.CharField(max_length=200, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state / region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = CountryField(blank=True)
    national_id_last4 = models.CharField(
        "national ID (last 4)", max_length=4, blank=True, help_text="Only the last 4 digits are ever stored."
    )
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.EMAIL)

    document = models.ImageField(storage=private_document_storage, upload_to=kyc_document_path, blank=True)
    document_status = models.CharField(max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.NONE)
    document_submitted_at = models.DateTimeField(null=True, blank=True)
    document_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    document_reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True, help_text="Shown to the person when a document is rejected.")

    weekly_limit_override = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="US cents per rolling 7 days, replacing the tier's limit (e.g. a business account).",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "KYC profile"
        constraints = [
            models.CheckConstraint(condition=Q(tier__in=Tier.values), name="compliance_kyc_tier_valid"),
            models.CheckConstraint(
                condition=Q(document_status__in=DocumentStatus.values), name="compliance_kyc_document_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(national_id_last4="")
                | (
                    Q(Exact(Length("national_id_last4"), 4))
                    & Q(In(Substr("national_id_last4", 1, 1), DIGITS))
                    & Q(In(Substr("national_id_last4", 2, 1), DIGITS))
                    & Q(In(Substr("national_id_last4", 3, 1), DIGITS))
                    & Q(In(Substr("national_id_last4", 4, 1), DIGITS))
                ),
                name="compliance_kyc_national_id_last4_digits",
            ),
            # A tier is only ever held with what it requires.
            models.CheckConstraint(
                condition=Q(tier=Tier.EMAIL)
                | (
                    ~Q(legal_name="")
                    & Q(date_of_birth__isnull=False)
                    & ~Q(address_line1="")
                    & ~Q(country="")
                    & ~Q(national_id_last4="")
                ),
                name="compliance_kyc_tier_needs_details",
            ),
            models.CheckConstraint(
                condition=~Q(tier=Tier.DOCUMENT) | Q(document_status=DocumentStatus.APPROVED),
                name="compliance_kyc_tier2_needs_document",
            ),
            models.CheckConstraint(
                condition=Q(weekly_limit_override__isnull=True) | Q(weekly_limit_override__gte=0),
                name="compliance_kyc_override_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["document_status", "document_submitted_at"], name="compliance_kyc_doc_queue_idx"),
            models.Index(fields=["tier"], name="compliance_kyc_tier_idx"),
        ]

    def __str__(self) -> str:
        return f"KYC of @{self.user.handle}" if self.user_id else "KYC profile"


# --- Limits ---------------------------------------------------------------------------------


class LimitUsage(models.Model):
    """One payment's share of its sender's rolling 7-day limit (released when the money goes back)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="limit_usages")
    reference = models.CharField(max_length=64, unique=True, help_text='What used it, e.g. "payment:42"')
    usd_minor = models.BigIntegerField(help_text="US cents")
    new_recipient = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(usd_minor__gte=0), name="compliance_limit_usage_not_negative"),
        ]
        indexes = [
            models.Index(fields=["user", "created_at"], name="compliance_usage_user_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {format_money(self.usd_minor, 'USD')}"


# --- Risk reviews ---------------------------------------------------------------------------


class ReviewReason(models.TextChoices):
    LARGE_AMOUNT = "large_amount", "Large payment"
    NEW_RECIPIENT_BURST = "new_recipient_burst", "Several payments to new people in a short time"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    AWAITING_SECOND = "awaiting_second", "Awaiting a second approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


OPEN_REVIEW_STATUSES = (ReviewStatus.PENDING, ReviewStatus.AWAITING_SECOND)


class RiskReview(models.Model):
    """Something a user did (a payment) held until staff decide, or until its deadline passes."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="risk_reviews")
    subject = models.CharField(max_length=64, unique=True, help_text='What is held, e.g. "payment:42"')
    reason = models.CharField(max_length=32, choices=ReviewReason.choices)
    usd_minor = models.BigIntegerField(help_text="US cents")
    summary = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    deadline = models.DateTimeField()
    first_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    first_approved_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["deadline", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ReviewStatus.values), name="compliance_review_status_valid"),
            models.CheckConstraint(condition=Q(reason__in=ReviewReason.values), name="compliance_review_reason_valid"),
            models.CheckConstraint(condition=Q(usd_minor__gte=0), name="compliance_review_amount_not_negative"),
            models.CheckConstraint(
                condition=~Q(status=ReviewStatus.AWAITING_SECOND) | Q(first_approver__isnull=False),
                name="compliance_review_second_needs_first",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[ReviewStatus.APPROVED, ReviewStatus.REJECTED])
                | Q(decided_by__isnull=False, decided_at__isnull=False),
                name="compliance_review_decision_has_decider",
            ),
            models.CheckConstraint(
                condition=~Q(status=ReviewStatus.EXPIRED) | Q(decided_at__isnull=False, decided_by__isnull=True),
                name="compliance_review_expiry_has_no_decider",
            ),
            # Maker-checker: whoever made the first approval never makes the final one (rejecting is fine).
            models.CheckConstraint(
                condition=~Q(status=ReviewStatus.APPROVED)
                | Q(first_approver__isnull=True)
                | ~Q(decided_by=F("first_approver")),
                name="compliance_review_two_different_approvers",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "deadline"], name="compliance_review_queue_idx"),
            models.Index(fields=["user", "status"], name="compliance_review_user_idx"),
        ]

    def __str__(self) -> str:
        return f"Review of {self.subject} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_REVIEW_STATUSES

    @property
    def amount_display(self) -> str:
        return format_money(self.usd_minor, "USD")


# --- Freezes --------------------------------------------------------------------------------


class AccountFreeze(models.Model):
    """Staff stopped this user from sending money. Active while ``lifted_at`` is empty."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="freezes")
    reason = models.TextField(help_text="Shown to the person: say why, plainly.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(lifted_at__isnull=True), name="compliance_one_active_freeze_per_user"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="compliance_freeze_has_reason"),
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True, lifted_by__isnull=True)
                | (Q(lifted_at__isnull=False, lifted_by__isnull=False) & ~Q(lift_reason="")),
                name="compliance_freeze_lift_complete",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="compliance_freeze_user_idx"),
            models.Index(fields=["-created_at"], name="compliance_freeze_created_idx"),
        ]

    def __str__(self) -> str:
        return f"Freeze of @{self.user.handle}" + ("" if self.is_active else " (lifted)")

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


class FreezeAppeal(models.Model):
    """A frozen user's message to staff. One open (unresolved) appeal per freeze."""

    freeze = models.ForeignKey(AccountFreeze, on_delete=models.PROTECT, related_name="appeals")
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    resolved = models.BooleanField(default=False)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["freeze"], condition=Q(resolved=False), name="compliance_one_open_appeal_per_freeze"
            ),
            models.CheckConstraint(condition=~Q(text=""), name="compliance_appeal_has_text"),
        ]
        indexes = [models.Index(fields=["resolved", "-created_at"], name="compliance_appeal_queue_idx")]

    def __str__(self) -> str:
        return f"Appeal #{self.pk} against freeze #{self.freeze_id}"


# --- Audit trail ----------------------------------------------------------------------------


class ImmutableError(Exception):
    """Audit entries are append-only."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableError("Audit entries cannot be edited.")

    def delete(self):
        raise ImmutableError("Audit entries cannot be deleted.")


class AuditEntry(models.Model):
    """One sensitive action (almost always a staff member's), kept forever: append-only."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for the system (e.g. a deadline passing).",
    )
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "audit entries"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at"], name="compliance_audit_created_idx"),
            models.Index(fields=["target_type", "target_id"], name="compliance_audit_target_idx"),
            models.Index(fields=["actor", "-created_at"], name="compliance_audit_actor_idx"),
            models.Index(fields=["action", "-created_at"], name="compliance_audit_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_repr or self.target_id}".strip()

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError("Audit entries cannot be edited.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("Audit entries cannot be deleted.")

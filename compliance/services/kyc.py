"""KYC: identity details (tier 1, 18+), the identity document (tier 2, staff review), limit overrides."""

from __future__ import annotations

import io
import logging
from datetime import date, datetime

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django_countries import countries
from PIL import Image, ImageOps, UnidentifiedImageError

from core.db import retry_on_conflict
from core.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from core.money import MAX_AMOUNT_MINOR
from notifications.services import notify

from ..errors import VERIFY_URL
from ..models import DocumentStatus, KycProfile, Tier
from ..selectors import usd, weekly_limit_of
from ..signals import kyc_tier_changed
from .common import (
    DOCUMENT_FORMATS,
    DOCUMENT_MAX_BYTES,
    DOCUMENT_MAX_PIXELS,
    MIN_AGE_YEARS,
    _instance,
    _require_staff,
    _text,
    audit_record,
)

logger = logging.getLogger(__name__)


def _tier_raised_on_commit(user, tier: int) -> None:
    """Send ``kyc_tier_changed`` once the transaction that raised the tier commits."""

    def send() -> None:
        for receiver, result in kyc_tier_changed.send_robust(sender=KycProfile, user=user, tier=tier):
            if isinstance(result, Exception):
                logger.error("kyc_tier_changed receiver %r failed", receiver, exc_info=result)

    transaction.on_commit(send)


class TooYoung(ValidationFailed):
    code = "too_young"
    default_message = f"You must be {MIN_AGE_YEARS} or older to send money."


class DocumentInvalid(ValidationFailed):
    code = "invalid_document"
    default_message = "Upload a photo or scan of your identity document: a JPEG, PNG or WebP image of at most 5 MB."

    def __init__(self, message: str | None = None):
        super().__init__(message, fields={"document": [message or self.default_message]})


# --- KYC ------------------------------------------------------------------------------------


def kyc_tier(user) -> int:
    """The user's verification tier: 0 (email verified), 1 (details) or 2 (document approved)."""
    row = KycProfile.objects.filter(user_id=user.pk).values_list("tier", flat=True).first() if user.pk else None
    return row if row is not None else Tier.EMAIL


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _check_date_of_birth(value) -> date:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationFailed(
                "Enter your date of birth as YYYY-MM-DD.",
                fields={"date_of_birth": ["Enter your date of birth as YYYY-MM-DD."]},
            ) from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationFailed("Enter your date of birth.", fields={"date_of_birth": ["Enter your date of birth."]})
    today = timezone.localdate()
    if value > today:
        raise ValidationFailed(
            "Your date of birth cannot be in the future.",
            fields={"date_of_birth": ["Your date of birth cannot be in the future."]},
        )
    age = _age(value, today)
    if age < MIN_AGE_YEARS:
        raise TooYoung(
            f"You must be {MIN_AGE_YEARS} or older to send money. You can still receive money, "
            f"and verify your identity once you turn {MIN_AGE_YEARS}.",
            fields={"date_of_birth": [f"You must be {MIN_AGE_YEARS} or older."]},
        )
    if age > 130:
        raise ValidationFailed("Check your date of birth.", fields={"date_of_birth": ["Check the year of your birth."]})
    return value


def _kyc_details_clean(**raw) -> dict:
    """Normalise and check tier-1 details; one ValidationFailed listing every problem."""
    errors: dict[str, list[str]] = {}
    clean: dict = {}

    def text(name: str, label: str, max_length: int, required: bool = True):
        value = " ".join(str(raw.get(name) or "").split())
        if required and not value:
            errors[name] = [f"Enter your {label}."]
        elif len(value) > max_length:
            errors[name] = [f"At most {max_length} characters."]
        clean[name] = value

    text("legal_name", "full legal name", 200)
    if clean["legal_name"] and not any(ch.isalpha() for ch in clean["legal_name"]):
        errors["legal_name"] = ["Enter your name as it appears on your identity document."]
    text("address_line1", "street address", 200)
    text("address_line2", "address line 2", 200, required=False)
    text("city", "city or town", 100)
    text("region", "state or region", 100, required=False)
    text("postal_code", "postal code", 20)
    country = str(raw.get("country") or "").strip().upper()
    if not country:
        errors["country"] = ["Choose your country."]
    elif country not in countries:
        errors["country"] = ["Choose a country from the list."]
    elif country == "US" and not clean["region"]:
        errors["region"] = ["Enter your state."]
    clean["country"] = country
    last4 = "".join(str(raw.get("national_id_last4") or "").split())
    if len(last4) != 4 or any(ch not in "0123456789" for ch in last4):
        errors["national_id_last4"] = ["Enter exactly the last 4 digits of your national ID number (e.g. your SSN)."]
    clean["national_id_last4"] = last4
    try:
        clean["date_of_birth"] = _check_date_of_birth(raw.get("date_of_birth"))
    except TooYoung:
        if errors:  # report the age together with the rest
            errors["date_of_birth"] = [f"You must be {MIN_AGE_YEARS} or older."]
        else:
            raise
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if errors:
        if "date_of_birth" in errors and errors["date_of_birth"] == [f"You must be {MIN_AGE_YEARS} or older."]:
            message = f"You must be {MIN_AGE_YEARS} or older to send money; also check the highlighted fields."
        elif len(errors) == 1:
            message = next(iter(errors.values()))[0]
        else:
            message = "Some of your details need another look: check the highlighted fields."
        raise ValidationFailed(message, fields=errors)
    return clean


@retry_on_conflict
def kyc_submit_details(
    user,
    *,
    legal_name: str,
    date_of_birth,
    address_line1: str,
    address_line2: str = "",
    city: str,
    region: str = "",
    postal_code: str,
    country: str,
    national_id_last4: str,
) -> KycProfile:
    """Record the person's identity details and raise them to tier 1 (from tier 0).

    Guarantees: atomic; refuses anyone under 18 (``TooYoung``, with a clear
    message) and incomplete or malformed details (``ValidationFailed`` naming
    each field). Only the last 4 digits of the national id are accepted and
    stored. A tier-2 person who changes their legal name or date of birth goes
    back to tier 1: the approved document no longer matches and must be
    uploaded again. The person themself calls this.
    """
    details = _kyc_details_clean(
        legal_name=legal_name,
        date_of_birth=date_of_birth,
        address_line1=address_line1,
        address_line2=address_line2,
        city=city,
        region=region,
        postal_code=postal_code,
        country=country,
        national_id_last4=national_id_last4,
    )
    with transaction.atomic():
        KycProfile.objects.get_or_create(user=user)
        profile = KycProfile.objects.select_for_update().get(user=user)
        identity_changed = profile.tier == Tier.DOCUMENT and (
            profile.legal_name != details["legal_name"] or profile.date_of_birth != details["date_of_birth"]
        )
        for name, value in details.items():
            setattr(profile, name, value)
        if identity_changed:
            profile.tier = Tier.DETAILS
            profile.document_status = DocumentStatus.NONE
            profile.review_note = "Your name or date of birth changed: upload your identity document again."
        tier_before = profile.tier
        profile.tier = max(profile.tier, Tier.DETAILS)
        profile.save()
        if profile.tier > tier_before:
            _tier_raised_on_commit(user, profile.tier)
    return profile


def _document_prepare(file) -> ContentFile:
    """Check an uploaded identity document is a real image and re-encode it (drops metadata such as GPS)."""
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, io.SEEK_END)
        size = file.tell()
    if not size:
        raise DocumentInvalid("That file is empty.")
    if size > DOCUMENT_MAX_BYTES:
        raise DocumentInvalid(f"That file is {size / 1024 / 1024:.1f} MB; the limit is 5 MB.")
    try:
        file.seek(0)
        with Image.open(file) as probe:
            image_format = probe.format
            width, height = probe.size
            probe.verify()
        if image_format not in DOCUMENT_FORMATS:
            raise DocumentInvalid("Upload a JPEG, PNG or WebP image of your document.")
        if width * height > DOCUMENT_MAX_PIXELS:
            raise DocumentInvalid("That image has too many pixels; use one under 60 megapixels.")
        if min(width, height) < 200:
            raise DocumentInvalid("That image is too small to read; use a photo at least 200 pixels on each side.")
        file.seek(0)
        with Image.open(file) as image:
            image = ImageOps.exif_transpose(image)
            out = io.BytesIO()
            if image_format == "PNG":
                image.convert("RGBA" if "A" in image.getbands() else "RGB").save(out, format="PNG", optimize=True)
                extension = "png"
            else:
                image.convert("RGB").save(out, format="JPEG", quality=92)
                extension = "jpg"
    except DocumentInvalid:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise DocumentInvalid("That file is not an image we can read: upload a JPEG, PNG or WebP photo.") from None
    except (OSError, ValueError, SyntaxError):
        raise DocumentInvalid("That image is damaged or incomplete; try another photo.") from None
    return ContentFile(out.getvalue(), name=f"document.{extension}")


def kyc_submit_document(user, *, file) -> KycProfile:
    """Upload a photo of an identity document for staff review (status: pending).

    Guarantees: only a real JPEG, PNG or WebP image of at most 5 MB is accepted
    (checked with Pillow, whatever its name says), re-encoded without its
    metadata and stored in the private document storage (never under a public
    URL). Needs tier 1 first; refused once a document is approved. A new upload
    replaces a pending or rejected one (the old file is deleted on commit).
    """
    profile = KycProfile.objects.filter(user_id=user.pk).first()
    if profile is None or profile.tier < Tier.DETAILS:
        raise ValidationFailed(
            "Add your name, date of birth, address and national ID digits first; then upload your document.",
            code="details_required",
            fields={"document": ["Add your details first."]},
        )
    if profile.document_status == DocumentStatus.APPROVED:
        raise Conflict("Your identity document is already approved.", code="document_already_approved")
    content = _document_prepare(file)
    with transaction.atomic():
        profile = KycProfile.objects.select_for_update().get(pk=profile.pk)
        if profile.document_status == DocumentStatus.APPROVED:
            raise Conflict("Your identity document is already approved.", code="document_already_approved")
        old_name = profile.document.name if profile.document else ""
        profile.document.save(content.name, content, save=False)
        new_name = profile.document.name
        profile.document_status = DocumentStatus.PENDING
        profile.document_submitted_at = timezone.now()
        profile.document_reviewed_by = None
        profile.document_reviewed_at = None
        profile.review_note = ""
        profile.save()
        storage = profile.document.storage
        if old_name and old_name != new_name:
            transaction.on_commit(lambda: storage.delete(old_name))
    return profile


@retry_on_conflict
def kyc_document_review(staff, *, profile: KycProfile | int, approve: bool, note: str = "") -> KycProfile:
    """Staff approve (the person reaches tier 2) or reject (a note saying why is required) a pending document.

    Guarantees: atomic with its audit entry and the person's notification; only
    staff, never on their own profile; a document not waiting for review answers
    Conflict (so two staff clicking at once decide once).
    """
    _require_staff(staff, "review identity documents")
    pk = _instance(KycProfile, profile, what="profile")
    note = _text(note, name="note", label="The note", required=not approve)
    with transaction.atomic():
        profile = KycProfile.objects.select_for_update(of=("self",)).select_related("user").filter(pk=pk).first()
        if profile is None:
            raise NotFound("That profile does not exist.")
        if profile.user_id == staff.pk:
            raise NotPermitted("You cannot review your own identity document.", code="own_record")
        if profile.document_status != DocumentStatus.PENDING:
            raise Conflict(
                f"This document is not waiting for review (it is {profile.get_document_status_display().lower()}).",
                code="already_reviewed",
            )
        now = timezone.now()
        profile.document_reviewed_by = staff
        profile.document_reviewed_at = now
        profile.review_note = note
        if approve:
            profile.document_status = DocumentStatus.APPROVED
            if profile.tier < Tier.DOCUMENT:
                _tier_raised_on_commit(profile.user, Tier.DOCUMENT)
            profile.tier = Tier.DOCUMENT
        else:
            profile.document_status = DocumentStatus.REJECTED
        profile.save()
        audit_record(
            actor=staff,
            action="kyc.document_approve" if approve else "kyc.document_reject",
            target=profile,
            reason=note,
            data={"user": profile.user.handle, "tier": profile.tier},
        )
        if approve:
            notify(
                profile.user,
                kind="compliance.document_approved",
                data={"limit": usd(weekly_limit_of(profile)), "url": VERIFY_URL},
            )
        else:
            notify(profile.user, kind="compliance.document_rejected", data={"note": note, "url": VERIFY_URL})
    return profile


def kyc_document_open(staff, *, profile: KycProfile | int):
    """Open a person's identity document for staff to look at; the viewing is audited.

    Staff only; NotFound when the profile or its document does not exist. The
    caller closes the returned file (a ``FileResponse`` does).
    """
    _require_staff(staff, "see identity documents")
    pk = _instance(KycProfile, profile, what="document")
    profile = KycProfile.objects.select_related("user").filter(pk=pk).first()
    if profile is None or not profile.document:
        raise NotFound("That document does not exist.")
    try:
        opened = profile.document.storage.open(profile.document.name, "rb")
    except FileNotFoundError:
        raise NotFound("That document's file is missing.") from None
    audit_record(actor=staff, action="kyc.document_view", target=profile, data={"user": profile.user.handle})
    return opened


def kyc_limit_override_set(staff, *, profile: KycProfile | int, usd_minor: int | None, reason: str) -> KycProfile:
    """Staff set (or clear, with None) a person's 7-day limit in US cents, e.g. for a business account.

    Guarantees: staff only, a reason is required, atomic with its audit entry.
    """
    _require_staff(staff, "change sending limits")
    reason = _text(reason, name="reason", label="The reason")
    if usd_minor is not None and (
        isinstance(usd_minor, bool) or not isinstance(usd_minor, int) or not 0 <= usd_minor <= MAX_AMOUNT_MINOR
    ):
        raise ValidationFailed("The limit must be a whole number of cents, from 0 to 10,000,000,000,000.00.")
    pk = _instance(KycProfile, profile, what="profile")
    with transaction.atomic():
        profile = KycProfile.objects.select_for_update().filter(pk=pk).first()
        if profile is None:
            raise NotFound("That profile does not exist.")
        if profile.user_id == staff.pk:
            raise NotPermitted("You cannot change your own sending limit.", code="own_record")
        before = profile.weekly_limit_override
        profile.weekly_limit_override = usd_minor
        profile.save(update_fields=["weekly_limit_override", "updated_at"])
        audit_record(
            actor=staff,
            action="kyc.limit_override",
            target=profile,
            reason=reason,
            data={"from": before, "to": usd_minor},
        )
    return profile

"""Opening and running a shop; staff suspension (audited).

Rules: a shop needs a KYC tier-1 owner (the same verification as sending money, because
sellers are paid); one shop per user; the slug is 3–50 characters of ``a-z``, ``0-9`` and
``-`` (not starting or ending with ``-``), unique, and never one of the marketplace's own
words (``RESERVED_SLUGS``) so ``/shop/<slug>/`` cannot shadow a page. A logo is a checked
image (``core.images``), re-encoded without metadata, stored privately under a random name.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.errors import VerificationRequired
from compliance.services import audit_record
from compliance.services.kyc import kyc_tier
from core.errors import Conflict, NotFound, NotPermitted, ValidationFailed

from ..models import Shop
from .listings import check_text, image_prepare

RESERVED_SLUGS = frozenset(
    {"cart", "orders", "sell", "checkout", "listings", "media", "new", "search", "api", "admin", "static"}
)
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,48})[a-z0-9]$")
LOGO_MAX_BYTES = 5 * 1024 * 1024


class ShopExists(Conflict):
    code = "shop_exists"
    default_message = "You already have a shop."


class SlugTaken(Conflict):
    code = "slug_taken"
    default_message = "That shop address is taken; choose another."


def _require_staff(user) -> None:
    if not (getattr(user, "is_authenticated", False) and user.is_staff):
        raise NotPermitted("Only staff can do that.", code="staff_only")


def _check_slug(slug: object) -> str:
    if not isinstance(slug, str):
        raise ValidationFailed("Choose a shop address.", fields={"slug": ["Required."]})
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug) or "--" in slug:
        raise ValidationFailed(
            "A shop address is 3–50 lowercase letters, digits and single hyphens (not at either end).",
            code="invalid_slug",
            fields={"slug": ["Use 3–50 of a-z, 0-9 and -."]},
        )
    if slug in RESERVED_SLUGS:
        raise ValidationFailed(
            f"“{slug}” is reserved; choose another address.", code="reserved_slug", fields={"slug": ["Reserved."]}
        )
    return slug


def _own_shop(user, shop: Shop | int) -> Shop:
    pk = shop.pk if isinstance(shop, Shop) else shop
    if isinstance(pk, bool) or not isinstance(pk, int):
        raise NotFound("That shop does not exist.", code="shop_not_found")
    found = Shop.objects.filter(pk=pk, owner_id=getattr(user, "pk", None)).first()
    if found is None:
        raise NotFound("That shop does not exist.", code="shop_not_found")
    return found


def _save_logo(shop: Shop, logo) -> None:
    prepared, _sniffed = image_prepare(logo, max_bytes=LOGO_MAX_BYTES, field="logo", label="logo")
    old = shop.logo.name if shop.logo else ""
    shop.logo.save(prepared.name, prepared, save=False)
    shop.save(update_fields=["logo"])
    if old and old != shop.logo.name:
        transaction.on_commit(lambda: shop.logo.storage.delete(old))


def shop_open(user, *, name, slug, description="", return_policy="", logo=None) -> Shop:
    """Open ``user``'s shop. Atomic. Raises VerificationRequired (below tier 1), ShopExists,
    SlugTaken, ValidationFailed (name, slug, texts, logo)."""
    if not getattr(user, "is_authenticated", False):
        raise NotPermitted("Sign in to open a shop.")
    name = check_text(name, field="name", label="shop name", max_length=80, required=True)
    slug = _check_slug(slug)
    description = check_text(description, field="description", label="description", max_length=2000)
    return_policy = check_text(return_policy, field="return_policy", label="return policy", max_length=2000)
    if kyc_tier(user) < 1:
        raise VerificationRequired(
            "Verify your identity (legal name, date of birth, address, last 4 digits of your national ID) "
            "at /compliance/verify/ before you open a shop: sellers are paid through their wallet."
        )
    if Shop.objects.filter(owner_id=user.pk).exists():
        raise ShopExists()
    if Shop.objects.filter(slug=slug).exists():
        raise SlugTaken(fields={"slug": ["Taken."]})
    try:
        with transaction.atomic():
            shop = Shop.objects.create(
                owner=user, name=name, slug=slug, description=description, return_policy=return_policy
            )
            if logo:
                _save_logo(shop, logo)
    except IntegrityError:
        if Shop.objects.filter(owner_id=user.pk).exists():
            raise ShopExists() from None
        raise SlugTaken(fields={"slug": ["Taken."]}) from None
    return shop


def shop_update(user, *, shop, name=None, description=None, return_policy=None, logo=None) -> Shop:
    """Change the owner's shop (only the given fields). Someone else's shop: NotFound."""
    shop = _own_shop(user, shop)
    fields = []
    if name is not None:
        shop.name = check_text(name, field="name", label="shop name", max_length=80, required=True)
        fields.append("name")
    if description is not None:
        shop.description = check_text(description, field="description", label="description", max_length=2000)
        fields.append("description")
    if return_policy is not None:
        shop.return_policy = check_text(return_policy, field="return_policy", label="return policy", max_length=2000)
        fields.append("return_policy")
    with transaction.atomic():
        if fields:
            shop.save(update_fields=fields)
        if logo:
            _save_logo(shop, logo)
    return shop


def shop_suspend(staff, *, shop, reason) -> Shop:
    """Staff: hide the shop and its listings from the marketplace (open orders go on). Audited."""
    _require_staff(staff)
    reason = check_text(reason, field="reason", label="reason", max_length=500, required=True)
    with transaction.atomic():
        locked = Shop.objects.select_for_update().filter(pk=getattr(shop, "pk", shop)).first()
        if locked is None:
            raise NotFound("That shop does not exist.", code="shop_not_found")
        if locked.suspended_at is not None:
            raise Conflict("That shop is already suspended.", code="shop_already_suspended")
        locked.suspended_at = timezone.now()
        locked.suspension_reason = reason
        locked.save(update_fields=["suspended_at", "suspension_reason"])
        audit_record(actor=staff, action="commerce.shop_suspend", target=locked, reason=reason)
    return locked


def shop_unsuspend(staff, *, shop) -> Shop:
    """Staff: lift a suspension. Audited."""
    _require_staff(staff)
    with transaction.atomic():
        locked = Shop.objects.select_for_update().filter(pk=getattr(shop, "pk", shop)).first()
        if locked is None:
            raise NotFound("That shop does not exist.", code="shop_not_found")
        if locked.suspended_at is None:
            raise Conflict("That shop is not suspended.", code="shop_not_suspended")
        previous = locked.suspension_reason
        locked.suspended_at = None
        locked.suspension_reason = ""
        locked.save(update_fields=["suspended_at", "suspension_reason"])
        audit_record(actor=staff, action="commerce.shop_unsuspend", target=locked, data={"was": previous})
    return locked

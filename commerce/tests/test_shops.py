"""Opening a shop: tier 1, one per user, slugs; updating; staff suspension (audited)."""

from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory
from commerce.models import Shop
from commerce.services import shop_open, shop_suspend, shop_unsuspend, shop_update
from commerce.services.shops import ShopExists, SlugTaken
from compliance.errors import VerificationRequired
from compliance.models import AuditEntry
from core.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from payments.tests.factories import sender_user

from .factories import (
    png_upload,
    private_media,  # noqa: F401
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]


def test_a_tier_one_user_opens_one_shop_with_a_logo():
    carol = sender_user("carol")
    shop = shop_open(carol, name=" Carol's Cups ", slug="Carols-Cups", description="Mugs", logo=png_upload())
    assert (shop.name, shop.slug, shop.owner) == ("Carol's Cups", "carols-cups", carol)
    assert shop.logo.name.endswith(".png") and "png" not in shop.logo.name.split("/")[-1][:-4]
    with shop.logo.open("rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ShopExists):
        shop_open(carol, name="Second", slug="second")


def test_tier_zero_cannot_open_a_shop():
    with pytest.raises(VerificationRequired):
        shop_open(UserFactory(verified=True), name="Nope", slug="nope")
    assert not Shop.objects.exists()


@pytest.mark.parametrize("slug", ["ab", "a" * 51, "Has Space", "-lead", "trail-", "dou--ble", "cart", "orders", "sell"])
def test_bad_or_reserved_slugs_are_refused(slug):
    with pytest.raises(ValidationFailed):
        shop_open(sender_user(), name="Shop", slug=slug)


def test_taken_slug_and_bad_logo():
    shop_open(sender_user(), name="One", slug="taken")
    with pytest.raises(SlugTaken):
        shop_open(sender_user(), name="Two", slug="taken")
    from django.core.files.uploadedfile import SimpleUploadedFile

    with pytest.raises(ValidationFailed):
        shop_open(sender_user(), name="Three", slug="three", logo=SimpleUploadedFile("x.png", b"not an image"))
    assert not Shop.objects.filter(slug="three").exists()


def test_only_the_owner_updates():
    carol = sender_user("carol")
    shop = shop_open(carol, name="Cups", slug="cups")
    updated = shop_update(carol, shop=shop, description="Now with saucers", return_policy="30 days")
    assert (updated.name, updated.description, updated.return_policy) == ("Cups", "Now with saucers", "30 days")
    with pytest.raises(NotFound):
        shop_update(sender_user("eve"), shop=shop, name="Mine now")
    with pytest.raises(ValidationFailed):
        shop_update(carol, shop=shop, name="")


def test_staff_suspend_and_unsuspend_audited():
    shop = shop_open(sender_user("carol"), name="Cups", slug="cups")
    staff = sender_user("staffer", is_staff=True)
    with pytest.raises(NotPermitted):
        shop_suspend(shop.owner, shop=shop, reason="x")
    with pytest.raises(ValidationFailed):
        shop_suspend(staff, shop=shop, reason="")
    suspended = shop_suspend(staff, shop=shop, reason="Counterfeit goods")
    assert suspended.is_suspended and suspended.suspension_reason == "Counterfeit goods"
    with pytest.raises(Conflict):
        shop_suspend(staff, shop=shop, reason="again")
    lifted = shop_unsuspend(staff, shop=shop)
    assert not lifted.is_suspended
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "commerce.shop_suspend",
        "commerce.shop_unsuspend",
    ]

"""Staff screens of commerce: fee (audited), shop suspension, listing archive, read-only orders,
the dispute queue with its resolution form, evidence behind an access check."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.tests.factories import UserFactory
from commerce.models import (
    CommerceSettings,
    Dispute,
    DisputeEvidence,
    DisputeStatus,
    ListingStatus,
    Order,
    OrderStatus,
)
from commerce.services.disputes import dispute_open
from commerce.tests.factories import (
    buyer_user,
    make_listing,
    make_order,
    png_upload,
    private_media,  # noqa: F401 - fixture
    seller_user,
    set_fee_bps,
)
from compliance.models import AuditEntry
from payments.tests.factories import balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol():
    return seller_user("carol")


@pytest.fixture
def bob():
    return buyer_user("bob", funds="100.00")


@pytest.fixture
def disputed(carol, bob, private_media):  # noqa: F811
    order = make_order(bob, make_listing(carol.shop, price="10.00"))
    dispute_open(bob, order=order, reason="It never came", evidence=[png_upload("proof.png")])
    return Dispute.objects.get(order=order)


def _staff(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="commerce", codename__in=codenames))
    return user


def _form(dispute, **fields) -> dict:
    """The change form's POST: the resolution fields and the read-only evidence inline's management form."""
    ids = list(DisputeEvidence.objects.filter(dispute=dispute).order_by("id").values_list("id", flat=True))
    data = {
        "evidence-TOTAL_FORMS": str(len(ids)),
        "evidence-INITIAL_FORMS": str(len(ids)),
        "evidence-MIN_NUM_FORMS": "0",
        "evidence-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for n, pk in enumerate(ids):
        data[f"evidence-{n}-id"] = str(pk)
        data[f"evidence-{n}-dispute"] = str(dispute.pk)
    return data


def test_fee_change_is_audited(admin_client, admin_user):
    set_fee_bps(250)
    changelist = admin_client.get(reverse("admin:commerce_commercesettings_changelist"))
    assert changelist.status_code == 302  # straight to the one row
    url = reverse("admin:commerce_commercesettings_change", args=[1])
    assert admin_client.get(url).status_code == 200
    assert admin_client.post(url, {"fee_bps": "300"}).status_code == 302
    assert CommerceSettings.objects.get(pk=1).fee_bps == 300
    entry = AuditEntry.objects.get(action="commerce.fee_change")
    assert entry.actor == admin_user and entry.data == {"fee_bps_before": 250, "fee_bps": 300}
    # Above 30%: refused by the database constraint through the form, never a 500.
    too_high = admin_client.post(url, {"fee_bps": "5000"})
    assert too_high.status_code in (200, 400) and CommerceSettings.objects.get(pk=1).fee_bps == 300


def test_fee_change_does_not_touch_paid_orders(admin_client, carol, bob):
    set_fee_bps(250)
    order = make_order(bob, make_listing(carol.shop, price="10.00"))
    admin_client.post(reverse("admin:commerce_commercesettings_change", args=[1]), {"fee_bps": "1000"})
    order.refresh_from_db()
    assert order.fee_bps == 250


def test_suspend_needs_a_reason_and_unsuspend(admin_client, carol):
    url = reverse("admin:commerce_shop_changelist")
    base = {"action": "suspend_shops", "_selected_action": [carol.shop.pk], "index": 0}
    admin_client.post(url, {**base, "reason": ""})
    carol.shop.refresh_from_db()
    assert carol.shop.suspended_at is None
    response = admin_client.post(url, {**base, "reason": "Counterfeit goods"}, follow=True)
    assert response.status_code == 200
    carol.shop.refresh_from_db()
    assert carol.shop.suspended_at is not None and carol.shop.suspension_reason == "Counterfeit goods"
    assert AuditEntry.objects.filter(action="commerce.shop_suspend").count() == 1
    admin_client.post(url, {"action": "unsuspend_shops", "_selected_action": [carol.shop.pk], "index": 0})
    carol.shop.refresh_from_db()
    assert carol.shop.suspended_at is None
    assert admin_client.get(url + "?suspended=yes").status_code == 200


def test_staff_without_permission_cannot_suspend(client, carol):
    viewer = _staff("view_shop")
    client.force_login(viewer)
    url = reverse("admin:commerce_shop_changelist")
    assert client.get(url).status_code == 200
    client.post(url, {"action": "suspend_shops", "_selected_action": [carol.shop.pk], "index": 0, "reason": "x"})
    carol.shop.refresh_from_db()
    assert carol.shop.suspended_at is None


def test_archive_listing_action_audited(admin_client, carol):
    listing = make_listing(carol.shop)
    url = reverse("admin:commerce_listing_changelist")
    admin_client.post(url, {"action": "archive_listings", "_selected_action": [listing.pk], "index": 0})
    listing.refresh_from_db()
    assert listing.status == ListingStatus.ARCHIVED
    assert AuditEntry.objects.filter(action="commerce.listing_archive", target_id=str(listing.pk)).exists()
    for query in ("?status=active", "?kind=digital", "?category=home", "?status=%00"):
        assert admin_client.get(url + query).status_code in (200, 302), query


def test_orders_are_read_only_with_inlines(admin_client, carol, bob, django_assert_max_num_queries):
    orders = [make_order(bob, make_listing(carol.shop)) for _ in range(3)]
    url = reverse("admin:commerce_order_changelist")
    with django_assert_max_num_queries(12):
        assert admin_client.get(url + "?status=paid").status_code == 200
    change = admin_client.get(reverse("admin:commerce_order_change", args=[orders[0].pk]))
    assert change.status_code == 200 and b"Springfield" in change.content
    assert admin_client.post(reverse("admin:commerce_order_change", args=[orders[0].pk]), {}).status_code == 403
    assert admin_client.get(reverse("admin:commerce_order_add")).status_code == 403
    for name in ("shopdebt", "refund", "listing", "shop", "dispute"):
        assert admin_client.get(reverse(f"admin:commerce_{name}_changelist")).status_code == 200, name


def test_dispute_queue_opens_on_open_disputes(admin_client, disputed):
    url = reverse("admin:commerce_dispute_changelist")
    page = admin_client.get(url)
    assert page.status_code == 200 and f"Order #{disputed.order_id}".encode() in page.content
    resolved = admin_client.get(url + "?status=resolved")
    assert f"Order #{disputed.order_id}".encode() not in resolved.content


def test_resolve_refund_through_the_form(admin_client, disputed, bob):
    url = reverse("admin:commerce_dispute_change", args=[disputed.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and b'name="decision"' in page.content
    response = admin_client.post(url, _form(disputed, decision="refund", refund="", note="No proof of shipping"))
    assert response.status_code == 302
    disputed.refresh_from_db()
    assert disputed.status == DisputeStatus.RESOLVED and disputed.outcome == "refund"
    assert Order.objects.get(pk=disputed.order_id).status == OrderStatus.REFUNDED
    assert balance(bob) == 100_00
    # Resolved: read-only; a second POST changes nothing.
    again = admin_client.post(url, _form(disputed, decision="release", note="oops"))
    assert again.status_code == 403
    assert balance(bob) == 100_00


def test_resolve_split_validates_amount_then_splits(admin_client, disputed, bob, carol):
    set_fee_bps(250)
    url = reverse("admin:commerce_dispute_change", args=[disputed.pk])
    for bad in ("", "abc", "-1", "0.00"):
        page = admin_client.post(url, _form(disputed, decision="split", refund=bad, note="Half"))
        assert page.status_code == 200, bad  # the form again, with the error
        disputed.refresh_from_db()
        assert disputed.status == DisputeStatus.OPEN
    for bad in ("10.00", "12.00"):  # refused by the service: a message on the page, nothing moved
        page = admin_client.post(url, _form(disputed, decision="split", refund=bad, note="Half"), follow=True)
        assert "A split refunds" in page.content.decode(), bad
        disputed.refresh_from_db()
        assert disputed.status == DisputeStatus.OPEN
    assert balance(bob) == 90_00
    assert admin_client.post(url, _form(disputed, decision="split", refund="4.00", note="Half")).status_code == 302
    disputed.refresh_from_db()
    assert disputed.outcome == "split" and disputed.refund_amount == 4_00
    assert balance(bob) == 94_00
    assert balance(carol) == 6_00 - 15  # 2.5% of 6.00 = 0.15


def test_missing_note_is_a_form_error(admin_client, disputed):
    url = reverse("admin:commerce_dispute_change", args=[disputed.pk])
    assert admin_client.post(url, _form(disputed, decision="release", note="")).status_code == 200
    disputed.refresh_from_db()
    assert disputed.status == DisputeStatus.OPEN


def test_only_staff_with_permission_resolve(client, disputed):
    viewer = _staff("view_dispute")
    client.force_login(viewer)
    url = reverse("admin:commerce_dispute_change", args=[disputed.pk])
    page = client.get(url)
    assert page.status_code == 200 and b'name="decision"' not in page.content
    assert client.post(url, _form(disputed, decision="refund", note="x")).status_code == 403
    disputed.refresh_from_db()
    assert disputed.status == DisputeStatus.OPEN


def test_evidence_is_served_only_to_staff_who_may_see_disputes(client, admin_client, disputed, bob):
    evidence = DisputeEvidence.objects.get(dispute=disputed)
    url = reverse("admin:commerce_dispute_evidence", args=[disputed.pk, evidence.pk])
    response = admin_client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert "no-store" in response["Cache-Control"]
    assert AuditEntry.objects.filter(action="commerce.evidence_view").count() == 1
    assert admin_client.get(
        reverse("admin:commerce_dispute_evidence", args=[disputed.pk + 1, evidence.pk])
    ).status_code == (404)
    client.force_login(bob)  # the buyer: not staff → the admin login page
    assert client.get(url).status_code == 302
    client.force_login(_staff("view_shop"))  # staff, but not for disputes
    assert client.get(url).status_code == 404


def test_shop_page_with_a_private_logo(admin_client, carol, private_media):  # noqa: F811
    from django.core.files.base import ContentFile

    from commerce.tests.factories import png_bytes

    carol.shop.logo.save("logo.png", ContentFile(png_bytes()))
    page = admin_client.get(reverse("admin:commerce_shop_change", args=[carol.shop.pk]))
    assert page.status_code == 200 and f"/shop/media/logo/{carol.shop.pk}".encode() in page.content

"""Refunds before/after release, negative-balance recovery, dispute outcomes: each exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from commerce.models import Dispute, DisputeEvidence, DisputeStatus, OrderStatus, Refund, ShopDebt
from commerce.services import (
    dispute_open,
    dispute_resolve,
    order_confirm_received,
    order_refund,
    order_release,
    order_ship,
    orders_auto_release_due,
)
from commerce.services.disputes import DisputeExists, DisputeNotOpen, DisputeWindowClosed
from commerce.services.orders import OrderNotOpen, RefundTooLarge
from compliance.models import AuditEntry
from core.errors import IdempotencyKeyReused, NotFound, NotPermitted, ValidationFailed
from ledger.models import AccountKind, Transfer
from ledger.services import system_account, transfer_post
from notifications.models import Notification
from payments.services.wallet import wallet_account
from payments.tests.factories import balance, sender_user

from .factories import (
    buyer_user,
    make_listing,
    make_order,
    pdf_upload,
    png_upload,
    private_media,  # noqa: F401
    seller_user,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]


def sysbal(kind, currency="USD") -> int:
    account = system_account(kind, currency)
    account.refresh_from_db()
    return account.credits_posted - account.debits_posted


@pytest.fixture
def carol():
    return seller_user("carol")


@pytest.fixture
def bob():
    return buyer_user("bob", funds="100.00")


@pytest.fixture
def staff():
    return sender_user("staffer", is_staff=True)


@pytest.fixture
def order(carol, bob):
    mug = make_listing(carol.shop, title="Mug", price="20.00", stock=10)
    return make_order(bob, mug)  # $20.00 in escrow


def spend_all(user, currency="USD"):
    """The seller spends their wallet (paid out elsewhere)."""
    account = wallet_account(user, currency)
    account.refresh_from_db()
    if account.balance:
        transfer_post(
            initiator=user,
            debit=account,
            credit=system_account(AccountKind.FUNDING, currency),
            amount=account.balance,
            currency=currency,
            kind="test_cash_out",
        )


def test_partial_refunds_before_release_then_release_of_the_rest(carol, bob, order):
    refund = order_refund(carol, order=order, amount=500, reason="Chipped")
    assert (refund.amount, refund.after_release, refund.advanced) == (500, False, 0)
    assert balance(bob) == 10000 - 2000 + 500
    assert sysbal(AccountKind.ESCROW) == 1500
    order.refresh_from_db()
    assert (order.status, order.refunded) == (OrderStatus.PAID, 500)
    assert Notification.objects.filter(recipient=bob, kind="order.refunded").count() == 1
    with pytest.raises(RefundTooLarge):
        order_refund(carol, order=order, amount=1501)
    order_confirm_received(bob, order=order)
    order.refresh_from_db()
    assert (order.fee, order.released) == (38, 1462)  # fee on 15.00, what was left
    assert balance(carol) == 1462
    assert sysbal(AccountKind.ESCROW) == 0


def test_full_refund_before_release_exactly_once(carol, bob, order):
    order_refund(carol, order=order)
    order.refresh_from_db()
    assert (order.status, order.refunded) == (OrderStatus.REFUNDED, 2000)
    assert balance(bob) == 10000
    transfers = Transfer.objects.count()
    with pytest.raises(OrderNotOpen):
        order_refund(carol, order=order)
    with pytest.raises(OrderNotOpen):
        order_release(order)
    with pytest.raises(OrderNotOpen):
        order_confirm_received(bob, order=order)
    assert Transfer.objects.count() == transfers
    assert sysbal(AccountKind.ESCROW) == 0


def test_refund_idempotency_key(carol, bob, order):
    first = order_refund(carol, order=order, amount=300, idempotency_key="r1")
    again = order_refund(carol, order=order, amount=300, idempotency_key="r1")
    assert again.pk == first.pk
    assert Refund.objects.filter(order=order).count() == 1
    with pytest.raises(IdempotencyKeyReused):
        order_refund(carol, order=order, amount=400, idempotency_key="r1")
    assert balance(bob) == 8000 + 300


def test_only_the_seller_refunds_and_amounts_are_checked(carol, bob, order):
    with pytest.raises(NotPermitted):
        order_refund(bob, order=order, amount=100)
    with pytest.raises(NotFound):
        order_refund(sender_user("eve"), order=order, amount=100)
    for bad in (0, -5, "1.00", 1.5, True):
        with pytest.raises(ValidationFailed):
            order_refund(carol, order=order, amount=bad)
    assert balance(bob) == 8000


def test_refund_after_release_comes_from_the_seller_wallet(carol, bob, order):
    order_confirm_received(bob, order=order)
    assert balance(carol) == 1950
    refund = order_refund(carol, order=order, amount=1000, reason="Late")
    assert (refund.after_release, refund.advanced) == (True, 0)
    assert balance(bob) == 8000 + 1000
    assert balance(carol) == 950
    order.refresh_from_db()
    assert (order.status, order.refunded) == (OrderStatus.RELEASED, 1000)
    assert not ShopDebt.objects.filter(amount__gt=0).exists()


def test_negative_balance_recovery_advance_debt_and_recovery(carol, bob, order):
    order_confirm_received(bob, order=order)  # carol: 19.50 (fee 0.50)
    spend_all(carol)
    refund = order_refund(carol, order=order, amount=1200, reason="Returned")
    assert (refund.after_release, refund.advanced) == (True, 1200)
    assert balance(bob) == 8000 + 1200
    assert balance(carol) == 0
    assert ShopDebt.objects.get(shop=carol.shop, currency="USD").amount == 1200
    fees_before = sysbal(AccountKind.FEES)
    assert fees_before == 50 - 1200

    # The next release pays the debt back first.
    second = make_order(bob, order.items.get().listing)  # 20.00 → fee 0.50, 19.50 left
    order_confirm_received(bob, order=second)
    second.refresh_from_db()
    assert (second.fee, second.released) == (50, 1950 - 1200)
    assert balance(carol) == 750
    assert ShopDebt.objects.get(shop=carol.shop).amount == 0
    assert sysbal(AccountKind.FEES) == fees_before + 50 + 1200


def test_partly_covered_refund_after_release(carol, bob, order):
    order_confirm_received(bob, order=order)  # carol 19.50
    refund = order_refund(carol, order=order)  # all 20.00: 19.50 from carol, 0.50 advanced
    assert (refund.amount, refund.advanced) == (2000, 50)
    assert balance(carol) == 0
    assert balance(bob) == 10000
    assert ShopDebt.objects.get(shop=carol.shop).amount == 50
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED


def test_debt_larger_than_a_release_is_recovered_over_several(carol, bob):
    listing = make_listing(carol.shop, price="2.00", stock=10)
    ShopDebt.objects.create(shop=carol.shop, currency="USD", amount=300)
    transfer_post(  # the platform's earlier advance, so the ledger matches the debt
        initiator=None,
        debit=system_account(AccountKind.FEES, "USD"),
        credit=system_account(AccountKind.FUNDING, "USD"),
        amount=300,
        currency="USD",
        kind="test_advance",
    )
    first = make_order(bob, listing)
    order_confirm_received(bob, order=first)
    first.refresh_from_db()
    assert (first.fee, first.released) == (5, 0)  # 1.95 all recovered
    assert ShopDebt.objects.get(shop=carol.shop).amount == 105
    second = make_order(bob, listing)
    order_confirm_received(bob, order=second)
    second.refresh_from_db()
    assert second.released == 195 - 105
    assert ShopDebt.objects.get(shop=carol.shop).amount == 0
    assert balance(carol) == 90


# --- disputes -----------------------------------------------------------------------------


def test_dispute_stops_auto_release_and_only_the_buyer_opens_it(carol, bob, order):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        order_ship(carol, order=order)
    with pytest.raises(NotPermitted):
        dispute_open(carol, order=order, reason="I want the money")
    with pytest.raises(NotFound):
        dispute_open(sender_user("eve"), order=order, reason="x")
    with pytest.raises(ValidationFailed):
        dispute_open(bob, order=order, reason="  ")
    dispute = dispute_open(bob, order=order, reason="Never arrived", evidence=[png_upload(), pdf_upload()])
    assert DisputeEvidence.objects.filter(dispute=dispute).count() == 2
    assert sorted(DisputeEvidence.objects.values_list("content_type", flat=True)) == ["application/pdf", "image/png"]
    assert Notification.objects.filter(recipient=carol, kind="order.disputed").count() == 1
    with pytest.raises(DisputeExists):
        dispute_open(bob, order=order, reason="again")
    with time_machine.travel(start + timedelta(days=20), tick=False):
        assert orders_auto_release_due() == 0
    with pytest.raises(OrderNotOpen):
        order_confirm_received(bob, order=order)
    order.refresh_from_db()
    assert order.status == OrderStatus.DISPUTED
    assert balance(carol) == 0


def test_evidence_is_checked(bob, order):
    from django.core.files.uploadedfile import SimpleUploadedFile

    with pytest.raises(ValidationFailed):
        dispute_open(bob, order=order, reason="x", evidence=[png_upload(), png_upload(), png_upload(), png_upload()])
    with pytest.raises(ValidationFailed):
        dispute_open(bob, order=order, reason="x", evidence=[SimpleUploadedFile("a.exe", b"MZ\x90\x00nope")])
    assert not Dispute.objects.exists()


@pytest.mark.parametrize("outcome", ["refund", "release", "split"])
def test_dispute_outcomes_before_release_exactly_once(carol, bob, order, staff, outcome):
    dispute = dispute_open(bob, order=order, reason="Broken")
    with pytest.raises(NotPermitted):
        dispute_resolve(carol, dispute=dispute, outcome=outcome, refund_amount=800, note="seller")
    with pytest.raises(NotPermitted):
        dispute_resolve(bob, dispute=dispute, outcome=outcome, refund_amount=800, note="buyer")
    resolved = dispute_resolve(staff, dispute=dispute, outcome=outcome, refund_amount=800, note="Looked at photos")
    assert (resolved.status, resolved.outcome) == (DisputeStatus.RESOLVED, outcome)
    order.refresh_from_db()
    expected = {
        "refund": (OrderStatus.REFUNDED, 10000, 0, 0),
        "release": (OrderStatus.RELEASED, 8000, 1950, 50),
        "split": (OrderStatus.RELEASED, 8800, 1200 - 30, 30),  # 12.00 released, fee 0.30
    }[outcome]
    assert (order.status, balance(bob), balance(carol), sysbal(AccountKind.FEES)) == expected
    assert sysbal(AccountKind.ESCROW) == 0
    assert AuditEntry.objects.filter(action="commerce.dispute_resolve", target_id=str(dispute.pk)).count() == 1
    assert Notification.objects.filter(kind="order.dispute_resolved").count() == 2
    transfers = Transfer.objects.count()
    with pytest.raises(DisputeNotOpen):
        dispute_resolve(staff, dispute=dispute, outcome="refund", note="again")
    assert Transfer.objects.count() == transfers


@pytest.mark.parametrize("outcome", ["refund", "release", "split"])
def test_dispute_outcomes_after_release(carol, bob, order, staff, outcome):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        order_confirm_received(bob, order=order)  # carol 19.50, fee 0.50
    with time_machine.travel(start + timedelta(days=29), tick=False):
        dispute = dispute_open(bob, order=order, reason="Fell apart")
        dispute_resolve(staff, dispute=dispute, outcome=outcome, refund_amount=800, note="decided")
    order.refresh_from_db()
    expected = {
        "refund": (OrderStatus.REFUNDED, 10000, 0, 50),  # 19.50 from carol + 0.50 advanced
        "release": (OrderStatus.RELEASED, 8000, 1950, 0),
        "split": (OrderStatus.RELEASED, 8800, 1150, 0),
    }[outcome]
    debt = ShopDebt.objects.filter(shop=carol.shop).values_list("amount", flat=True).first() or 0
    assert (order.status, balance(bob), balance(carol), debt) == expected


def test_dispute_window_closes_30_days_after_delivery(carol, bob, order):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        order_confirm_received(bob, order=order)
    with time_machine.travel(start + timedelta(days=30, minutes=1), tick=False), pytest.raises(DisputeWindowClosed):
        dispute_open(bob, order=order, reason="Too late")


def test_split_amount_is_checked(bob, order, staff):
    dispute = dispute_open(bob, order=order, reason="Half broken")
    for bad in (None, 0, 2000, 2001, "5"):
        with pytest.raises(ValidationFailed):
            dispute_resolve(staff, dispute=dispute, outcome="split", refund_amount=bad, note="x")
    with pytest.raises(ValidationFailed):
        dispute_resolve(staff, dispute=dispute, outcome="nonsense", note="x")
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN


def test_a_seller_refund_in_full_during_a_dispute_closes_it(carol, bob, order, staff):
    dispute = dispute_open(bob, order=order, reason="Wrong colour")
    order_refund(carol, order=order, amount=500)  # partial: the dispute stays open
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN
    order_refund(carol, order=order)  # the rest
    dispute.refresh_from_db()
    order.refresh_from_db()
    assert (dispute.status, dispute.outcome, order.status) == (DisputeStatus.RESOLVED, "refund", OrderStatus.REFUNDED)
    assert balance(bob) == 10000
    with pytest.raises(DisputeNotOpen):
        dispute_resolve(staff, dispute=dispute, outcome="release", note="late")
    assert balance(carol) == 0

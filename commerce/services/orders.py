"""Orders after payment: ship, confirm receipt, download, release, refund (before and after release).

Ledger shape (money moves only through ``ledger.services``, one batch per outcome):

- paid (``checkout.checkout_pay``): buyer wallet → ESCROW[C] (or through the FX pools);
- released: ONE batch ESCROW[C] → seller wallet[C] (base − fee − recovered) and
  ESCROW[C] → FEES[C] (fee + recovered), where base = total − refunded, fee = ``fees.fee_for``
  (half up, at the order's snapshotted ``fee_bps``) and ``recovered`` = min(the shop's debt in
  C, base − fee) pays back an earlier advance (``ShopDebt``). Ledger key ``order:<id>:release``;
- refund before release: ESCROW[C] → buyer wallet[C]. A buyer who paid from another currency
  gets the ORDER currency back (no reverse conversion: no second spread, no rate risk);
- refund after release: seller wallet[C] → buyer wallet[C] for what the seller's available
  balance covers; the rest is ADVANCED by the platform, FEES[C] → buyer, and added to the shop's
  ``ShopDebt`` in C (recovered first from its next releases). The platform fee already taken is
  not returned to the seller. Ledger key ``order:<id>:refund:<refund id>``.

Refunds never restock the listing (the item may be used, lost or kept): the seller adds stock
back by editing the listing if they want to.

Exactly once: every change locks the order row (``select_for_update``, the row only) and acts
only from the statuses it allows, so a second confirm / release / refund of what is left raises
``OrderNotOpen`` (409) and moves nothing; the ledger keys are a second guard.

Lock order (no deadlocks): the order row, then the shop's ``ShopDebt`` row, then ledger
accounts in ascending id order.

Live: every change publishes ``order.updated`` ({"order_id", "status"}) to buyer and seller,
``balance.changed`` to whoever's wallet moved, and a notification (kinds below), on commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.db import retry_on_conflict
from core.errors import Conflict, IdempotencyKeyReused, NotFound, NotPermitted, ValidationFailed
from core.money import check_amount_minor, format_money
from ledger.models import Account, AccountKind
from ledger.services import TransferSpec, accounts_lock, system_account, transfers_post
from notifications.models import register_kind
from notifications.services import event_publish, notify
from payments.services.common import check_idempotency_key, check_text
from payments.services.wallet import wallet_account

from ..fees import fee_for
from ..models import (
    OPEN_ORDER_STATUSES,
    DisputeStatus,
    ListingKind,
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    Refund,
    ShopDebt,
)

logger = logging.getLogger(__name__)

register_kind("order.paid", "New order: {buyer} bought {title} for {total}")
register_kind("order.shipped", "Your order from {shop} was shipped")
register_kind("order.released", "Order #{order_id} completed: {amount} paid to your wallet")
register_kind("order.refunded", "{shop} refunded {amount} on order #{order_id}")
register_kind("order.disputed", "{buyer} opened a dispute on order #{order_id}")
register_kind("order.dispute_resolved", "The dispute on order #{order_id} was resolved: {outcome}")


class OrderNotOpen(Conflict):
    code = "order_not_open"
    default_message = "This order is no longer open."


class RefundTooLarge(ValidationFailed):
    code = "refund_too_large"
    default_message = "That is more than is left to refund."


# --- reads ----------------------------------------------------------------------------------


def _order_pk(order) -> int:
    pk = order.pk if isinstance(order, Order) else order
    if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2**63:
        raise NotFound("That order does not exist.", code="order_not_found")
    return pk


def order_for_party(user, order_id) -> Order:
    """The order if ``user`` is its buyer or its shop's owner, else NotFound (one query)."""
    pk = _order_pk(order_id)
    user_id = getattr(user, "pk", None)
    found = (
        Order.objects.select_related("shop", "shop__owner", "buyer")
        .filter(pk=pk)
        .filter(Q(buyer_id=user_id) | Q(shop__owner_id=user_id))
        .first()
        if user_id
        else None
    )
    if found is None:
        raise NotFound("That order does not exist.", code="order_not_found")
    return found


def lock_order(order) -> Order:
    """The order row locked (``FOR UPDATE`` of the order only), with shop and buyer loaded."""
    pk = _order_pk(order)
    found = Order.objects.select_for_update(of=("self",)).select_related("shop", "buyer").filter(pk=pk).first()
    if found is None:
        raise NotFound("That order does not exist.", code="order_not_found")
    return found


def _as_seller(user, order) -> Order:
    """Locked order whose shop ``user`` owns; its buyer gets NotPermitted, anyone else NotFound."""
    locked = lock_order(order)
    user_id = getattr(user, "pk", None)
    if locked.shop.owner_id == user_id:
        return locked
    if locked.buyer_id == user_id:
        raise NotPermitted("Only the seller can do that.", code="seller_only")
    raise NotFound("That order does not exist.", code="order_not_found")


def _as_buyer(user, order) -> Order:
    locked = lock_order(order)
    user_id = getattr(user, "pk", None)
    if locked.buyer_id == user_id:
        return locked
    if locked.shop.owner_id == user_id:
        raise NotPermitted("Only the buyer can do that.", code="buyer_only")
    raise NotFound("That order does not exist.", code="order_not_found")


# --- announcements --------------------------------------------------------------------------


def order_summary(order: Order) -> dict:
    return {
        "order_id": order.pk,
        "status": order.status,
        "total": format_money(order.total, order.currency),
        "shop": order.shop.name,
        "buyer": f"@{order.buyer.handle}",
        "url": f"/shop/orders/{order.pk}/",
    }


def event_add(order: Order, status: str, *, actor=None, note: str = "", amount: int | None = None) -> OrderEvent:
    return OrderEvent.objects.create(order=order, status=status, actor=actor, note=note[:500], amount=amount)


def announce(order: Order, *, balances=()) -> None:
    """``order.updated`` to both parties and ``balance.changed`` to ``balances`` (user ids), on commit."""
    data = {"order_id": order.pk, "status": order.status}
    for user_id in {order.buyer_id, order.shop.owner_id}:
        event_publish(user_id=user_id, type="order.updated", id=order.pk, data=data)
    for user_id in set(balances):
        event_publish(user_id=user_id, type="balance.changed", data={})


# --- money movements (called with the order row locked) -------------------------------------


def _lock_accounts(*accounts: Account) -> None:
    """Lock ledger accounts in ascending id order before reading a balance to decide on."""
    accounts_lock(a.pk for a in accounts)


def release_locked(order: Order, *, actor=None, note: str = "") -> Order:
    """Pay out the escrowed base less the fee (and any debt recovery). The order row is locked
    by the caller and its status was checked; sets RELEASED. One ledger batch."""
    base = order.total - order.refunded
    if base <= 0:
        raise OrderNotOpen("Nothing is left in escrow for this order.")
    fee = fee_for(base, order.fee_bps)
    debt = ShopDebt.objects.select_for_update().filter(shop_id=order.shop_id, currency=order.currency).first()
    recovered = min(debt.amount, base - fee) if debt else 0
    payout = base - fee - recovered
    escrow = system_account(AccountKind.ESCROW, order.currency)
    meta = {"order": order.pk}
    legs = []
    if payout > 0:
        legs.append(
            TransferSpec(
                escrow, wallet_account(order.shop.owner, order.currency), payout, order.currency, "order_release", meta
            )
        )
    if fee + recovered > 0:
        legs.append(
            TransferSpec(
                escrow,
                system_account(AccountKind.FEES, order.currency),
                fee + recovered,
                order.currency,
                "order_fee",
                {**meta, "fee": fee, "recovered": recovered},
            )
        )
    transfers_post(
        initiator=None, transfers=legs, idempotency_key=f"order:{order.pk}:release", operation="order_release"
    )
    if recovered:
        ShopDebt.objects.filter(pk=debt.pk).update(amount=debt.amount - recovered)
    now = timezone.now()
    order.status = OrderStatus.RELEASED
    order.fee = fee
    order.released = payout
    order.released_at = now
    order.delivered_at = order.delivered_at or now
    order.auto_release_at = None
    order.save(
        update_fields=["status", "fee", "released", "released_at", "delivered_at", "auto_release_at", "updated_at"]
    )
    detail = f"Fee {format_money(fee, order.currency)}"
    if recovered:
        detail += f"; {format_money(recovered, order.currency)} recovered towards the shop's balance owed"
    event_add(order, OrderStatus.RELEASED, actor=actor, note=(note + ". " if note else "") + detail, amount=payout)
    notify(
        order.shop.owner,
        kind="order.released",
        data={**order_summary(order), "amount": format_money(payout, order.currency)},
    )
    announce(order, balances=[order.shop.owner_id])
    return order


def refund_locked(
    order: Order, *, amount: int, by=None, reason: str = "", idempotency_key: str | None = None, note: str = ""
) -> Refund:
    """Refund ``amount`` of the order currency to the buyer (the order row is locked by the caller).

    Before release from escrow; after release from the seller's wallet with the platform advancing
    what it cannot cover (ShopDebt). A full refund sets REFUNDED (and closes an open dispute)."""
    remaining = order.total - order.refunded
    if remaining <= 0 or order.status == OrderStatus.REFUNDED:
        raise OrderNotOpen("This order has already been refunded in full.")
    if amount > remaining:
        raise RefundTooLarge(
            f"At most {format_money(remaining, order.currency)} is left to refund.", fields={"amount": ["Too large."]}
        )
    after_release = order.released_at is not None
    refund = Refund.objects.create(
        order=order, amount=amount, reason=reason, by=by, after_release=after_release, idempotency_key=idempotency_key
    )
    buyer_wallet = wallet_account(order.buyer, order.currency)
    meta = {"order": order.pk, "refund": refund.pk}
    balances = [order.buyer_id]
    if not after_release:
        legs = [
            TransferSpec(
                system_account(AccountKind.ESCROW, order.currency),
                buyer_wallet,
                amount,
                order.currency,
                "order_refund",
                meta,
            )
        ]
    else:
        seller_wallet = wallet_account(order.shop.owner, order.currency)
        fees = system_account(AccountKind.FEES, order.currency)
        # Lock order: order row → ShopDebt → ledger accounts (as release_locked does), so a
        # refund after release never deadlocks with a release of another order of the shop.
        debt = ShopDebt.objects.select_for_update().filter(shop_id=order.shop_id, currency=order.currency).first()
        _lock_accounts(seller_wallet, buyer_wallet, fees)
        seller_wallet.refresh_from_db()
        from_seller = max(0, min(amount, seller_wallet.available))
        advanced = amount - from_seller
        legs = []
        if from_seller:
            legs.append(TransferSpec(seller_wallet, buyer_wallet, from_seller, order.currency, "order_refund", meta))
            balances.append(order.shop.owner_id)
        if advanced:
            legs.append(TransferSpec(fees, buyer_wallet, advanced, order.currency, "order_refund_advance", meta))
            if debt is None:
                debt, _ = ShopDebt.objects.select_for_update().get_or_create(
                    shop_id=order.shop_id, currency=order.currency
                )
            ShopDebt.objects.filter(pk=debt.pk).update(amount=debt.amount + advanced)
            refund.advanced = advanced
            refund.save(update_fields=["advanced"])
    transfers_post(
        initiator=None, transfers=legs, idempotency_key=f"order:{order.pk}:refund:{refund.pk}", operation="order_refund"
    )
    order.refunded += amount
    full = order.refunded == order.total
    if full:
        order.status = OrderStatus.REFUNDED
        order.auto_release_at = None
    order.save(update_fields=["refunded", "status", "auto_release_at", "updated_at"])
    label = format_money(amount, order.currency)
    text = note or ("Refunded in full" if full else "Partial refund")
    if refund.advanced:
        text += f" ({format_money(refund.advanced, order.currency)} advanced by the platform)"
    if reason:
        text += f": {reason}"
    event_add(order, order.status, actor=by, note=text, amount=amount)
    if full:
        # A refund in full ends an open dispute: nothing is left to decide.
        from ..models import Dispute

        Dispute.objects.filter(order=order, status=DisputeStatus.OPEN).update(
            status=DisputeStatus.RESOLVED,
            outcome="refund",
            refund_amount=order.refunded,
            resolved_by=by,
            resolved_at=timezone.now(),
            resolution_note="Refunded in full by the seller.",
        )
    notify(order.buyer, kind="order.refunded", data={**order_summary(order), "amount": label})
    announce(order, balances=balances)
    return refund


# --- seller and buyer actions ---------------------------------------------------------------


@retry_on_conflict
def order_ship(seller, *, order, carrier="", tracking_number="") -> Order:
    """Seller: mark a paid physical order shipped; it auto-releases COMMERCE_AUTO_RELEASE_DAYS later."""
    carrier = check_text(carrier, field="carrier", label="carrier", max_length=60)
    tracking_number = check_text(tracking_number, field="tracking_number", label="tracking number", max_length=60)
    with transaction.atomic():
        locked = _as_seller(seller, order)
        if locked.is_digital:
            raise Conflict("Digital orders are delivered by download, not shipped.", code="order_digital")
        if locked.status != OrderStatus.PAID:
            raise OrderNotOpen(f"This order is {locked.get_status_display().lower()}; it cannot be marked shipped.")
        now = timezone.now()
        locked.status = OrderStatus.SHIPPED
        locked.carrier, locked.tracking_number = carrier, tracking_number
        locked.shipped_at = now
        locked.auto_release_at = now + timedelta(days=settings.COMMERCE_AUTO_RELEASE_DAYS)
        locked.save(
            update_fields=["status", "carrier", "tracking_number", "shipped_at", "auto_release_at", "updated_at"]
        )
        note = " ".join(part for part in (carrier, tracking_number) if part)
        event_add(locked, OrderStatus.SHIPPED, actor=seller, note=note)
        notify(
            locked.buyer,
            kind="order.shipped",
            data={**order_summary(locked), "carrier": carrier, "tracking_number": tracking_number},
        )
        announce(locked)
    return locked


@retry_on_conflict
def order_confirm_received(buyer, *, order) -> Order:
    """Buyer: the goods arrived; the money is released to the seller (exactly once)."""
    with transaction.atomic():
        locked = _as_buyer(buyer, order)
        if locked.status == OrderStatus.DISPUTED:
            raise OrderNotOpen("This order is disputed; staff will decide where the money goes.")
        if locked.status not in (OrderStatus.PAID, OrderStatus.SHIPPED):
            raise OrderNotOpen(f"This order is already {locked.get_status_display().lower()}.")
        locked.delivered_at = timezone.now()
        return release_locked(locked, actor=buyer, note="Received by the buyer")


@retry_on_conflict
def order_download(buyer, *, item) -> OrderItem:
    """Buyer: may this digital line be downloaded? Records the first download; the first download
    of an all-digital paid order releases it. Returns the item (``item.listing.digital_file``).
    Only the buyer (anyone else: NotFound); not after a refund in full."""
    pk = item.pk if isinstance(item, OrderItem) else item
    if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2**63:
        raise NotFound("That download does not exist.", code="download_not_found")
    found = OrderItem.objects.filter(pk=pk, order__buyer_id=getattr(buyer, "pk", None)).first()
    if found is None or found.kind != ListingKind.DIGITAL:
        raise NotFound("That download does not exist.", code="download_not_found")
    with transaction.atomic():
        locked = lock_order(found.order_id)
        if locked.status == OrderStatus.REFUNDED:
            raise NotPermitted("This order was refunded; the download is no longer available.", code="order_refunded")
        found = OrderItem.objects.select_related("listing").get(pk=pk)
        if found.downloaded_at is None:
            found.downloaded_at = timezone.now()
            found.save(update_fields=["downloaded_at"])
            if locked.is_digital and locked.status == OrderStatus.PAID:
                locked.delivered_at = found.downloaded_at
                release_locked(locked, actor=buyer, note="Downloaded by the buyer")
    return found


@retry_on_conflict
def order_refund(seller, *, order, amount: int | None = None, reason="", idempotency_key=None) -> Refund:
    """Seller: refund ``amount`` (minor units of the order currency; None = all that is left), before
    or after release. Idempotent by (order, key): the same key and amount return the first refund."""
    reason = check_text(reason, field="reason", label="reason", max_length=500)
    idempotency_key = check_idempotency_key(idempotency_key)
    if amount is not None:
        try:
            check_amount_minor(amount)
        except ValidationFailed as error:
            raise ValidationFailed(error.message, code=error.code, fields={"amount": [error.message]}) from None
    try:
        with transaction.atomic():
            locked = _as_seller(seller, order)
            if idempotency_key:
                existing = Refund.objects.filter(order=locked, idempotency_key=idempotency_key).first()
                if existing is not None:
                    if amount is not None and existing.amount != amount:
                        raise IdempotencyKeyReused()
                    return existing
            if locked.status == OrderStatus.REFUNDED:
                raise OrderNotOpen("This order has already been refunded in full.")
            value = locked.total - locked.refunded if amount is None else amount
            return refund_locked(locked, amount=value, by=seller, reason=reason, idempotency_key=idempotency_key)
    except IntegrityError:
        if idempotency_key:
            existing = Refund.objects.filter(order_id=_order_pk(order), idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
        raise


# --- internal: tasks and disputes -----------------------------------------------------------


@retry_on_conflict
def order_release(order, *, actor=None) -> Order:
    """Release an open, undisputed order to its seller now (the auto-release task; staff tools).
    Exactly once: OrderNotOpen when it was already released, refunded or is disputed."""
    with transaction.atomic():
        locked = lock_order(order)
        if locked.status not in (OrderStatus.PAID, OrderStatus.SHIPPED):
            raise OrderNotOpen(f"This order is {locked.get_status_display().lower()}; it cannot be released.")
        return release_locked(locked, actor=actor, note="Released automatically" if actor is None else "")


def orders_auto_release_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Release orders whose time is up: shipped ones COMMERCE_AUTO_RELEASE_DAYS after shipping, and
    all-digital ones COMMERCE_DIGITAL_RELEASE_HOURS after payment. Disputed orders never (their
    status is not paid/shipped). Returns how many were released. Safe to run concurrently."""
    now = now or timezone.now()
    due = list(
        Order.objects.filter(status__in=[OrderStatus.PAID, OrderStatus.SHIPPED], auto_release_at__lte=now)
        .order_by("auto_release_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    released = 0
    for pk in due:
        try:
            with transaction.atomic():
                locked = lock_order(pk)
                if locked.status not in (OrderStatus.PAID, OrderStatus.SHIPPED):
                    continue
                if locked.auto_release_at is None or locked.auto_release_at > now:
                    continue
                release_locked(locked, note="Released automatically")
            released += 1
        except Exception:  # one bad order never stops the others
            logger.exception("commerce: auto-release of order %s failed", pk)
    return released


__all__ = [
    "OPEN_ORDER_STATUSES",
    "OrderNotOpen",
    "RefundTooLarge",
    "announce",
    "event_add",
    "lock_order",
    "order_confirm_received",
    "order_download",
    "order_for_party",
    "order_refund",
    "order_release",
    "order_ship",
    "order_summary",
    "orders_auto_release_due",
    "refund_locked",
    "release_locked",
]

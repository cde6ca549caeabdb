"""Disputes: the buyer asks staff to decide where an order's money goes.

Opening (buyer only): before release at any time, or within COMMERCE_DISPUTE_DAYS of delivery
(``delivered_at``: received, downloaded or auto-released) after release; one dispute per order;
a reason and up to 3 evidence files (JPEG/PNG/GIF/WebP images, re-encoded without metadata, or
PDFs), ≤ 10 MB each, stored privately. An open dispute sets the order DISPUTED, which stops the
auto-release and the buyer's confirmation until staff decide.

Resolving (staff only, audited, exactly once: the dispute row is locked and must be open):
- ``refund``: everything not yet refunded goes back to the buyer;
- ``release``: the money goes to the seller (with the fee), or, already released, stays there;
- ``split``: ``refund_amount`` to the buyer (0 < amount < what is left) and the rest released
  to the seller with the fee.
After release a refund follows the after-release rule (seller wallet, platform advance, ShopDebt).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from compliance.services import audit_record
from core.db import retry_on_conflict
from core.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from core.images import ImageInvalid, as_file, file_size
from core.money import format_money
from notifications.services import notify
from payments.services.common import check_text

from ..models import Dispute, DisputeEvidence, DisputeOutcome, DisputeStatus, OrderStatus
from .listings import image_prepare
from .orders import OrderNotOpen, _as_buyer, announce, event_add, order_summary, refund_locked, release_locked

EVIDENCE_MAX_FILES = 3
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024


class DisputeExists(Conflict):
    code = "dispute_exists"
    default_message = "A dispute was already opened on this order."


class DisputeWindowClosed(Conflict):
    code = "dispute_window_closed"
    default_message = f"Disputes can be opened up to {settings.COMMERCE_DISPUTE_DAYS} days after delivery."


class DisputeNotOpen(Conflict):
    code = "dispute_not_open"
    default_message = "This dispute has already been resolved."


def _evidence_prepare(files) -> list[tuple[ContentFile, str]]:
    files = [f for f in (files or ()) if f]
    if len(files) > EVIDENCE_MAX_FILES:
        raise ValidationFailed(
            f"Attach at most {EVIDENCE_MAX_FILES} files.", code="too_many_files", fields={"evidence": ["Too many."]}
        )
    prepared = []
    for upload in files:
        handle = as_file(upload)
        if handle is None:
            raise ValidationFailed("That is not a file.", fields={"evidence": ["Not a file."]})
        if file_size(handle) > EVIDENCE_MAX_BYTES:
            raise ValidationFailed(
                "Each file must be 10 MB or smaller.", code="file_too_large", fields={"evidence": ["Too large."]}
            )
        handle.seek(0)
        head = handle.read(5)
        if head == b"%PDF-":
            handle.seek(0)
            name = f"{secrets.token_hex(16)}.pdf"
            prepared.append((ContentFile(handle.read(), name=name), "application/pdf"))
            continue
        try:
            content, sniffed = image_prepare(handle, max_bytes=EVIDENCE_MAX_BYTES, field="evidence", label="evidence")
        except ImageInvalid:
            raise ValidationFailed(
                "Evidence must be photos (JPEG, PNG, GIF, WebP) or PDF files.",
                code="invalid_evidence",
                fields={"evidence": ["Not an image or PDF."]},
            ) from None
        prepared.append((content, sniffed.content_type))
    return prepared


@retry_on_conflict
def dispute_open(buyer, *, order, reason, evidence=()) -> Dispute:
    """Buyer: open the order's dispute. Only the buyer (the seller: NotPermitted; others: NotFound)."""
    reason = check_text(reason, field="reason", label="reason", max_length=2000, required=True)
    prepared = _evidence_prepare(evidence)
    with transaction.atomic():
        locked = _as_buyer(buyer, order)
        if Dispute.objects.filter(order=locked).exists():
            raise DisputeExists()
        if locked.status == OrderStatus.REFUNDED:
            raise OrderNotOpen("This order was refunded in full; there is nothing to dispute.")
        if locked.released_at is not None:
            delivered = locked.delivered_at or locked.released_at
            if timezone.now() > delivered + timedelta(days=settings.COMMERCE_DISPUTE_DAYS):
                raise DisputeWindowClosed()
        dispute = Dispute.objects.create(order=locked, opened_by=buyer, reason=reason)
        for content, content_type in prepared:
            row = DisputeEvidence(dispute=dispute, content_type=content_type, uploaded_by=buyer)
            row.file.save(content.name, content, save=False)
            row.save()
        locked.status = OrderStatus.DISPUTED
        locked.save(update_fields=["status", "updated_at"])
        event_add(locked, OrderStatus.DISPUTED, actor=buyer, note=reason[:500])
        notify(locked.shop.owner, kind="order.disputed", data=order_summary(locked))
        announce(locked)
    return dispute


@retry_on_conflict
def dispute_resolve(staff, *, dispute, outcome, refund_amount: int | None = None, note) -> Dispute:
    """Staff: decide an open dispute (refund / release / split). Exactly once; audited."""
    if not (getattr(staff, "is_authenticated", False) and staff.is_staff):
        raise NotPermitted("Only staff can resolve disputes.", code="staff_only")
    if outcome not in DisputeOutcome.values:
        raise ValidationFailed("Choose refund, release or split.", fields={"outcome": ["Not a choice."]})
    note = check_text(note, field="note", label="note", max_length=1000, required=True)
    pk = dispute.pk if isinstance(dispute, Dispute) else dispute
    if isinstance(pk, bool) or not isinstance(pk, int):
        raise NotFound("That dispute does not exist.", code="dispute_not_found")
    order_id = Dispute.objects.filter(pk=pk).values_list("order_id", flat=True).first() if 0 < pk < 2**63 else None
    if order_id is None:
        raise NotFound("That dispute does not exist.", code="dispute_not_found")
    with transaction.atomic():
        from .orders import lock_order

        # Lock order: the order row first, then the dispute (as dispute_open and a seller's full
        # refund, which closes the dispute, do): no deadlock between staff and the seller.
        order = lock_order(order_id)
        locked = Dispute.objects.select_for_update(of=("self",)).filter(pk=pk).first()
        if locked is None:
            raise NotFound("That dispute does not exist.", code="dispute_not_found")
        if locked.status != DisputeStatus.OPEN:
            raise DisputeNotOpen()
        remaining = order.total - order.refunded
        was_released = order.released_at is not None
        if outcome == DisputeOutcome.SPLIT and (
            isinstance(refund_amount, bool) or not isinstance(refund_amount, int) or not 0 < refund_amount < remaining
        ):
            raise ValidationFailed(
                f"A split refunds more than 0 and less than {format_money(remaining, order.currency)}.",
                code="invalid_split",
                fields={"refund_amount": ["Out of range."]},
            )
        refunded_now = 0
        if outcome in (DisputeOutcome.REFUND, DisputeOutcome.SPLIT):
            refunded_now = remaining if outcome == DisputeOutcome.REFUND else refund_amount
            if refunded_now > 0:
                refund_locked(order, amount=refunded_now, by=staff, reason="Dispute resolved", note="Dispute refund")
        if outcome in (DisputeOutcome.RELEASE, DisputeOutcome.SPLIT):
            if was_released:
                order.status = OrderStatus.RELEASED
                order.save(update_fields=["status", "updated_at"])
                event_add(order, OrderStatus.RELEASED, actor=staff, note="Dispute resolved for the seller")
                announce(order)
            else:
                release_locked(order, actor=staff, note="Dispute resolved")
        elif order.status == OrderStatus.DISPUTED:  # a refund that left something (cannot happen) keeps it visible
            order.status = OrderStatus.RELEASED if was_released else OrderStatus.PAID
            order.save(update_fields=["status", "updated_at"])
        locked.refresh_from_db()  # refund_locked may have closed it on a full refund
        locked.status = DisputeStatus.RESOLVED
        locked.outcome = outcome
        locked.refund_amount = refunded_now
        locked.resolved_by = staff
        locked.resolution_note = note
        locked.resolved_at = timezone.now()
        locked.save()
        audit_record(
            actor=staff,
            action="commerce.dispute_resolve",
            target=locked,
            reason=note,
            data={"order": order.pk, "outcome": outcome, "refund_amount": refunded_now, "after_release": was_released},
        )
        data = {**order_summary(order), "outcome": locked.get_outcome_display()}
        notify(order.buyer, kind="order.dispute_resolved", data=data)
        notify(order.shop.owner, kind="order.dispute_resolved", data=data)
    return locked

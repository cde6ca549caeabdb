"""Staff actions on payments (called from the admin). Every one is written to the audit trail.

``payment_reverse_by_staff`` undoes a completed payment exactly as a return
does — compensating ledger transfers that reference the originals, never an
edit — but on a staff member's say-so, with a required reason.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from compliance import services as compliance
from core.db import retry_on_conflict
from core.errors import Conflict, NotPermitted, ValidationFailed
from core.money import format_money
from ledger.services import InsufficientFunds, transfer_reverse
from notifications.models import register_kind
from notifications.services import event_publish, notify

from ..models import Payment, PaymentEvent, PaymentStatus
from ..signals import payment_returning, payment_status_changed
from .send import _lock_accounts_of, _locked, payment_summary

REASON_MAX_LENGTH = 300
STAFF_REVERSAL_KIND = "staff_reversal"

register_kind(
    "payment.reversed_sent", "Our team reversed your payment of {sent_amount} to {recipient}; the money is back"
)
register_kind("payment.reversed_received", "Our team reversed the payment of {amount} from {sender}")


class PaymentNotReversible(Conflict):
    code = "payment_not_reversible"
    default_message = "Only a completed payment can be reversed, and only once."


def staff_may_reverse(user) -> bool:
    """Active staff with the payments.change_payment permission (payments are never edited otherwise)."""
    return bool(
        getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
        and user.has_perm("payments.change_payment")
    )


def _check_reason(reason: object) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationFailed("Say why the payment is being reversed.", fields={"reason": ["Required."]})
    if len(text) > REASON_MAX_LENGTH:
        raise ValidationFailed(
            f"The reason is {len(text)} characters; the limit is {REASON_MAX_LENGTH}.",
            fields={"reason": [f"At most {REASON_MAX_LENGTH} characters."]},
        )
    return text


@retry_on_conflict
def payment_reverse_by_staff(staff, *, payment: Payment | int, reason: str) -> Payment:
    """Reverse a completed payment on the ledger on a staff member's decision.

    Guarantees: atomic (the compensating transfers, the status change to
    ``returned``, the status-history event and the audit entry commit together
    or not at all); the payment row is locked, so two staff members reversing at
    once move the money back once — the second gets PaymentNotReversible. FX
    payments reverse both legs: the recipient gives back what arrived and the
    sender gets back exactly what left. Both parties are notified on commit.
    Raises NotPermitted (not staff with payments.change_payment), ValidationFailed
    (no reason, or over 300 characters), PaymentNotReversible (not completed:
    arriving, in review, already returned or reversed...), InsufficientFunds
    (the recipient no longer has the money; nothing moves).
    """
    if not staff_may_reverse(staff):
        raise NotPermitted("Only staff allowed to correct payments can reverse one.")
    reason = _check_reason(reason)
    with transaction.atomic():
        payment = _locked(payment)
        if payment.status != PaymentStatus.COMPLETED or not payment.credit_transfer_id:
            raise PaymentNotReversible(
                f"Payment #{payment.pk} is {payment.get_status_display().lower()}: "
                "only a completed payment can be reversed, and only once."
            )
        key = f"payment:{payment.pk}:staff_reversal"
        meta = {"payment": payment.pk, "staff": staff.pk}
        _lock_accounts_of(payment)  # both legs' accounts at once, ascending (no deadlocks)
        payment_returning.send(sender=Payment, payment=payment)
        try:
            transfer_reverse(
                initiator=staff,
                transfer=payment.credit_transfer_id,
                kind=STAFF_REVERSAL_KIND,
                metadata=meta,
                idempotency_key=f"{key}:in",
            )
            if payment.is_fx and payment.debit_transfer_id != payment.credit_transfer_id:
                transfer_reverse(
                    initiator=staff,
                    transfer=payment.debit_transfer_id,
                    kind=STAFF_REVERSAL_KIND,
                    metadata=meta,
                    idempotency_key=f"{key}:out",
                )
        except InsufficientFunds:
            raise InsufficientFunds(
                f"@{payment.recipient.handle} no longer has "
                f"{format_money(payment.received_amount, payment.received_currency)} available, "
                "so the payment cannot be reversed. Nothing was moved.",
                code="insufficient_funds",
            ) from None
        payment.status = PaymentStatus.RETURNED
        payment.returned_at = timezone.now()
        payment.save(update_fields=["status", "returned_at"])
        message = f"Reversed by staff: {reason}"
        PaymentEvent.objects.create(
            payment=payment,
            status=PaymentStatus.RETURNED,
            actor=staff,
            message=message if len(message) <= 300 else message[:299] + "…",
        )
        payment_status_changed.send(sender=Payment, payment=payment, status=PaymentStatus.RETURNED)
        compliance.audit_record(
            actor=staff,
            action="payment.reverse",
            target=payment,
            reason=reason,
            data={
                "amount": payment.amount,
                "currency": payment.currency,
                "received_amount": payment.received_amount,
                "received_currency": payment.received_currency,
                "sender": payment.sender.handle,
                "recipient": payment.recipient.handle,
            },
        )
        data = payment_summary(payment)
        notify(payment.sender, kind="payment.reversed_sent", data=data)
        notify(payment.recipient, kind="payment.reversed_received", data=data)
        for user_id in (payment.sender_id, payment.recipient_id):
            event_publish(user_id=user_id, type="payment.updated", id=payment.pk, data=data)
            event_publish(user_id=user_id, type="balance.changed", data={})
        return payment

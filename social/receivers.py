"""Receivers of signals from the apps below: payments' status changes drive tip shares and subscriptions."""

from django.dispatch import receiver

from accounts.signals import user_blocked
from payments.models import PaymentKind
from payments.signals import payment_returning, payment_status_changed


@receiver(payment_status_changed, dispatch_uid="social.payment_status_changed")
def _on_payment_status_changed(sender, *, payment, status: str, **kwargs):
    if payment.kind == PaymentKind.TIP:
        from .services.tips import tip_payment_status_changed

        tip_payment_status_changed(payment, status)
    elif payment.kind == PaymentKind.SUBSCRIPTION:
        from .services.subscriptions import subscription_payment_status_changed

        subscription_payment_status_changed(payment, status)
    if payment.kind in (PaymentKind.TIP, PaymentKind.SUBSCRIPTION):
        from .services.creators import creator_sweep_to_savings

        creator_sweep_to_savings(payment)  # a creator's chosen share of what they earned, into savings


@receiver(payment_returning, dispatch_uid="social.payment_returning")
def _on_payment_returning(sender, *, payment, **kwargs):
    """A returned tip first pulls its co-authors' shares back to the creator (all or none)."""
    if payment.kind == PaymentKind.TIP:
        from .services.tips import tip_shares_reverse

        tip_shares_reverse(payment)
    if payment.kind in (PaymentKind.TIP, PaymentKind.SUBSCRIPTION):
        from .services.creators import creator_sweep_reverse

        creator_sweep_reverse(payment)  # the swept share comes back to the wallet first


@receiver(user_blocked, dispatch_uid="social.subscriptions_end_on_block")
def _on_user_blocked(sender, *, blocker, blocked, **kwargs):
    """A block either way ends the pair's subscriptions (inside the block's transaction)."""
    from .services.subscriptions import subscriptions_end_between

    subscriptions_end_between(blocker, blocked)

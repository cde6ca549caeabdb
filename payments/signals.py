"""Receivers: compliance (below us) announces review decisions; we move the held money.

We also tell compliance who takes part in a payment under review (its sender and
recipient), so staff who are either cannot decide that review (maker-checker).
"""

from django.dispatch import Signal, receiver

from compliance.services import review_parties_register
from compliance.signals import review_decided


@receiver(review_decided, dispatch_uid="payments.review_decided")
def _on_review_decided(sender, *, review, approved: bool, actor=None, **kwargs):
    from .services.send import payment_review_decide

    payment_review_decide(subject=review.subject, approved=approved, actor=actor)


def _payment_parties(subject: str) -> set[int]:
    from .models import Payment

    raw_id = subject.partition(":")[2]
    if not raw_id.isdigit():
        return set()
    row = Payment.objects.filter(pk=int(raw_id)).values_list("sender_id", "recipient_id").first()
    return set(row) if row else set()


review_parties_register("payment", _payment_parties)

# Sent inside the transaction whenever a payment reaches a new status (completed, arriving,
# in review, returned, cancelled, rejected), with ``payment=`` and ``status=``. The apps above
# (social: tip shares, subscriptions) react in the same transaction, so a receiver's failure
# rolls the status change back with it. Receivers must be quick and must not call out.
payment_status_changed = Signal()


# Sent inside ``payment_return`` / ``payment_reverse_by_staff`` after the payment and its
# accounts are locked and BEFORE the money goes back, with ``payment=``. A receiver may move
# money the return depends on (social pulls back a tip's co-author shares first) or raise a
# domain error to refuse the return; either way it commits or rolls back with it.
payment_returning = Signal()

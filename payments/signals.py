"""Receivers: compliance (below us) announces review decisions; we move the held money.

We also tell compliance who takes part in a payment under review (its sender and
recipient), so staff who are either cannot decide that review (maker-checker).
"""

from django.dispatch import receiver

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

"""Receivers: compliance (below us) announces review decisions; we move the held money."""

from django.dispatch import receiver

from compliance.signals import review_decided


@receiver(review_decided, dispatch_uid="payments.review_decided")
def _on_review_decided(sender, *, review, approved: bool, actor=None, **kwargs):
    from .services.send import payment_review_decide

    payment_review_decide(subject=review.subject, approved=approved, actor=actor)

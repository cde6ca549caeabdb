"""Signals compliance sends to the apps above it (DESIGN §2: reactions that would point up).

``review_decided`` — sent (inside the deciding transaction) when a RiskReview is
approved, rejected or passes its deadline. Keyword arguments: ``review`` (the
RiskReview, whose ``subject`` says what it is about, e.g. "payment:42"),
``approved`` (bool), ``actor`` (the staff user, or None for the deadline).
The app that owns the subject releases or returns the held money.
"""

from django.dispatch import Signal

review_decided = Signal()

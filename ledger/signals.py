"""Signals the ledger sends to the apps above it (DESIGN §2: reactions that would point up).

``balance_credited`` — sent after commit (``transaction.on_commit``) for every ledger
operation that raised the posted balance of one or more accounts that have an owner.
Keyword argument ``credits``: a list of ``Credited`` (account id, owner id, kind, currency,
balance before and after the operation, both in minor units). Receivers run outside the
ledger's transaction and locks; they must be quick (enqueue a task for anything slow) and
must not raise. Used by ``cards`` to issue a debit card when a USD wallet first reaches the
threshold. Nothing is sent when nobody listens.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.dispatch import Signal

balance_credited = Signal()


@dataclass(frozen=True)
class Credited:
    account_id: int
    owner_id: int
    kind: str
    currency: str
    before: int
    after: int

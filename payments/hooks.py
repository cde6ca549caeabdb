"""Extra ledger legs posted together with money leaving a wallet (apps above payments plug in here).

Payments must not import the apps above it (savings, cards, social...). An app that wants money
to move *in the same ledger operation* as a spend registers a function here, usually from its
``AppConfig.ready()``::

    from payments.hooks import register_extra_transfers
    register_extra_transfers(my_fn)  # my_fn(spend: Spend) -> list[TransferSpec]

A ``Spend`` is money leaving a person's wallet to pay for something: an instant payment
(``payment_send``) or a captured card purchase (``cards``). The caller asks
``extra_transfers_for(spend)`` and posts the legs the hooks return in the same ledger batch as
the spend, or right after it in the same transaction: all of them or none. The functions run
inside the caller's transaction and must only read and return specs (never move money).

Optional legs: if the batch with the extra legs is refused for lack of funds
(``InsufficientFunds``), the spend goes ahead without them — the extras are skipped, never the
spend. A hook that raises anything else fails the spend (a bug must not go unnoticed), so hooks
should return ``[]`` when they have nothing to add.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ledger.services import TransferSpec


@dataclass(frozen=True)
class Spend:
    """Money leaving ``user``'s wallet in ``currency`` (minor units), and what it was."""

    user: object
    amount: int
    currency: str
    # What the spend was, copied into the extra legs' metadata: {"payment": 12} or {"card_capture": 7}.
    reference: dict = field(default_factory=dict)


ExtraTransfersHook = Callable[[Spend], list[TransferSpec]]

_extra_transfer_hooks: list[ExtraTransfersHook] = []


def register_extra_transfers(fn: ExtraTransfersHook) -> ExtraTransfersHook:
    """Register ``fn(spend) -> list[TransferSpec]``; registering the same function twice is a no-op.

    Returns ``fn`` so it can be used as a decorator.
    """
    if fn not in _extra_transfer_hooks:
        _extra_transfer_hooks.append(fn)
    return fn


def unregister_extra_transfers(fn: ExtraTransfersHook) -> None:
    """Remove ``fn`` (tests); unknown functions are ignored."""
    if fn in _extra_transfer_hooks:
        _extra_transfer_hooks.remove(fn)


def extra_transfers_for(spend: Spend) -> list[TransferSpec]:
    """Every registered hook's legs for ``spend``, in registration order."""
    legs: list[TransferSpec] = []
    for fn in list(_extra_transfer_hooks):
        legs.extend(fn(spend) or [])
    return legs


__all__ = [
    "ExtraTransfersHook",
    "Spend",
    "extra_transfers_for",
    "register_extra_transfers",
    "unregister_extra_transfers",
]

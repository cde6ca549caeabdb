"""Extra ledger legs posted together with an instant payment (apps above payments plug in here).

Payments must not import the apps above it (savings, social...). An app that wants money to
move *in the same ledger operation* as a payment registers a function here, usually from its
``AppConfig.ready()``::

    from payments.hooks import register_extra_transfers
    register_extra_transfers(my_fn)  # my_fn(payment) -> list[TransferSpec]

``payment_send`` calls every registered function when it posts an instant payment (same
currency or converted; not a delayed or held one) and posts the legs they return in the same
``transfers_post`` batch as the payment: all of them or none. The functions run inside the
payment's transaction, after the ``Payment`` row exists (``payment.pk`` is set) and before its
postings; they must only read and return specs (never move money themselves).

Optional legs: if the batch with the extra legs is refused for lack of funds
(``InsufficientFunds``), the payment is posted again without them — the extras are skipped,
never the payment. A hook that raises anything else fails the payment (a bug must not go
unnoticed), so hooks should return ``[]`` when they have nothing to add.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.services import TransferSpec

ExtraTransfersHook = Callable[[object], list[TransferSpec]]

_extra_transfer_hooks: list[ExtraTransfersHook] = []


def register_extra_transfers(fn: ExtraTransfersHook) -> ExtraTransfersHook:
    """Register ``fn(payment) -> list[TransferSpec]``; registering the same function twice is a no-op.

    Returns ``fn`` so it can be used as a decorator.
    """
    if fn not in _extra_transfer_hooks:
        _extra_transfer_hooks.append(fn)
    return fn


def unregister_extra_transfers(fn: ExtraTransfersHook) -> None:
    """Remove ``fn`` (tests); unknown functions are ignored."""
    if fn in _extra_transfer_hooks:
        _extra_transfer_hooks.remove(fn)


def extra_transfers_for(payment) -> list[TransferSpec]:
    """Every registered hook's legs for ``payment``, in registration order."""
    legs: list[TransferSpec] = []
    for fn in list(_extra_transfer_hooks):
        legs.extend(fn(payment) or [])
    return legs


__all__ = ["ExtraTransfersHook", "extra_transfers_for", "register_extra_transfers", "unregister_extra_transfers"]

"""Round-ups: the spare change of each outgoing payment or card purchase goes into savings.

When an instant payment leaves a wallet whose owner has a savings account in the payment's
(sent) currency with ``roundups_enabled``, the amount up to the next whole currency unit moves
wallet → savings as an extra leg of the payment's own ledger batch (``payments.hooks``): the
payment and its round-up commit together or not at all.

- 12.30 USD → 0.70; 12.00 → nothing; 0.01 → 0.99; a 3-decimal currency (KWD) 1.250 → 0.750;
  a 0-decimal currency (JPY) never has spare change → nothing.
- Exact integer arithmetic on minor units, no rounding involved.
- Optional: if the wallet cannot cover the payment *and* its round-up, the payment still goes
  (``payments.services.send._post_now`` posts it again without the extra leg) and no round-up
  is made for it — there is no catching up later.
- Card purchases (``cards``) are rounded up when captured, in the capture's transaction.
- Only instant payments (same currency or converted). A payment that is delayed (safety delay)
  or held for review is not rounded up, now or when it is released.

Registered from ``SavingsConfig.ready()``. Payments never imports savings: it only calls the hook.
"""

from __future__ import annotations

from core.money import minor_units
from ledger.services import TransferSpec
from payments.hooks import Spend

ROUNDUP_KIND = "roundup"


def roundup_amount(amount: int, currency: str) -> int:
    """The minor units from ``amount`` up to the next whole unit of ``currency`` (0 if already whole)."""
    unit = 10 ** minor_units(currency)
    return (-amount) % unit


def roundup_transfers(spend: Spend) -> list[TransferSpec]:
    """The round-up leg for ``spend`` (the ``payments.hooks`` hook): [] or one wallet → savings spec.

    Reads only (one query for the savings account; the wallet is looked up, not moved).
    """
    from payments.services.wallet import wallet_account

    from .models import SavingsAccount

    spare = roundup_amount(spend.amount, spend.currency)
    if spare <= 0:
        return []
    savings = (
        SavingsAccount.objects.filter(user_id=spend.user.pk, currency=spend.currency, roundups_enabled=True)
        .only("pk", "ledger_account_id")
        .first()
    )
    if savings is None:
        return []
    return [
        TransferSpec(
            wallet_account(spend.user, spend.currency),
            savings.ledger_account_id,
            spare,
            spend.currency,
            ROUNDUP_KIND,
            {**spend.reference, "savings_account": savings.pk},
        )
    ]


__all__ = ["ROUNDUP_KIND", "roundup_amount", "roundup_transfers"]

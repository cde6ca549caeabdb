"""The platform fee on a released order, in integer minor units.

Rounding (documented, tested in ``tests/test_fees.py``): the fee is ``base × fee_bps / 10,000``
rounded HALF UP to the order currency's minor unit, computed with integers only, where ``base``
is what is released (the order total less what was refunded). So at 2.5 %: 0.01 → 0.00,
0.19 → 0.00, 0.20 → 0.01 (0.005 rounds up), 0.21 → 0.01, 1.00 → 0.03 (0.025 rounds up),
12.34 → 0.31 (0.3085), 99.99 → 2.50 (2.49975). The fee never exceeds the base.

The rate is the one in force when the order was PAID (``Order.fee_bps``, a snapshot): a staff
change of ``CommerceSettings.fee_bps`` only affects orders paid afterwards.
"""

from __future__ import annotations

from .models import CommerceSettings

DEFAULT_FEE_BPS = 250
BPS_DENOMINATOR = 10_000


def fee_for(base: int, fee_bps: int) -> int:
    """``base × fee_bps / 10,000`` rounded half up (integers only); 0 for a base of 0 or less."""
    if isinstance(base, bool) or not isinstance(base, int) or isinstance(fee_bps, bool) or not isinstance(fee_bps, int):
        raise TypeError("fee_for takes integer minor units and integer basis points")
    if base <= 0 or fee_bps <= 0:
        return 0
    return min(base, (base * fee_bps * 2 + BPS_DENOMINATOR) // (2 * BPS_DENOMINATOR))


def current_fee_bps() -> int:
    """The fee in force now (the settings row, or the 2.5 % default before staff set one). One query."""
    value = CommerceSettings.objects.filter(pk=1).values_list("fee_bps", flat=True).first()
    return DEFAULT_FEE_BPS if value is None else value

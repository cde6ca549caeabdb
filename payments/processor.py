"""A simulated card processor: card charges (add money) and payouts (cash out).

It answers instantly and moves no real money. Documented test numbers
(docs/test-cards.md, and the add-card page when DEBUG is on):

===================  ==========================  =============  ==================
number               $0 verification (link)      charge         payout
===================  ==========================  =============  ==================
4242 4242 4242 4242  approved                    approved       approved
4000 0000 0000 9995  approved                    declined:      approved
                                                 insufficient
                                                 funds
4000 0000 0000 9979  declined: stolen card       declined:      declined:
                                                 stolen card    stolen card
4000 0000 0000 0119  approved                    times out      times out
4000 0000 0000 0077  approved                    approved       declined: payouts
                                                                not supported
===================  ==========================  =============  ==================

Any other Luhn-valid number is approved. A timeout raises ``ProcessorTimeout`` at
once (no real sleep) and, in this simulation, guarantees nothing was charged or sent.

Like a real processor, each call may carry an ``idempotency_key``: a repeat with the
same key returns the first result and does not charge or pay out again. (The
simulation remembers keys in this process only.)

The card number is never logged: the simulated log lines and ``history`` name
the card by its last 4 digits.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

from django.views.decorators.debug import sensitive_variables

from .vault import luhn_valid, mask

logger = logging.getLogger(__name__)

APPROVE = "4242424242424242"
DECLINE_INSUFFICIENT_FUNDS = "4000000000009995"
DECLINE_STOLEN = "4000000000009979"
TIMEOUT = "4000000000000119"
PAYOUT_DECLINED = "4000000000000077"

TEST_CARDS = [
    (APPROVE, "Approved: verification, charges and payouts."),
    (DECLINE_INSUFFICIENT_FUNDS, "Links, but charges are declined: insufficient funds."),
    (DECLINE_STOLEN, "Declined as stolen: cannot be linked."),
    (TIMEOUT, "Links, but charges and payouts time out (nothing moves)."),
    (PAYOUT_DECLINED, "Links and can be charged, but payouts (cash out) are declined."),
]

# decline code -> what the person is told (after "Your bank declined this ...: ")
DECLINE_REASONS = {
    "insufficient_funds": "insufficient funds",
    "stolen_card": "this card can't be used",
    "payouts_not_supported": "this card can't receive payouts",
    "invalid_number": "the card number is not valid",
}


class ProcessorTimeout(Exception):
    """The card network did not answer. In this simulation nothing was charged or sent."""


@dataclass(frozen=True)
class ProcessorResult:
    approved: bool
    reference: str
    decline_code: str = ""

    @property
    def reason(self) -> str:
        return DECLINE_REASONS.get(self.decline_code, "the card was declined")


# Every operation the simulator really performed (replays excluded), newest last.
# Masked: the card appears only as "•••• 4242". Tests read it to count charges.
history: deque[dict] = deque(maxlen=1000)
_replies: OrderedDict[str, ProcessorResult] = OrderedDict()
_MAX_REMEMBERED = 10_000
_lock = threading.Lock()


def reset() -> None:
    """Forget the history and the remembered idempotency keys (tests)."""
    with _lock:
        history.clear()
        _replies.clear()


@sensitive_variables("card_number")
def _outcome(operation: str, card_number: str, amount: int) -> str:
    """The outcome: "approved", "timeout" or a decline code."""
    if not luhn_valid(card_number):
        return "invalid_number"
    if card_number == DECLINE_STOLEN:
        return "stolen_card"
    if operation == "charge" and amount == 0:
        return "approved"  # a $0 verification only refuses cards that must not be used
    if card_number == TIMEOUT:
        return "timeout"
    if operation == "charge" and card_number == DECLINE_INSUFFICIENT_FUNDS:
        return "insufficient_funds"
    if operation == "payout" and card_number == PAYOUT_DECLINED:
        return "payouts_not_supported"
    return "approved"


@sensitive_variables("card_number")
def _run(operation: str, card_number: str, amount: int, currency: str, idempotency_key: str | None) -> ProcessorResult:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError("amount must be a non-negative whole number of minor units")
    card = mask(str(card_number)[-4:])
    scoped_key = f"{operation}:{idempotency_key}" if idempotency_key else None
    # The simulation answers at once, so it holds its lock for the whole call: two calls
    # with the same key can never both miss the remembered answer and charge twice.
    with _lock:
        if scoped_key and scoped_key in _replies:
            return _replies[scoped_key]
        outcome = _outcome(operation, str(card_number), amount)
        entry = {"operation": operation, "card": card, "amount": amount, "currency": currency, "outcome": outcome}
        if outcome == "timeout":
            logger.info("simulated %s of %s %s on card %s: timed out", operation, amount, currency, card)
            history.append(entry)
            raise ProcessorTimeout(f"The card network did not answer the {operation}.")
        prefix = {"charge": "sim_ch_", "payout": "sim_po_"}[operation]
        result = ProcessorResult(
            approved=outcome == "approved",
            reference=prefix + secrets.token_hex(8),
            decline_code="" if outcome == "approved" else outcome,
        )
        logger.info(
            "simulated %s of %s %s on card %s: %s (%s)", operation, amount, currency, card, outcome, result.reference
        )
        history.append({**entry, "reference": result.reference})
        if scoped_key:
            _replies[scoped_key] = result
            while len(_replies) > _MAX_REMEMBERED:
                _replies.popitem(last=False)
        return result


@sensitive_variables("card_number", "cvc")
def charge(
    card_number: str, amount: int, currency: str, cvc: str | None = None, *, idempotency_key: str | None = None
) -> ProcessorResult:
    """Charge ``amount`` minor units of ``currency`` to the card (``amount=0``: a verification).

    Returns a ProcessorResult (approved, or declined with a code); raises
    ProcessorTimeout when the network does not answer. The CVC is only looked
    at, never kept.
    """
    return _run("charge", card_number, amount, currency, idempotency_key)


@sensitive_variables("card_number")
def payout(card_number: str, amount: int, currency: str, *, idempotency_key: str | None = None) -> ProcessorResult:
    """Send ``amount`` minor units of ``currency`` to the card. Same answers as ``charge``."""
    return _run("payout", card_number, amount, currency, idempotency_key)


@sensitive_variables("card_number", "cvc")
def verify(card_number: str, *, currency: str, cvc: str | None = None) -> ProcessorResult:
    """A $0 verification: is this card usable at all? (Only a stolen card is refused here.)"""
    return charge(card_number, 0, currency, cvc)

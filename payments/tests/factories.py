"""Helpers for payments tests: users who may send, funded wallets, FX rates."""

from __future__ import annotations

from decimal import Decimal

from accounts.tests.factories import UserFactory
from compliance.tests.factories import make_verified
from core.money import Money
from ledger.models import AccountKind
from ledger.services import system_account, transfer_post
from payments.services.fx import fx_rate_set
from payments.services.wallet import wallet_account

# Mid rates used by tests (1 USD = x): round numbers so expected amounts are easy to check.
TEST_RATES = {"EUR": "0.9", "GBP": "0.8", "MXN": "17", "INR": "83", "JPY": "150", "CAD": "1.35", "KWD": "0.3"}


def sender_user(handle: str | None = None, *, tier: int = 1, country: str = "US", currency: str = "USD", **kwargs):
    """A verified user of KYC ``tier`` in a licensed country."""
    if handle:
        kwargs["handle"] = handle
    user = UserFactory(verified=True, country=country, home_currency=currency, **kwargs)
    make_verified(user, tier=tier)
    return user


def fund(user, amount: str | int, currency: str = "USD"):
    """Put money in ``user``'s wallet from the funding system account (as a top-up would)."""
    money = Money.parse(amount, currency) if isinstance(amount, str) else Money(amount, currency)
    return transfer_post(
        initiator=None,
        debit=system_account(AccountKind.FUNDING, currency),
        credit=wallet_account(user, currency),
        amount=money.amount,
        currency=currency,
        kind="test_funding",
    )


def balance(user, currency: str = "USD") -> int:
    """Posted balance in minor units."""
    account = wallet_account(user, currency)
    account.refresh_from_db()
    return account.balance


def available(user, currency: str = "USD") -> int:
    account = wallet_account(user, currency)
    account.refresh_from_db()
    return account.available


def load_test_rates():
    for quote, rate in TEST_RATES.items():
        fx_rate_set(base="USD", quote=quote, rate=Decimal(rate), source="test")

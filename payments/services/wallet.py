"""Wallet accounts: one ledger account per user and currency, opened on first use."""

from __future__ import annotations

from ledger.models import Account, AccountKind
from ledger.services import account_open


def wallet_account(user, currency: str) -> Account:
    """The user's wallet account in ``currency`` (never below zero), opened if needed. Race-safe."""
    return account_open(owner=user, kind=AccountKind.WALLET, currency=currency, must_not_go_negative=True)

import itertools

import pytest
from django.contrib.auth import get_user_model

from ledger import services
from ledger.models import AccountKind

_seq = itertools.count(1)


@pytest.fixture
def make_user(db):
    def make(handle=None):
        handle = handle or f"ledger_{next(_seq)}"
        return get_user_model().objects.create_user(handle=handle, email=f"{handle}@example.com", password="x-pass-123")

    return make


@pytest.fixture
def fund(db):
    """Put ``amount`` into an account from the funding system account, as deposits would."""

    def fund(account, amount, currency="USD"):
        return services.transfer_post(
            initiator=None,
            debit=services.system_account(AccountKind.FUNDING, currency),
            credit=account,
            amount=amount,
            currency=currency,
            kind="deposit",
        )

    return fund


@pytest.fixture
def wallet(make_user):
    def wallet(currency="USD", user=None):
        return services.account_open(owner=user or make_user(), kind=AccountKind.WALLET, currency=currency)

    return wallet

import pytest

from payments.tests.conftest import alice, bob, carol, fx_rates  # noqa: F401 - funded, verified users
from payments.tests.factories import sender_user

from .factories import make_creator, make_tier


@pytest.fixture
def dave(db):
    """A creator (verified, USD) with an empty wallet."""
    user = sender_user("dave", display_name="Dave Creator")
    make_creator(user)
    return user


@pytest.fixture
def tier(dave):
    """dave's 5.00 USD monthly tier."""
    return make_tier(dave, name="Supporter", price=500, perks="Early posts")

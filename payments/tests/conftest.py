import pytest

from .factories import fund, load_test_rates, sender_user


@pytest.fixture
def fx_rates(db):
    load_test_rates()


@pytest.fixture
def alice(db):
    user = sender_user("alice", display_name="Alice Liddell")
    fund(user, "1000.00")
    return user


@pytest.fixture
def bob(db):
    user = sender_user("bob", display_name="Bob Builder")
    fund(user, "1000.00")
    return user


@pytest.fixture
def carol(db):
    return sender_user("carol", display_name="Carol Danvers")

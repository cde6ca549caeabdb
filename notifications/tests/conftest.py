import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from accounts.tests.factories import UserFactory


@pytest.fixture
def alice(db):
    return UserFactory(handle="alice_n")


@pytest.fixture
def bob(db):
    return UserFactory(handle="bob_n")


@pytest.fixture(autouse=True)
def _fresh_in_memory_layer():
    """The in-memory layer is process-global: empty it so one test's events never leak into another."""
    yield
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        async_to_sync(layer.flush)()

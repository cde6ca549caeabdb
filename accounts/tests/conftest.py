import pytest
from django.core.cache import cache

from accounts.tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _isolated_media_and_cache(settings, tmp_path):
    """Uploads go to a throwaway folder; allauth's rate/used-code state does not leak between tests."""
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def verified_user(db):
    return UserFactory(verified=True, display_name="Alice Liddell", handle="alice")


@pytest.fixture
def signed_in(client, verified_user):
    client.force_login(verified_user)
    return client

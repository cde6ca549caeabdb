import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.tests.factories import UserFactory

from .factories import make_verified, staff_user


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Identity documents go to a throwaway private folder (and public media elsewhere)."""
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private-media")
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def newcomer(db):
    """Email verified only: tier 0 (no KYC profile)."""
    return UserFactory(handle="newcomer", verified=True, country="US")


@pytest.fixture
def sender(db):
    """Tier 1, in the US (licensed)."""
    user = UserFactory(handle="sender", display_name="Sam Sender", verified=True, country="US")
    make_verified(user, tier=1)
    return user


@pytest.fixture
def big_sender(db):
    """Tier 2."""
    user = UserFactory(handle="bigsender", verified=True, country="US")
    make_verified(user, tier=2)
    return user


@pytest.fixture
def staff(db):
    return staff_user("maker")


@pytest.fixture
def checker(db):
    return staff_user("checker")


def image_upload(name="passport.jpg", *, size=(640, 400), fmt="JPEG", content_type="image/jpeg"):
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 180, 150)).save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=content_type)


@pytest.fixture
def document_file():
    return image_upload()

"""Photos lose their metadata before they are stored: a phone photo's EXIF carries where it was taken."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.tests.factories import UserFactory
from messaging import services
from messaging.attachments import attachments_prepare

GPS_IFD = 0x8825
ORIENTATION = 0x0112


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private-media"


def photo(fmt: str, *, rotated: bool = False) -> bytes:
    image = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make
    exif.get_ifd(GPS_IFD)[2] = (51.0, 30.0, 0.0)  # GPS latitude
    if rotated:
        exif[ORIENTATION] = 6  # "rotate 90° clockwise to display"
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_stored_photos_carry_no_exif_or_location(fmt):
    ann, ben = UserFactory(handle="ann"), UserFactory(handle="ben")
    conversation = services.conversation_direct_open(ann, other=ben)
    original = photo(fmt)
    assert b"PhoneMaker" in original
    upload = SimpleUploadedFile(f"holiday.{fmt.lower()}", original)
    message = services.message_post(ann, conversation=conversation, attachments=attachments_prepare(ann, [upload]))
    attachment = message.attachments.get()
    with attachment.file.open("rb") as stored:
        data = stored.read()
    assert b"PhoneMaker" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert not image.getexif()
        assert image.size == (40, 20)
    assert (
        attachment.size == len(data)
        and attachment.original_name == f"holiday.{'jpg' if fmt == 'JPEG' else fmt.lower()}"
    )


@pytest.mark.django_db
def test_a_rotated_phone_photo_is_stored_upright():
    ann, ben = UserFactory(handle="ann"), UserFactory(handle="ben")
    conversation = services.conversation_direct_open(ann, other=ben)
    upload = SimpleUploadedFile("portrait.jpg", photo("JPEG", rotated=True))
    (attachment,) = attachments_prepare(ann, [upload])
    assert (attachment.width, attachment.height) == (20, 40)
    services.message_post(ann, conversation=conversation, attachments=[attachment])

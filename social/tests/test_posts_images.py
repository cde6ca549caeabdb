"""Post images: checked from their bytes, EXIF stripped, stored privately, served only when visible and unlocked."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from accounts.models import Block
from accounts.tests.factories import UserFactory
from social.images import (
    PostImageInvalid,
    PostImageNotFound,
    post_image_for,
    post_image_response,
    post_images_prepare,
)
from social.models import Audience, PostImage, post_image_storage
from social.services.posts import post_create, post_delete
from social.tests.factories import make_creator, make_paid_subscription, make_tier

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


def image_bytes(fmt="PNG", size=(64, 48), exif: bool = False) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, (10, 120, 200))
    if exif:
        data = Image.Exif()
        data[0x010F] = "PhoneMaker"  # Make
        data[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0)}  # GPS
        image.save(buffer, format=fmt, exif=data.tobytes())
    else:
        image.save(buffer, format=fmt)
    return buffer.getvalue()


def upload(name, content, content_type="image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def test_good_png_and_jpeg_are_prepared_with_random_names():
    images = post_images_prepare([upload("a.png", image_bytes()), upload("b.jpg", image_bytes("JPEG"))])
    assert [i.content_type for i in images] == ["image/png", "image/jpeg"]
    assert (images[0].width, images[0].height) == (64, 48)
    assert images[0].file.name != "a.png" and images[0].file.name.endswith(".png")
    assert len(images[0].file.name.split(".")[0]) == 32


def test_images_are_saved_with_the_post_privately(tmp_path):
    author = UserFactory()
    post = post_create(author, text="pics", images=[upload("a.png", image_bytes())])
    image = PostImage.objects.get(post=post)
    assert image.file.name.startswith(f"{post.pk}/")
    assert post_image_storage().exists(image.file.name)
    assert str(tmp_path / "private" / "posts") in post_image_storage().path(image.file.name)


def test_raw_uploads_can_go_straight_to_post_create():
    post = post_create(UserFactory(), text="raw", images=[upload("a.png", image_bytes())])
    assert post.images.count() == 1


@pytest.mark.parametrize(
    "content",
    [b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", b"<?php echo 1; ?>", b"%PDF-1.4 not an image", b""],
)
def test_fake_images_are_refused(content):
    with pytest.raises(PostImageInvalid) as caught:
        post_images_prepare([upload("evil.png", content)])
    assert "images" in caught.value.fields


def test_truncated_image_is_refused():
    with pytest.raises(PostImageInvalid):
        post_images_prepare([upload("cut.png", image_bytes()[:60])])


def test_too_many_images_are_refused_and_nothing_is_written():
    author = UserFactory()
    with pytest.raises(PostImageInvalid):
        post_images_prepare([upload(f"{i}.png", image_bytes()) for i in range(5)])
    from social.models import Post

    with pytest.raises(PostImageInvalid):
        post_create(author, text="five", images=[upload(f"{i}.png", image_bytes()) for i in range(5)])
    assert not Post.objects.exists()


def test_too_large_is_refused(monkeypatch):
    import social.images as module

    monkeypatch.setattr(module, "IMAGE_MAX_BYTES", 100)
    with pytest.raises(PostImageInvalid) as caught:
        post_images_prepare([upload("big.png", image_bytes(size=(400, 400)))])
    assert "MB" in caught.value.message


def test_exif_and_gps_are_stripped():
    original = image_bytes("JPEG", exif=True)
    assert Image.open(io.BytesIO(original)).getexif()  # the test image really has EXIF
    [image] = post_images_prepare([upload("photo.jpg", original, "image/jpeg")])
    image.file.seek(0)
    data = image.file.read()
    assert not Image.open(io.BytesIO(data)).getexif()
    assert b"PhoneMaker" not in data


def _post_with_image(author, **kwargs):
    return post_create(author, text="pic", images=[upload("a.png", image_bytes())], **kwargs)


def test_image_served_when_visible_and_unlocked():
    author, viewer = UserFactory(), UserFactory()
    post = _post_with_image(author)
    image = post_image_for(viewer, post_id=post.pk, position=0)
    response = post_image_response(image)
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff" and "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    from django.contrib.auth.models import AnonymousUser

    assert post_image_for(AnonymousUser(), post_id=str(post.pk), position="0").pk == image.pk


def test_image_not_found_for_invisible_or_locked_posts():
    author, viewer = UserFactory(), UserFactory()
    make_creator(author)
    locked = _post_with_image(author, audience=Audience.SUBSCRIBERS)
    with pytest.raises(PostImageNotFound):
        post_image_for(viewer, post_id=locked.pk, position=0)
    make_paid_subscription(viewer, make_tier(author))
    assert post_image_for(viewer, post_id=locked.pk, position=0)

    public = _post_with_image(author)
    Block.objects.create(blocker=author, blocked=viewer)
    with pytest.raises(PostImageNotFound):
        post_image_for(viewer, post_id=public.pk, position=0)

    other = UserFactory()
    hidden = _post_with_image(other)
    hidden.hidden_at = timezone.now()
    hidden.save()
    with pytest.raises(PostImageNotFound):
        post_image_for(viewer, post_id=hidden.pk, position=0)
    for bad in (("x", 0), (hidden.pk, 9), (hidden.pk, "a"), (None, 0), (hidden.pk, True)):
        with pytest.raises(PostImageNotFound):
            post_image_for(viewer, post_id=bad[0], position=bad[1])


def test_deleting_the_post_deletes_its_files(django_capture_on_commit_callbacks):
    author = UserFactory()
    post = _post_with_image(author)
    name = PostImage.objects.get(post=post).file.name
    with django_capture_on_commit_callbacks(execute=True):
        post_delete(author, post=post)
    assert not PostImage.objects.filter(post=post).exists()
    assert not post_image_storage().exists(name)

"""Attachments: the type comes from the content, files live privately, only members download them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import Block, Follow
from accounts.tests.factories import UserFactory
from messaging import services
from messaging.attachments import (
    ATTACHMENT_MAX_BYTES,
    DOWNLOAD_CSP,
    AttachmentInvalid,
    attachment_storage,
    attachments_prepare,
    clean_name,
)
from messaging.models import Attachment

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def image_bytes(fmt="PNG", size=(64, 48), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (10, 120, 200) if mode == "RGB" else 1).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(name, content: bytes, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path, monkeypatch):
    """Files go to a throwaway folder, whichever storage object (ours, the field's) touches them."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private-media"
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(Attachment._meta.get_field("file"), "storage", attachment_storage())


@pytest.fixture
def people(db):
    ann = UserFactory(handle="ann", verified=True)
    ben = UserFactory(handle="ben", verified=True)
    cat = UserFactory(handle="cat", verified=True)
    Follow.objects.create(follower=ben, followee=ann)
    return ann, ben, cat


@pytest.fixture
def conversation(people):
    ann, ben, _ = people
    return services.conversation_direct_open(ann, other=ben)


def post_with(user, conversation, *files, body=""):
    return services.message_post(
        user, conversation=conversation, body=body, attachments=attachments_prepare(user, list(files))
    )


# --- What is accepted -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [
        ("JPEG", "image/jpeg", "jpg"),
        ("PNG", "image/png", "png"),
        ("GIF", "image/gif", "gif"),
        ("WEBP", "image/webp", "webp"),
    ],
)
def test_images_are_accepted_with_their_size_recorded(people, conversation, settings, fmt, content_type, extension):
    ann = people[0]
    message = post_with(ann, conversation, upload(f"Holiday photo.{extension}", image_bytes(fmt, (64, 48))))
    attachment = Attachment.objects.get(message=message)
    assert attachment.content_type == content_type
    assert (attachment.width, attachment.height) == (64, 48)
    assert attachment.original_name == f"Holiday photo.{extension}"
    assert attachment.storage_name.endswith(f".{extension}") and "Holiday" not in attachment.storage_name
    assert attachment.file.name == f"{conversation.pk}/{attachment.storage_name}"
    # Stored privately: under PRIVATE_MEDIA_ROOT/attachments, nothing under MEDIA_ROOT.
    stored = Path(settings.PRIVATE_MEDIA_ROOT) / "attachments" / attachment.file.name
    with Image.open(stored) as kept:  # photos are re-encoded without metadata (test_attachment_metadata)
        assert (kept.format, kept.size) == (fmt, (64, 48))
    assert not Path(settings.MEDIA_ROOT).exists() or not any(Path(settings.MEDIA_ROOT).rglob("*.*"))
    data = services.message_serialize(message)
    assert data["attachments"][0]["is_image"] is True
    assert data["attachments"][0]["url"] == f"/messages/attachments/{attachment.pk}/"


def test_a_pdf_is_accepted_whatever_its_declared_type(people, conversation):
    ann = people[0]
    message = post_with(ann, conversation, upload("invoice", PDF, "image/png"), body="the invoice")
    attachment = message.attachments.get()
    assert attachment.content_type == "application/pdf"
    assert attachment.original_name == "invoice.pdf"
    assert attachment.width is None and not attachment.is_image


def test_the_name_gets_the_extension_of_the_real_type():
    [prepared] = attachments_prepare(None, [upload("../../etc/passwd.html", image_bytes("PNG"), "text/html")])
    assert prepared.original_name == "passwd.png"
    assert prepared.content_type == "image/png"
    assert clean_name('a"b<c>\r\n\u202ed.exe', "pdf") == "a b c d.pdf"
    assert clean_name("", "jpg") == "attachment.jpg"
    assert len(clean_name("x" * 500 + ".png", "png")) <= 120


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("shell.png", b"<?php system($_GET['c']); ?>"),
        ("page.png", b"<!doctype html><html><script>alert(document.cookie)</script></html>"),
        (
            "logo.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>',
        ),
        ("logo.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>'),
        ("picture.bmp", image_bytes("BMP")),  # a real image, but not one of the four formats
        ("picture.tiff", image_bytes("TIFF")),
        ("report.pdf", b" %PDF-1.4 not at the start"),
        ("archive.zip", b"PK\x03\x04" + b"\x00" * 100),
    ],
)
def test_anything_else_is_refused_whatever_its_name(people, conversation, name, content):
    with pytest.raises(AttachmentInvalid) as caught:
        attachments_prepare(people[0], [upload(name, content, "image/png")])
    assert caught.value.status == 400 and "files" in caught.value.fields
    assert not Attachment.objects.exists()


def test_a_truncated_image_is_refused(people):
    data = image_bytes("PNG", (200, 200))
    with pytest.raises(AttachmentInvalid):
        attachments_prepare(people[0], [upload("cut.png", data[: len(data) // 2])])


def test_a_decompression_bomb_is_refused(people):
    # A tiny PNG claiming 20,000 × 20,000 pixels (400 megapixels).
    bomb = image_bytes("PNG", (20_000, 20_000), mode="1")
    assert len(bomb) < ATTACHMENT_MAX_BYTES
    with pytest.raises(AttachmentInvalid) as caught:
        attachments_prepare(people[0], [upload("bomb.png", bomb)])
    assert "too large" in caught.value.message


def test_more_than_10_mb_is_refused(people):
    big = PDF + b"0" * (ATTACHMENT_MAX_BYTES - len(PDF) + 1)
    with pytest.raises(AttachmentInvalid) as caught:
        attachments_prepare(people[0], [upload("big.pdf", big)])
    assert "10 MB" in caught.value.message
    exactly = PDF + b"0" * (ATTACHMENT_MAX_BYTES - len(PDF))
    assert attachments_prepare(people[0], [upload("ok.pdf", exactly)])[0].size == ATTACHMENT_MAX_BYTES


def test_at_most_four_files_and_none_empty(people):
    with pytest.raises(AttachmentInvalid):
        attachments_prepare(people[0], [upload(f"{i}.pdf", PDF) for i in range(5)])
    with pytest.raises(AttachmentInvalid):
        attachments_prepare(people[0], [upload("empty.pdf", b"")])
    assert len(attachments_prepare(people[0], [upload(f"{i}.pdf", PDF) for i in range(4)])) == 4


def test_a_message_can_be_only_attachments(people, conversation):
    message = post_with(people[0], conversation, upload("a.png", image_bytes()))
    assert message.body == "" and message.attachments.count() == 1


# --- Downloading ----------------------------------------------------------------------------


def test_members_download_images_inline_with_safe_headers(client, people, conversation):
    ann, ben, _ = people
    message = post_with(ann, conversation, upload("sunset.png", image_bytes("PNG")))
    attachment = message.attachments.get()
    client.force_login(ben)
    response = client.get(f"/messages/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == image_bytes("PNG")
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert 'filename="sunset.png"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == DOWNLOAD_CSP
    assert "private" in response["Cache-Control"]


def test_pdfs_download_as_attachments(client, people, conversation):
    ann = people[0]
    attachment = post_with(ann, conversation, upload("Invoice March.pdf", PDF)).attachments.get()
    client.force_login(ann)
    response = client.get(f"/messages/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert "Invoice March.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_non_members_get_404(client, people, conversation):
    ann, _, cat = people
    attachment = post_with(ann, conversation, upload("a.png", image_bytes())).attachments.get()
    client.force_login(cat)
    assert client.get(f"/messages/attachments/{attachment.pk}/").status_code == 404
    assert client.get("/messages/attachments/999999/").status_code == 404
    # The same answer as for an id that does not exist: nothing is revealed.
    assert client.get("/messages/attachments/99999999999999999999/").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, people, conversation):
    attachment = post_with(people[0], conversation, upload("a.png", image_bytes())).attachments.get()
    response = client.get(f"/messages/attachments/{attachment.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_former_members_and_blockers_get_404(client, people):
    ann, ben, cat = people
    Follow.objects.create(follower=cat, followee=ann)
    group = services.conversation_group_create(ann, name="Trip", members=[ben, cat])
    attachment = post_with(ann, group, upload("map.png", image_bytes())).attachments.get()
    client.force_login(cat)
    assert client.get(f"/messages/attachments/{attachment.pk}/").status_code == 200
    services.conversation_leave(cat, conversation=group)
    assert client.get(f"/messages/attachments/{attachment.pk}/").status_code == 404

    direct = services.conversation_direct_open(ann, other=ben)
    attachment = post_with(ann, direct, upload("b.png", image_bytes())).attachments.get()
    client.force_login(ben)
    assert client.get(f"/messages/attachments/{attachment.pk}/").status_code == 200
    Block.objects.create(blocker=ben, blocked=ann)  # ben hid the thread
    assert client.get(f"/messages/attachments/{attachment.pk}/").status_code == 404


def test_after_the_message_is_deleted_the_file_is_gone(
    client, people, conversation, settings, django_capture_on_commit_callbacks
):
    ann, ben, _ = people
    message = post_with(ann, conversation, upload("a.png", image_bytes()))
    attachment = message.attachments.get()
    path = Path(settings.PRIVATE_MEDIA_ROOT) / "attachments" / attachment.file.name
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.message_delete(ann, message=message)
    client.force_login(ben)
    assert client.get(f"/messages/attachments/{attachment.pk}/").status_code == 404
    assert not path.exists()


def test_only_get_and_head(client, people, conversation):
    attachment = post_with(people[0], conversation, upload("a.png", image_bytes())).attachments.get()
    client.force_login(people[0])
    assert client.post(f"/messages/attachments/{attachment.pk}/").status_code == 405
    assert client.head(f"/messages/attachments/{attachment.pk}/").status_code == 200


def test_storage_has_no_public_url_and_follows_the_setting(settings, tmp_path):
    with pytest.raises(ValueError):
        attachment_storage().url("1/x.png")
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "elsewhere"
    assert attachment_storage().path("1/x.png") == str(tmp_path / "elsewhere" / "attachments" / "1" / "x.png")

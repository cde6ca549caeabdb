"""Attachments on messages: images and PDFs, checked from their content, stored privately.

- ``attachments_prepare(user, files)`` validates what a person uploads and returns
  unsaved ``Attachment`` rows; ``messaging.services.message_post(...,
  attachments=...)`` saves them with the message, in its transaction.
- ``attachment_download(request, pk)`` streams one to an active member of its
  conversation, and to no one else (404, also once the message is deleted).

What is accepted is decided from the bytes, never from the file name or the
browser's content type: a JPEG, PNG, GIF or WebP image that Pillow opens and
verifies (with a pixel cap against decompression bombs; width and height are
recorded), or a PDF (its content starts with ``%PDF-``). At most 10 MB each, at
most 4 per message. Files live under ``PRIVATE_MEDIA_ROOT/attachments/<conversation
id>/`` (never under MEDIA_URL) with a random name; the uploaded name is kept, sanitised, only
for display and as the download's file name.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, Http404
from django.utils.deconstruct import deconstructible
from django.views.decorators.http import require_safe

from core.errors import NotFound, ValidationFailed
from core.images import (  # noqa: F401 - re-exported: the limits used to live here
    DECODE_ERRORS,
    IMAGE_MAX_FRAMES,
    IMAGE_MAX_PIXELS,
    IMAGE_MAX_TOTAL_PIXELS,
    IMAGE_TYPES,
    ImageInvalid,
    SniffedImage,
    sniff_image,
    strip_metadata,
)

from .models import Attachment
from .services import MessageNotFound, message_for

ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENTS_PER_MESSAGE = 4
NAME_MAX_LENGTH = 120

PDF_TYPE = ("application/pdf", "pdf")
PDF_MAGIC = b"%PDF-"

# What the download answers with: nothing in the file may run, load or frame anything.
DOWNLOAD_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


class AttachmentInvalid(ValidationFailed):
    code = "invalid_attachment"
    default_message = "Attach images (JPEG, PNG, GIF or WebP) or PDF files of at most 10 MB."

    def __init__(self, message: str | None = None):
        super().__init__(message, fields={"files": [message or self.default_message]})


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"
    default_message = "That attachment does not exist."


# --- Private storage --------------------------------------------------------------------------


def private_attachments_root() -> Path:
    """``PRIVATE_MEDIA_ROOT/attachments``, read at use (so tests can point it elsewhere): never under MEDIA_ROOT."""
    configured = getattr(settings, "PRIVATE_MEDIA_ROOT", None) or os.environ.get("PRIVATE_MEDIA_ROOT")
    root = Path(configured) if configured else Path(settings.BASE_DIR) / "private-media"
    return root / "attachments"


@deconstructible(path="messaging.attachments.PrivateAttachmentStorage")
class PrivateAttachmentStorage(FileSystemStorage):
    """Files under ``PRIVATE_MEDIA_ROOT/attachments`` with no URL: served only by ``attachment_download``.

    Names come from ``Attachment.file``'s ``upload_to``: ``<conversation id>/<random name>``.
    The location is resolved on every use, not frozen when the module is imported.
    """

    def __init__(self):
        super().__init__(base_url=None)

    @property
    def base_location(self):
        return str(private_attachments_root())

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("Message attachments have no public URL; use the messaging:attachment view.")


_private_storage = PrivateAttachmentStorage()


def attachment_storage() -> PrivateAttachmentStorage:
    """The storage every attachment is written to, read from and deleted from here.

    The same folder as ``Attachment.file``'s own storage (``PRIVATE_MEDIA_ROOT/attachments``),
    but resolved at use; this module always goes through it explicitly.
    """
    return _private_storage


# --- Checking uploads -------------------------------------------------------------------------

# The image checks are shared with post images: core.images.
_Sniffed = SniffedImage


def _sniff_image(handle) -> _Sniffed | None:
    """``core.images.sniff_image``, raising ``AttachmentInvalid`` (same message) for a bomb or a damaged file."""
    try:
        return sniff_image(handle)
    except ImageInvalid as exc:
        raise AttachmentInvalid(exc.message) from None


def _without_metadata(upload, sniffed: _Sniffed) -> tuple[File, int, _Sniffed] | None:
    """``core.images.strip_metadata`` (rotation applied, EXIF/XMP/text gone; GIFs and animations kept)."""
    return strip_metadata(upload, sniffed)


def _sniff(handle) -> _Sniffed:
    handle.seek(0)
    if handle.read(len(PDF_MAGIC)) == PDF_MAGIC:
        return _Sniffed(*PDF_TYPE)
    sniffed = _sniff_image(handle)
    if sniffed is None:
        raise AttachmentInvalid()
    return sniffed


_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f"*/:<>?\\|;]+')


def _clean_text(raw: object) -> str:
    """The last path segment of an uploaded name without control, format or quoting characters."""
    name = raw if isinstance(raw, str) else ""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp"))
    return " ".join(_UNSAFE_NAME_CHARS.sub(" ", name).split()).strip(". ")


def clean_name(raw: object, extension: str) -> str:
    """A display name from the uploaded one: no path, no control or quoting characters, at most
    120 characters, always ending in the extension of the type found in the content."""
    name = _clean_text(raw)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem.strip(". ")[: NAME_MAX_LENGTH - len(extension) - 1].rstrip(". ") or "attachment"
    return f"{stem}.{extension}"


def _as_file(value) -> File:
    if isinstance(value, File):
        return value
    if isinstance(value, (bytes, bytearray)):
        return File(io.BytesIO(bytes(value)), name="attachment")
    if hasattr(value, "read") and hasattr(value, "seek"):
        return File(value, name=getattr(value, "name", "attachment"))
    raise AttachmentInvalid("That is not a file.")


def _size(upload: File) -> int:
    size = getattr(upload, "size", None)
    if not isinstance(size, int):
        upload.seek(0, os.SEEK_END)
        size = upload.tell()
    return size


def attachments_prepare(user, files) -> list[Attachment]:
    """Check uploaded files and return unsaved ``Attachment`` rows for ``message_post(attachments=...)``.

    Guarantees: at most 4 files; each at most 10 MB and non-empty; each really a
    JPEG, PNG, GIF or WebP image (opened and verified by Pillow, under a pixel cap)
    or a PDF, whatever its name or declared content type says (an SVG, an HTML or
    PHP file named ``.png``… are refused); width and height recorded for images;
    a random storage name; the original name sanitised (and given the extension of
    the real type). Nothing is written until the message is saved, and then only
    to the private attachment storage. Raises ``AttachmentInvalid`` (400) naming
    the offending file.
    """
    uploads = [] if files is None else list(files)
    if len(uploads) > ATTACHMENTS_PER_MESSAGE:
        raise AttachmentInvalid(f"Attach at most {ATTACHMENTS_PER_MESSAGE} files to a message.")
    prepared: list[Attachment] = []
    for raw in uploads:
        upload = _as_file(raw)
        shown = _clean_text(getattr(upload, "name", ""))[:NAME_MAX_LENGTH] or "attachment"
        size = _size(upload)
        if size <= 0:
            raise AttachmentInvalid(f"“{shown}” is empty.")
        if size > ATTACHMENT_MAX_BYTES:
            raise AttachmentInvalid(
                f"“{shown}” is {size / 1024 / 1024:.1f} MB; the limit is {ATTACHMENT_MAX_BYTES // (1024 * 1024)} MB."
            )
        try:
            sniffed = _sniff(upload)
        except AttachmentInvalid as exc:
            if exc.message == AttachmentInvalid.default_message:
                raise AttachmentInvalid(
                    f"“{shown}” is not an image (JPEG, PNG, GIF, WebP) or a PDF, so it can't be attached."
                ) from None
            raise AttachmentInvalid(f"“{shown}”: {exc.message}") from None
        try:
            stripped = _without_metadata(upload, sniffed)
        except DECODE_ERRORS:
            raise AttachmentInvalid(f"“{shown}”: that image is damaged or incomplete.") from None
        if stripped is not None:
            original_name = getattr(upload, "name", "")
            upload, size, sniffed = stripped
            upload.name = original_name
            if size > ATTACHMENT_MAX_BYTES:
                raise AttachmentInvalid(f"“{shown}” is too large once prepared; the limit is 10 MB.")
        storage_name = f"{uuid.uuid4().hex}.{sniffed.extension}"
        attachment = Attachment(
            storage_name=storage_name,
            original_name=clean_name(getattr(upload, "name", ""), sniffed.extension),
            content_type=sniffed.content_type,
            size=size,
            width=sniffed.width,
            height=sniffed.height,
        )
        # The bytes are written by FileField.pre_save when message_post saves the row: through the
        # private storage (set on this instance's FieldFile), under upload_to's
        # "<conversation>/<storage_name>". Streamed from the upload, not copied.
        upload.seek(0)
        attachment.file = File(upload, name=storage_name)
        attachment.file.storage = attachment_storage()
        prepared.append(attachment)
    return prepared


# --- Serving ---------------------------------------------------------------------------------


def attachment_for(user, pk) -> Attachment:
    """An attachment of a live (not deleted) message in a conversation the user is an active member of.

    Anything else — no such id, another conversation, a deleted message, a hidden
    1:1 thread — is ``AttachmentNotFound`` (404), never "forbidden".
    """
    if isinstance(pk, str) and pk.isascii() and pk.isdigit() and len(pk) <= 19:
        pk = int(pk)
    if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2**63:
        raise AttachmentNotFound()
    found = Attachment.objects.filter(pk=pk).values_list("message_id", flat=True).first()
    if found is None:
        raise AttachmentNotFound()
    try:
        message, _ = message_for(user, found)
    except MessageNotFound:
        raise AttachmentNotFound() from None
    if message.deleted_at is not None:
        raise AttachmentNotFound()
    attachment = Attachment.objects.filter(pk=pk, message_id=message.pk).first()
    if attachment is None:
        raise AttachmentNotFound()
    return attachment


def attachment_response(attachment: Attachment) -> FileResponse:
    """Stream ``attachment`` with its recorded type: images inline, PDFs as a download, nothing active."""
    try:
        handle = attachment_storage().open(attachment.file.name, "rb")
    except (FileNotFoundError, OSError, ValueError):
        raise Http404("No such attachment.") from None
    response = FileResponse(
        handle,
        content_type=attachment.content_type,
        as_attachment=not attachment.is_image,
        filename=attachment.original_name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_safe
@login_required
def attachment_download(request, pk: int):
    """``/messages/attachments/<pk>/``: the file, for active members of its conversation only (else 404)."""
    try:
        attachment = attachment_for(request.user, pk)
    except NotFound:
        raise Http404("No such attachment.") from None
    return attachment_response(attachment)


__all__ = [
    "ATTACHMENTS_PER_MESSAGE",
    "ATTACHMENT_MAX_BYTES",
    "AttachmentInvalid",
    "AttachmentNotFound",
    "PrivateAttachmentStorage",
    "attachment_download",
    "attachment_for",
    "attachment_response",
    "attachment_storage",
    "attachments_prepare",
    "clean_name",
]

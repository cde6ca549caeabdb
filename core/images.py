"""Checking uploaded images from their bytes, and stripping their metadata (shared by every app).

- ``sniff_image(handle)`` says what an upload really is: a JPEG, PNG, GIF or WebP image that
  Pillow opens and verifies — only those four decoders are tried, so exotic parsers never see
  user bytes — under a pixel cap (decompression bombs) and a frame cap (animations), with its
  width and height; ``None`` when it is not one of those images at all. A damaged file or a
  bomb raises ``ImageInvalid``.
- ``strip_metadata(upload, sniffed)`` re-encodes a still JPEG, PNG or WebP without EXIF, XMP,
  ICC comments or text chunks (a phone photo's EXIF carries its GPS position), applying the
  EXIF rotation first. GIFs and animations are kept as uploaded (no camera metadata;
  re-encoding would lose frames).

The file name and the declared content type are never trusted. Callers (messaging
attachments, post images) add their own size and count limits and error wording.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from struct import error as struct_error

from django.core.files.base import File
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ValidationFailed

# Width × height of one frame; a 10 MB PNG can otherwise claim 100,000 × 100,000 pixels.
IMAGE_MAX_PIXELS = 50_000_000
# Animated GIF/WebP: frames × pixels, what a browser would have to decode.
IMAGE_MAX_TOTAL_PIXELS = 400_000_000
IMAGE_MAX_FRAMES = 1_000

# Pillow format name -> (content type, file extension). Nothing else is accepted as an image.
IMAGE_TYPES = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}

#: What Pillow may raise on a damaged or truncated file.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, TypeError, IndexError, struct_error)


class ImageInvalid(ValidationFailed):
    code = "invalid_image"
    default_message = "That image is damaged or incomplete."


@dataclass(frozen=True)
class SniffedImage:
    """What the bytes are: the content type and extension of the format found, and its size in pixels."""

    content_type: str
    extension: str
    width: int | None = None
    height: int | None = None


def sniff_image(handle) -> SniffedImage | None:
    """The image's type and size if Pillow recognises one of the four formats, else None.

    Raises ``ImageInvalid`` for a bomb (too many pixels or frames) or a damaged file.
    Reads ``handle`` from its start; leaves its position anywhere.
    """
    handle.seek(0)
    try:
        with Image.open(handle, formats=list(IMAGE_TYPES)) as probe:
            image_format = probe.format
            width, height = probe.size
            if width < 1 or height < 1 or width * height > IMAGE_MAX_PIXELS:
                raise ImageInvalid(
                    f"That image is too large ({width} × {height} pixels); the limit is "
                    f"{IMAGE_MAX_PIXELS // 1_000_000} megapixels."
                )
            frames = getattr(probe, "n_frames", 1) or 1
            if frames > IMAGE_MAX_FRAMES or frames * width * height > IMAGE_MAX_TOTAL_PIXELS:
                raise ImageInvalid("That animation has too many frames or pixels.")
            probe.verify()
    except ImageInvalid:
        raise
    except UnidentifiedImageError:
        return None
    except Image.DecompressionBombError:
        raise ImageInvalid("That image is too large to open.") from None
    except DECODE_ERRORS:
        raise ImageInvalid("That image is damaged or incomplete.") from None
    content_type, extension = IMAGE_TYPES[image_format]
    return SniffedImage(content_type, extension, width, height)


# Still photos are re-encoded without metadata.
_STRIP_FORMATS = {
    "image/jpeg": ("JPEG", {"quality": 90}),
    "image/png": ("PNG", {}),
    "image/webp": ("WEBP", {"quality": 90}),
}


def strip_metadata(upload, sniffed: SniffedImage) -> tuple[File, int, SniffedImage] | None:
    """``(file, size, sniffed)``: the image re-encoded with no EXIF/XMP/text chunks (rotation applied),
    or None to keep it as is (GIFs, animations). May raise one of ``DECODE_ERRORS`` on a damaged file.
    """
    target = _STRIP_FORMATS.get(sniffed.content_type)
    if target is None:
        return None
    upload.seek(0)
    with Image.open(upload, formats=list(IMAGE_TYPES)) as image:
        if getattr(image, "n_frames", 1) > 1:
            return None
        image = ImageOps.exif_transpose(image)  # a copy, with the orientation applied
        if target[0] == "JPEG" and image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        # Keep only what draws the picture; EXIF, XMP, ICC comments and text chunks go.
        image.info = {k: v for k, v in image.info.items() if k in ("transparency", "gamma", "dpi")}
        buffer = io.BytesIO()
        image.save(buffer, format=target[0], **target[1])
        width, height = image.size
    size = buffer.tell()
    buffer.seek(0)
    return File(buffer, name="image"), size, SniffedImage(sniffed.content_type, sniffed.extension, width, height)


def as_file(value) -> File | None:
    """``value`` (an upload, a file object or bytes) as a Django ``File``; None when it is none of those."""
    if isinstance(value, File):
        return value
    if isinstance(value, (bytes, bytearray)):
        return File(io.BytesIO(bytes(value)), name="upload")
    if hasattr(value, "read") and hasattr(value, "seek"):
        return File(value, name=getattr(value, "name", "upload"))
    return None


def file_size(upload: File) -> int:
    """The upload's size in bytes (its ``size``, else measured by seeking to the end)."""
    size = getattr(upload, "size", None)
    if not isinstance(size, int):
        upload.seek(0, os.SEEK_END)
        size = upload.tell()
    return size


__all__ = [
    "DECODE_ERRORS",
    "IMAGE_MAX_FRAMES",
    "IMAGE_MAX_PIXELS",
    "IMAGE_MAX_TOTAL_PIXELS",
    "IMAGE_TYPES",
    "ImageInvalid",
    "SniffedImage",
    "as_file",
    "file_size",
    "sniff_image",
    "strip_metadata",
]

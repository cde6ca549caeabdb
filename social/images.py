"""Post images: checked from their bytes (``core.images``), stored privately, served after a visibility check.

- ``post_images_prepare(files)`` validates uploads and returns unsaved ``PostImage`` rows;
  ``social.services.posts.post_create(images=...)`` saves them with the post, in its transaction.
- ``post_image_for(viewer, post_id=, position=)`` returns an image only when its post is
  visible **and** unlocked for the viewer (404 otherwise: never "forbidden", never a leak).
- ``post_image_response(image)`` streams it with headers that let nothing in it run.

Accepted: JPEG, PNG, GIF and WebP images that Pillow opens and verifies (pixel and frame caps),
at most 10 MB each, at most 4 per post. Still images are re-encoded without EXIF/XMP (a phone
photo's GPS position never leaves the uploader). Files live under ``PRIVATE_MEDIA_ROOT/posts/<post
id>/<random hex>.<ext>``; the uploaded file name is never used.
"""

from __future__ import annotations

import uuid

from django.core.files.base import File
from django.http import FileResponse, Http404

from core.errors import NotFound, ValidationFailed
from core.images import DECODE_ERRORS, ImageInvalid, as_file, file_size, sniff_image, strip_metadata

from .models import POST_MAX_IMAGES, PostImage, post_image_storage
from .selectors import parse_post_id
from .visibility import unlocked_q, visible_posts

IMAGE_MAX_BYTES = 10 * 1024 * 1024
IMAGE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


class PostImageInvalid(ValidationFailed):
    code = "invalid_image"
    default_message = "Add JPEG, PNG, GIF or WebP images of at most 10 MB."

    def __init__(self, message: str | None = None):
        super().__init__(message, fields={"images": [message or self.default_message]})


class PostImageNotFound(NotFound):
    code = "image_not_found"
    default_message = "That image does not exist."


def post_images_prepare(files) -> list[PostImage]:
    """Check uploaded images and return unsaved ``PostImage`` rows (for ``post_create(images=...)``).

    Guarantees: at most 4; each non-empty, at most 10 MB, really a JPEG, PNG, GIF or WebP image
    (whatever its name or declared type; SVG, HTML... are refused), under the pixel caps; still
    images re-encoded without metadata (EXIF rotation applied); width, height, size and content
    type recorded; a random storage name ``<hex>.<ext>``. Nothing is written until the post is
    saved. Raises ``PostImageInvalid`` (400, ``fields={"images": [...]}``) naming the image.
    """
    uploads = [] if files is None else list(files)
    if len(uploads) > POST_MAX_IMAGES:
        raise PostImageInvalid(f"Add at most {POST_MAX_IMAGES} images to a post.")
    prepared: list[PostImage] = []
    for number, raw in enumerate(uploads, start=1):
        upload = as_file(raw)
        if upload is None:
            raise PostImageInvalid(f"Image {number} is not a file.")
        size = file_size(upload)
        if size <= 0:
            raise PostImageInvalid(f"Image {number} is empty.")
        if size > IMAGE_MAX_BYTES:
            raise PostImageInvalid(
                f"Image {number} is {size / 1024 / 1024:.1f} MB; the limit is {IMAGE_MAX_BYTES // (1024 * 1024)} MB."
            )
        try:
            sniffed = sniff_image(upload)
        except ImageInvalid as exc:
            raise PostImageInvalid(f"Image {number}: {exc.message}") from None
        if sniffed is None:
            raise PostImageInvalid(f"Image {number} is not a JPEG, PNG, GIF or WebP image.")
        try:
            stripped = strip_metadata(upload, sniffed)
        except DECODE_ERRORS:
            raise PostImageInvalid(f"Image {number} is damaged or incomplete.") from None
        if stripped is not None:
            upload, size, sniffed = stripped
            if size > IMAGE_MAX_BYTES:
                raise PostImageInvalid(f"Image {number} is too large once prepared; the limit is 10 MB.")
        name = f"{uuid.uuid4().hex}.{sniffed.extension}"
        image = PostImage(
            position=number - 1,
            content_type=sniffed.content_type,
            width=sniffed.width,
            height=sniffed.height,
            size=size,
        )
        upload.seek(0)
        # Written by FileField.pre_save when post_create saves the row: "<post id>/<name>", private storage.
        image.file = File(upload, name=name)
        image.file.storage = post_image_storage()
        prepared.append(image)
    return prepared


def post_image_for(viewer, *, post_id, position) -> PostImage:
    """Image ``position`` (0-based) of post ``post_id``, if the post is visible and unlocked for ``viewer``.

    Anything else — bad ids, no such image, a deleted, hidden, protected, blocked or locked
    subscribers-only post, an image of a repost row — is ``PostImageNotFound`` (404).
    """
    pk = parse_post_id(post_id)
    if isinstance(position, str) and position.isascii() and position.isdigit() and len(position) <= 2:
        position = int(position)
    if pk is None or isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < 4:
        raise PostImageNotFound()
    allowed = visible_posts(viewer).filter(unlocked_q(viewer)).filter(pk=pk)
    image = PostImage.objects.filter(post__in=allowed, position=position).first()
    if image is None:
        raise PostImageNotFound()
    return image


def post_image_response(image: PostImage) -> FileResponse:
    """Stream ``image`` inline with its recorded type; nothing in it may run, load or frame anything."""
    try:
        handle = post_image_storage().open(image.file.name, "rb")
    except (FileNotFoundError, OSError, ValueError):
        raise Http404("No such image.") from None
    response = FileResponse(handle, content_type=image.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = IMAGE_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    # Private: visibility can change (a block, a lapsed subscription); never in shared caches.
    response["Cache-Control"] = "private, max-age=3600"
    return response


__all__ = [
    "IMAGE_MAX_BYTES",
    "PostImageInvalid",
    "PostImageNotFound",
    "post_image_for",
    "post_image_response",
    "post_images_prepare",
]

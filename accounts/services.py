"""Actions that change a person's account: the profile and the avatar.

Views, the API and the admin stay thin and call these.
"""

from __future__ import annotations

import io
import uuid
import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ValidationFailed
from core.money import CURRENCIES

from .models import TIME_ZONE_CHOICES, US_STATES, MessagePolicy, User
from .social import follow_requests_approve_all

AVATAR_MAX_BYTES = 2 * 1024 * 1024
AVATAR_SIZE = 256
AVATAR_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}
# Refuse absurd dimensions before decoding: a tiny file can claim a gigantic canvas.
AVATAR_MAX_PIXELS = 40_000_000

_TIME_ZONES = frozenset(tz for tz, _ in TIME_ZONE_CHOICES)
_US_STATES = frozenset(code for code, _ in US_STATES)
_UNSET: Any = object()

PROFILE_FIELDS = ("display_name", "bio", "home_currency", "country", "state", "time_zone", "message_policy")


class AvatarInvalid(ValidationFailed):
    code = "invalid_avatar"
    default_message = "Upload a JPEG, PNG, GIF or WebP image of at most 2 MB."

    def __init__(self, message: str | None = None):
        super().__init__(message, fields={"avatar": [message or self.default_message]})


def avatar_process(file) -> ContentFile:
    """Check an uploaded avatar and re-encode it as a 256×256 square.

    Guarantees: the result is a freshly encoded PNG (images with transparency) or JPEG
    (everything else) of exactly 256×256 pixels with no metadata (EXIF, GPS, comments)
    carried over, named with a random file name. Refuses — with ``AvatarInvalid`` —
    files over 2 MB, anything that Pillow does not recognise as a JPEG, PNG, GIF or WebP
    image (whatever its file name says), and decompression bombs.
    """
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, io.SEEK_END)
        size = file.tell()
    if size > AVATAR_MAX_BYTES:
        raise AvatarInvalid(f"That image is {size / 1024 / 1024:.1f} MB; the limit is 2 MB.")
    if size == 0:
        raise AvatarInvalid("That file is empty.")

    try:
        file.seek(0)
        with Image.open(file) as probe:
            image_format = probe.format
            width, height = probe.size
            probe.verify()  # structural check without decoding the pixels
        if image_format not in AVATAR_FORMATS:
            raise AvatarInvalid("Only JPEG, PNG, GIF and WebP images can be used as an avatar.")
        if width * height > AVATAR_MAX_PIXELS:
            raise AvatarInvalid("That image is too large in pixels; use one under 40 megapixels.")
        file.seek(0)
        with Image.open(file) as image:
            image.seek(0)  # first frame of an animation
            image = ImageOps.exif_transpose(image)  # honour the camera's rotation, then drop EXIF
            has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
            image = image.convert("RGBA" if has_alpha else "RGB")
            square = ImageOps.fit(image, (AVATAR_SIZE, AVATAR_SIZE), method=Image.Resampling.LANCZOS)
    except AvatarInvalid:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise AvatarInvalid("That file is not an image we can read: use a JPEG, PNG, GIF or WebP.") from None
    except (OSError, ValueError, SyntaxError):
        raise AvatarInvalid("That image is damaged or incomplete; try another file.") from None

    out = io.BytesIO()
    if has_alpha:
        square.save(out, format="PNG", optimize=True)
        extension = "png"
    else:
        square.save(out, format="JPEG", quality=88, optimize=True)
        extension = "jpg"
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.{extension}")


def _check_profile(user: User, changed: set[str]) -> None:
    """The profile rules that span fields; raises ValidationFailed with per-field messages."""
    errors: dict[str, list[str]] = {}
    if "home_currency" in changed and user.home_currency not in CURRENCIES:
        errors["home_currency"] = ["That currency is not supported."]
    if "time_zone" in changed and (user.time_zone not in _TIME_ZONES or not _zone_exists(user.time_zone)):
        errors["time_zone"] = ["Choose a time zone from the list."]
    if "website" in changed and user.website and not user.website.lower().startswith(("http://", "https://")):
        errors["website"] = ["Give a web address starting with http:// or https://."]
    if "message_policy" in changed and user.message_policy not in MessagePolicy.values:
        errors["message_policy"] = ["Choose who may message you: everyone, people you follow, or nobody."]
    if changed & {"country", "state"}:
        country = str(user.country or "")
        if country == "US":
            if not user.state:
                errors["state"] = ["Choose your state: it is required for addresses in the United States."]
            elif user.state not in _US_STATES:
                errors["state"] = ["Choose a US state from the list."]
        elif user.state:
            errors["state"] = ["A state can only be given when the country is the United States."]
    try:
        user.clean_fields(exclude={f.name for f in user._meta.fields} - (changed - ({"message_policy"} & set(errors))))
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(m for m in messages if m not in errors.get(field, []))
    if errors:
        raise ValidationFailed("Some of the profile details are not valid.", code="invalid_profile", fields=errors)


def _zone_exists(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def profile_update(
    user: User,
    *,
    display_name: str = _UNSET,
    bio: str = _UNSET,
    home_currency: str = _UNSET,
    country: str = _UNSET,
    state: str = _UNSET,
    time_zone: str = _UNSET,
    message_policy: str = _UNSET,
    website: str = _UNSET,
    is_protected: bool = _UNSET,
    avatar=_UNSET,
    remove_avatar: bool = False,
) -> User:
    """Change the given profile fields of ``user``; fields not passed stay as they are.

    Guarantees: all or nothing — either every given field is valid and saved in one
    UPDATE, or ``ValidationFailed`` (code ``invalid_profile``/``invalid_avatar``, with
    per-field messages) is raised and ``user`` is left unchanged, in memory and in the
    database. The country/state rule applies whenever either changes: a US address needs
    a state, any other country none. ``avatar`` is an uploaded file (checked and
    re-encoded by ``avatar_process``) or an already processed ``ContentFile``;
    ``remove_avatar`` clears it. The replaced avatar file is deleted after commit.
    ``message_policy`` (``MessagePolicy``: everyone/following/nobody) says whose new
    conversations reach the inbox; messaging reads it. ``website`` is an http(s) link
    (or empty). ``is_protected`` makes new followers ask first; turning it off approves
    every pending follow request in the same transaction (``social.follow_requests_approve_all``).
    The person themself (or staff acting for them) may call this.
    """
    values = {
        "display_name": display_name,
        "bio": bio,
        "home_currency": home_currency,
        "country": country,
        "state": state,
        "time_zone": time_zone,
        "message_policy": message_policy,
        "website": website,
        "is_protected": is_protected,
    }
    given = {name: value for name, value in values.items() if value is not _UNSET}
    if "display_name" in given:
        given["display_name"] = " ".join(str(given["display_name"] or "").split())
    if "bio" in given:
        given["bio"] = str(given["bio"] or "").strip()
    if "website" in given:
        given["website"] = str(given["website"] or "").strip()
    if "is_protected" in given:
        given["is_protected"] = bool(given["is_protected"])
    if "message_policy" in given:
        given["message_policy"] = str(given["message_policy"] or "").strip().lower()
    for name in ("home_currency", "state"):
        if name in given:
            given[name] = str(given[name] or "").strip().upper()
    if "country" in given:
        given["country"] = str(given["country"] or "").strip().upper()
        if given["country"] != "US" and "state" not in given:
            given["state"] = ""  # moving abroad drops the US state

    new_avatar = None
    if avatar is not _UNSET and avatar is not None:
        new_avatar = avatar if _is_processed(avatar) else avatar_process(avatar)

    before = {name: getattr(user, name) for name in given}
    for name, value in given.items():
        setattr(user, name, value)
    # The address rule is checked only when the address changes: an account that never gave a
    # state (new accounts default to the US) can still save its other settings.
    address_same = all(str(before[n] or "") == str(given[n] or "") for n in ("country", "state") if n in given)
    try:
        _check_profile(user, set(given) - {"country", "state"} if address_same else set(given))
    except ValidationFailed:
        for name, value in before.items():
            setattr(user, name, value)
        raise

    update_fields = list(given)
    unprotecting = before.get("is_protected") is True and given.get("is_protected") is False
    old_avatar_name = user.avatar.name if user.avatar else ""
    with transaction.atomic():
        if new_avatar is not None:
            user.avatar.save(new_avatar.name, new_avatar, save=False)
            update_fields.append("avatar")
        elif remove_avatar and old_avatar_name:
            user.avatar = ""
            update_fields.append("avatar")
        if update_fields:
            user.save(update_fields=update_fields)
        if unprotecting:
            follow_requests_approve_all(user)
        if "avatar" in update_fields and old_avatar_name:
            storage = user.avatar.storage
            transaction.on_commit(lambda: storage.delete(old_avatar_name))
    return user


def _is_processed(file) -> bool:
    return isinstance(file, ContentFile) and getattr(file, "_everything_processed", False)


def avatar_prepare(file) -> ContentFile:
    """``avatar_process`` and mark the result so ``profile_update`` does not redo it."""
    processed = avatar_process(file)
    processed._everything_processed = True
    return processed

"""Private file storage: files under ``PRIVATE_MEDIA_ROOT/<folder>``, never under MEDIA_URL.

Files stored here have no public URL: an app serves them through a view that checks who
may see them (message attachments, images of protected or subscriber-only posts).
The location is read at use, not frozen at import, so tests can point it elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible


@deconstructible(path="core.storage.PrivateStorage")
class PrivateStorage(FileSystemStorage):
    def __init__(self, folder: str):
        self.folder = folder
        super().__init__(base_url=None)

    @property
    def base_location(self):
        return str(Path(settings.PRIVATE_MEDIA_ROOT) / self.folder)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("Private files have no public URL; serve them through an access-checked view.")

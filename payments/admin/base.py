"""Shared pieces of the wallet's admin."""

from __future__ import annotations

from django.contrib.admin.options import IncorrectLookupParameters
from django.db import DataError


class SafeLookupsMixin:
    """A changelist filter the database cannot run (``?status=%00`` on PostgreSQL, a year past 9999)
    is "wacky lookup parameters" — the admin's own redirect to ``?e=1`` — never a 500."""

    def get_changelist_instance(self, request):
        try:
            return super().get_changelist_instance(request)
        except (DataError, OverflowError, ValueError) as exc:
            raise IncorrectLookupParameters(exc) from exc
